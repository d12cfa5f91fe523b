"""Telegram through python-telegram-bot's Bot: sends and in-place edits from the outbox."""
from __future__ import annotations

import asyncio
import time
import warnings
from datetime import timedelta

import httpx
from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter
from telegram.warnings import PTBDeprecationWarning

from bot.channels import CannotTell, Channel, Outgoing, SendResult


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


def never_left(exc: Exception) -> bool:
    """True when the request surely did not reach Telegram (no connection, or none free)."""
    return isinstance(exc.__cause__, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))


def retry_after_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # an int is deprecated in favour of timedelta; either is fine here
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class TelegramChannel(Channel):
    """Telegram's limits, kept by us before a send starts: about 30 messages a second in all
    (``max_rate``, applied by the dispatcher), one a second per private chat and 20 a minute per
    group. AIORateLimiter stays underneath as a safety net, but waiting in it would look like an
    unfinished send if the process died there, so the waiting happens here instead."""

    name = "telegram"
    max_rate = 30.0
    paced = True  # one a second per private chat, 20 a minute per group: see pace
    askable = False  # the Bot API cannot list sent messages: see find_sent

    def __init__(self, bot):
        self._bot = bot
        self._next_per_chat: dict[str, float] = {}
        self._lock = asyncio.Lock()

    async def pace(self, msg: Outgoing) -> None:
        """Wait for this chat's turn. The dispatcher calls it before checking its claim still
        covers the send, so a long wait can never push a send past the claim."""
        async with self._lock:
            now = time.monotonic()
            at = max(now, self._next_per_chat.get(msg.address, 0.0))
            self._next_per_chat[msg.address] = at + (3.0 if msg.address.startswith("-") else 1.0)
        if at > now:
            await asyncio.sleep(at - now)

    async def send(self, msg: Outgoing) -> SendResult:
        payload = msg.payload or {}
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
        except NetworkError as exc:  # TimedOut included
            if never_left(exc):
                return SendResult("retry", error_code="network", error_message=type(exc.__cause__).__name__,
                                  outage=True)
            # The request may have reached Telegram: in doubt, never blindly send again.
            return SendResult("unknown", error_code="transport", error_message=type(exc.__cause__ or exc).__name__,
                              outage=True)
        message_id = getattr(result, "message_id", None)
        return SendResult("sent", provider_id=f"tg:{msg.address}:{message_id}" if message_id else None,
                          status="delivered")

    async def find_sent(self, msg: Outgoing) -> str | None:
        # The Bot API cannot list what a bot sent. Sending again could send twice, so the
        # dispatcher marks the message unconfirmed and tells the team instead.
        raise CannotTell("the Telegram Bot API cannot list sent messages")
