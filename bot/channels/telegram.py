"""Telegram through python-telegram-bot's Bot: sends and in-place edits from the outbox."""
from __future__ import annotations

import asyncio
import time
import warnings
from datetime import timedelta

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton, ReplyKeyboardMarkup, \
    ReplyKeyboardRemove
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.warnings import PTBDeprecationWarning

from bot.channels import Outgoing, SendResult


def markup(spec: dict | None):
    """Build reply_markup from the plain data stored in the outbox payload."""
    if not spec:
        return None
    if "inline" in spec:
        return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=data) for label, data in row]
                                     for row in spec["inline"]])
    if "contact_button" in spec:
        return ReplyKeyboardMarkup([[KeyboardButton(spec["contact_button"], request_contact=True)]],
                                   one_time_keyboard=True, resize_keyboard=True)
    if spec.get("remove_keyboard"):
        return ReplyKeyboardRemove()
    return None


def retry_after_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # an int is deprecated in favour of timedelta; either is fine here
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class TelegramChannel:
    """At most one message per second per chat (Telegram's limit), on top of AIORateLimiter's global ones."""

    name = "telegram"

    def __init__(self, bot):
        self._bot = bot
        self._next_per_chat: dict[str, float] = {}
        self._lock = asyncio.Lock()

    async def _pace(self, chat: str) -> None:
        async with self._lock:
            now = time.monotonic()
            at = max(now, self._next_per_chat.get(chat, 0.0))
            self._next_per_chat[chat] = at + 1.0
        if at > now:
            await asyncio.sleep(at - now)

    async def send(self, msg: Outgoing) -> SendResult:
        payload = msg.payload or {}
        await self._pace(msg.address)
        try:
            if payload.get("edit_message_id"):
                result = await self._bot.edit_message_text(
                    chat_id=msg.address, message_id=payload["edit_message_id"], text=msg.body,
                    reply_markup=markup(payload.get("reply_markup")))
            else:
                result = await self._bot.send_message(chat_id=msg.address, text=msg.body,
                                                      reply_markup=markup(payload.get("reply_markup")))
        except RetryAfter as exc:
            return SendResult("retry", error_code="429", error_message="rate limited",
                              retry_after=retry_after_seconds(exc))
        except Forbidden:
            return SendResult("failed", error_code="403", error_message="blocked")
        except BadRequest as exc:
            if "message is not modified" in str(exc).lower():
                return SendResult("sent", status="delivered")
            return SendResult("failed", error_code="400", error_message="bad_request")
        except TimedOut:
            return SendResult("unknown", error_code="timeout", error_message="TimedOut")
        except NetworkError as exc:
            return SendResult("retry", error_code="network", error_message=type(exc).__name__)
        message_id = getattr(result, "message_id", None)
        return SendResult("sent", provider_id=f"tg:{msg.address}:{message_id}" if message_id else None,
                          status="delivered")

    async def find_sent(self, msg: Outgoing) -> str | None:
        # The Bot API cannot list what a bot sent: an ambiguous send is sent again (documented).
        return None
