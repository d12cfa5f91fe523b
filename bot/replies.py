"""How a reply looks on each channel that answers through the outbox (every one but an SMS answered
inline, whose TwiML is webhooks.twilio's): Telegram shows a reply's intent as a keyboard, the
simulator shows plain text. Pure: rows out, the caller enqueues them in its transaction."""
from __future__ import annotations

from datetime import datetime

from core.catalogue import render
from core.channels import TELEGRAM, outbox_row
from core.replies import ConfirmRemindAll, RemoveKeyboard, Reply, ShareNumber, StatusFilters
from handlers.router import Handled, InboundText

FILTERS = ("ready", "off", "no_mobile", "all")  # STATUS's filters, in the order the buttons show them


def status_keyboard(month_key: str, locale: str = "sv") -> dict:
    def button(key: str) -> tuple[str, str]:
        return render(locale, f"tg.filter.{key}"), f"st:{month_key}:{key}"

    return {"inline": [
        [button(key) for key in FILTERS[:2]],
        [button(key) for key in FILTERS[2:]],
        [(render(locale, "tg.remind_all"), f"rm:{month_key}")],
    ]}


def reply_markup(reply: Reply) -> dict | None:
    """What a reply's intent looks like in Telegram (bot.channels.telegram turns it into Bot API markup)."""
    intent, locale = reply.intent, reply.locale
    if isinstance(intent, StatusFilters):
        return status_keyboard(intent.month_key, locale)
    if isinstance(intent, ConfirmRemindAll):
        return {"inline": [[(render(locale, "tg.yes"), f"rmok:{intent.month_key}"),
                            (render(locale, "tg.cancel"), f"st:{intent.month_key}:ready")]]}
    if isinstance(intent, ShareNumber):
        return {"contact_button": render(locale, "account.share_button")}
    if isinstance(intent, RemoveKeyboard):
        return {"remove_keyboard": True}
    return None


def telegram_payload(reply: Reply) -> dict | None:
    """The outbox payload for a Telegram reply: its markup, and the message it edits in place if any."""
    markup = reply_markup(reply)
    if reply.edit_message is not None:
        return {"edit_message_id": reply.edit_message, "reply_markup": markup}
    return {"reply_markup": markup} if markup is not None else None


def telegram_rows(update_id: str, chat: str, replies: list[Reply], now: datetime) -> list[dict]:
    """Outbox rows for the replies to one Telegram update, to the chat it came from."""
    return [outbox_row(key=f"tg-reply:{update_id}:{n}", channel=TELEGRAM, address=chat, body=reply.text,
                       kind="reply", now=now, payload=telegram_payload(reply))
            for n, reply in enumerate(replies)]


def reply_rows(text: InboundText, handled: Handled, now: datetime) -> list[dict]:
    """The outbox rows that answer ``text``: none when it is answered inline (``reply_to`` None) or was
    a repeat (answered the first time). A reply goes back the way the text came, whatever the
    person's usual route."""
    if text.reply_to is None or not handled.new:
        return []
    if text.channel == TELEGRAM:
        return telegram_rows(text.provider_id, text.reply_to, handled.replies, now)
    people = handled.people
    return [outbox_row(key=f"reply:{text.provider_id}:{n}", channel=text.channel, address=text.reply_to,
                       body=reply.text, kind="reply", now=now, org_id=people[0].org_id if people else None,
                       staff_id=people[0].id if people else None)
            for n, reply in enumerate(handled.replies)]
