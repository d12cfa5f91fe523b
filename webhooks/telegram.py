"""Telegram, the whole channel in one module: how a reply looks there (its intent as a keyboard), the
webhook (secret checked in constant time, every update stored before it is acted on), the updates
handled through python-telegram-bot's Application, and the send (and in-place edits) from the outbox.

PTB handlers are thin shims: they hand text to the same channel-agnostic handlers as SMS,
and every reply goes out through the outbox (recorded, retried, never sent twice).
"""
from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import time
import warnings
from contextvars import ContextVar
from datetime import datetime, timedelta

import httpx
from aiohttp import web
from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter
from telegram.ext import (
    AIORateLimiter,
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBDeprecationWarning

from core import commands as cmd
from core import store
from core.catalogue import render
from core.channels import TELEGRAM, CannotTell, Channel, Outgoing, SendResult, outbox_row
from core.months import MonthSpec, month_label
from core.replies import ConfirmRemindAll, RemoveKeyboard, Reply, ShareNumber, StatusFilters
from handlers import account, coordinator
from handlers.account import choose_channel, link_chat_account, make_team_chat, month_from_key
from handlers.context import is_coordinator
from handlers.router import InboundText
from webhooks.intake import JSONRefused, parse_json, read_body
from webhooks.keys import SERVICES

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------- how a reply looks

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
    """What a reply's intent looks like in Telegram (``markup`` below turns it into Bot API markup)."""
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
    spec = reply_markup(reply)
    if reply.edit_message is not None:
        return {"edit_message_id": reply.edit_message, "reply_markup": spec}
    return {"reply_markup": spec} if spec is not None else None


def telegram_rows(update_id: str, chat: str, replies: list[Reply], now: datetime) -> list[dict]:
    """Outbox rows for the replies to one Telegram update, to the chat it came from."""
    return [outbox_row(key=f"tg-reply:{update_id}:{n}", channel=TELEGRAM, address=chat, body=reply.text,
                       kind="reply", now=now, payload=telegram_payload(reply))
            for n, reply in enumerate(replies)]


# ---------------------------------------------------------------- the webhook

MAX_BODY = 1024 * 1024


async def telegram_update(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    tg = services.telegram
    secret = services.settings.telegram_webhook_secret or ""
    given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
    if tg is None or not secret or not hmac.compare_digest(given.encode(), secret.encode()):
        services.metrics.rejected.labels("telegram", "secret").inc()
        raise web.HTTPForbidden(text="wrong or missing secret token")
    raw = await read_body(request, MAX_BODY, "a Telegram update")
    try:
        data = parse_json(raw)
    except JSONRefused as exc:
        services.metrics.rejected.labels("telegram", "malformed").inc()
        raise web.HTTPBadRequest(text=str(exc)) from None
    update_id = data.get("update_id") if isinstance(data, dict) else None
    if not isinstance(update_id, int) or isinstance(update_id, bool) or not 0 <= update_id < 2 ** 63:
        services.metrics.rejected.labels("telegram", "malformed").inc()
        raise web.HTTPBadRequest(text="an update needs an integer update_id")
    await accept_update(services, data, raw.decode("utf-8"))
    return web.Response(status=200)


def setup(app: web.Application) -> None:
    app.router.add_post("/webhooks/telegram", telegram_update)


# ---------------------------------------------------------------- updates, through PTB's Application

MAX_UPDATE_TRIES = 3
# The exceptions PTB's error handler saw during the current process_raw_update (PTB runs handlers inline).
_HANDLER_ERRORS: ContextVar[list[BaseException] | None] = ContextVar("paminn_handler_errors", default=None)
UPDATE_TYPES = ["message", "callback_query"]


def build_application(settings, services) -> Application:
    # Opt in to v23's timedelta retry_after (our adapter reads either); without it PTB's own rate
    # limiter warns on every 429.
    os.environ.setdefault("PTB_TIMEDELTA", "1")
    base = settings.telegram_api_base
    file_base = base[:-4] + "/file/bot" if base.endswith("/bot") else base + "/file"
    app = (Application.builder().token(settings.telegram_bot_token).base_url(base).base_file_url(file_base)
           .updater(None).job_queue(None).rate_limiter(AIORateLimiter(max_retries=0)).build())
    app.bot_data["services"] = services
    app.add_handler(CommandHandler("start", on_start))
    app.add_handler(CommandHandler("teamchat", on_teamchat))
    app.add_handler(CommandHandler("kanal", on_channel))
    app.add_handler(CommandHandler(["paminn", "pamind", "remind", "status", "rapport", "report", "hjalp", "hjelp",
                                    "help"], on_text))
    app.add_handler(MessageHandler(filters.CONTACT & filters.ChatType.PRIVATE, on_contact))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND & filters.ChatType.PRIVATE, on_text))
    app.add_handler(CallbackQueryHandler(on_button))
    app.add_error_handler(_record_error)
    return app


def _services(context: ContextTypes.DEFAULT_TYPE):
    return context.application.bot_data["services"]


async def _once(ctx, update: Update, body: str) -> bool:
    """Claim this update's action in the current transaction; False if it was already acted on."""
    user = update.effective_user
    new, _ = await store.claim_inbound(ctx.session, [{
        "channel": TELEGRAM, "provider_id": str(update.update_id), "sender": str(user.id if user else 0),
        "body": body, "received_at": ctx.now}])
    return bool(new)


def _answer_rows(services, update: Update, replies: list[Reply]) -> list[dict]:
    """Outbox rows for the replies to an update, to the chat it came from."""
    return telegram_rows(str(update.update_id), str(update.effective_chat.id), replies, services.clock())


async def _act_once(update: Update, context: ContextTypes.DEFAULT_TYPE, body: str, act) -> None:
    """Run ``act(ctx) -> replies`` once per update, queue its replies, and ask for a dispatch."""
    services = _services(context)
    async with services.sessions.begin() as session:
        ctx = services.context(session)
        if not await _once(ctx, update, body):
            return
        replies = await act(ctx)
        await ctx.enqueue(_answer_rows(services, update, replies))
    services.kick()


async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if update.effective_chat.type != "private":
        return
    await _act_once(update, context, "/start", lambda ctx: account.start(ctx, update.effective_user.id))


async def on_contact(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    contact = update.effective_message.contact
    await _act_once(update, context, "contact", lambda ctx: link_chat_account(
        ctx, update.effective_user.id, contact.user_id, contact.phone_number))


async def on_teamchat(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    chat = update.effective_chat
    address = None if chat.type == "private" else f"{TELEGRAM}:{chat.id}"
    await _act_once(update, context, "/teamchat", lambda ctx: make_team_chat(ctx, update.effective_user.id, address))


async def on_channel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    wanted = context.args[0].lower() if context.args else ""
    await _act_once(update, context, f"/kanal {wanted}",
                    lambda ctx: choose_channel(ctx, update.effective_user.id, wanted))


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Commands and plain words: the same inbound path as SMS and the simulator (the batcher, the
    router); the replies come back to this chat, a status with its filter buttons."""
    message = update.effective_message
    if not message or not message.text:
        return
    await _services(context).inbound.submit(InboundText(
        TELEGRAM, str(update.update_id), str(update.effective_user.id), message.text,
        reply_to=str(update.effective_chat.id)))


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Status filter buttons edit the message in place; 'send to all' asks before it acts."""
    services = _services(context)
    query = update.callback_query
    await query.answer()
    kind, _, rest = (query.data or "").partition(":")
    message_id = query.message.message_id if query.message else None
    async with services.sessions.begin() as session:
        ctx = services.context(session)
        if not await _once(ctx, update, query.data or ""):
            return
        people = await store.staff_by_telegram(session, update.effective_user.id)
        leader = next((p for p in people if is_coordinator(p)), None)
        month_key, _, filter_key = rest.partition(":")
        month = month_from_key(month_key)
        if leader is None or month is None or message_id is None:
            return
        spec = MonthSpec(month=month.month, year=month.year)
        locale = coordinator.locale_of(await store.get_org(session, leader.org_id))
        if kind == "st":
            wanted = filter_key if filter_key in FILTERS else "ready"
            # The buttons stay under the message whatever it says now (a refusal too): the filters are its own.
            answer = (await coordinator.status(ctx, leader, cmd.Status(spec, wanted)))[0].but(
                intent=StatusFilters(month.key))
        elif kind == "rm":
            answer = Reply.of(locale, "tg.confirm", month=month_label(month, locale),
                              intent=ConfirmRemindAll(month.key))
        elif kind == "rmok":
            answer = (await coordinator.remind_all(ctx, leader, cmd.RemindAll(spec)))[0].but(intent=None)
        else:
            return
        await ctx.enqueue(_answer_rows(services, update, [answer.but(edit_message=message_id)]))
    services.kick()


async def _record_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """PTB's error handler: keep a handler's exception for ``process_raw_update`` (PTB would only log it)."""
    errors = _HANDLER_ERRORS.get()
    if errors is not None:
        errors.append(context.error)


async def process_raw_update(tg: Application, services, data: object) -> bool:
    """Act on one stored update and mark it processed; False when this try failed (it was counted).

    A try fails when the update cannot be read (``Update.de_json`` refuses a malformed one) or a
    handler raised (its transaction rolled back, so trying again is safe). After MAX_UPDATE_TRIES
    failed tries the update is given up: counted in /metrics and logged once, without its content.
    """
    update_id = str(data["update_id"]) if isinstance(data, dict) else None
    errors: list[BaseException] = []
    token = _HANDLER_ERRORS.set(errors)
    try:
        if update_id is None:
            raise ValueError("the stored update is not a JSON object")
        await tg.process_update(Update.de_json(data, tg.bot))
        if errors:
            raise errors[0]
    except Exception as exc:
        if update_id is not None:
            await _count_failure(services, update_id, exc)
        return False
    finally:
        _HANDLER_ERRORS.reset(token)
    async with services.sessions.begin() as session:
        await store.mark_update_processed(session, update_id, services.clock())
    return True


async def _count_failure(services, update_id: str, exc: BaseException) -> None:
    async with services.sessions.begin() as session:
        tries = await store.count_update_failure(session, update_id)
    if tries == MAX_UPDATE_TRIES:  # exactly one process sees the count reach it
        services.metrics.telegram_given_up.inc()
        logger.warning("Telegram update %s given up after %d failed tries (last: %s)", update_id, tries,
                       type(exc).__name__)
    else:
        logger.info("Telegram update %s failed (%s); try %d of %d", update_id, type(exc).__name__, tries,
                    MAX_UPDATE_TRIES)


async def reprocess_stored_updates(tg: Application, services, older_than_seconds: float = 30) -> int:
    """Updates stored but never finished (the process died, or a try failed): act on them now.

    Each action is once-only; an update that keeps failing is given up after MAX_UPDATE_TRIES.
    """
    from datetime import timedelta

    async with services.sessions() as session:
        rows = await store.unprocessed_updates(session, services.clock() - timedelta(seconds=older_than_seconds),
                                               MAX_UPDATE_TRIES)
    for row in rows:
        try:
            data = json.loads(row.body)
        except ValueError:
            data = None
        if not isinstance(data, dict) or str(data.get("update_id")) != row.provider_id:
            await _count_failure(services, row.provider_id, ValueError("unreadable stored update"))
            continue
        await process_raw_update(tg, services, data)
    return len(rows)


def _sender(data: dict) -> str:
    """Who sent the update, for the stored row; an update of another shape has no sender (0)."""
    part = data.get("message") or data.get("callback_query")
    sender = part.get("from") if isinstance(part, dict) else None
    return str(sender.get("id", 0) if isinstance(sender, dict) else 0)[:64]


async def accept_update(services, data: dict, raw: str) -> None:
    """Store the update (so a crash loses nothing), then act on it once.

    An update that fails is kept and tried again by the recovery job, and given up after
    ``MAX_UPDATE_TRIES``: Telegram is answered 200 either way, since it has been stored.
    """
    async with services.sessions.begin() as session:
        key = (f"{TELEGRAM}-update", str(data["update_id"]))
        new, earlier = await store.claim_inbound(session, [{
            "channel": key[0], "provider_id": key[1], "sender": _sender(data), "body": raw,
            "received_at": services.clock()}])
    if not new and (earlier[key].processed_at is not None or earlier[key].attempts >= MAX_UPDATE_TRIES):
        services.metrics.inbound.labels("telegram", "duplicate").inc()
        return
    services.metrics.inbound.labels("telegram", "new").inc()
    await process_raw_update(services.telegram, services, data)


# ---------------------------------------------------------------- send

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

    def answer_rows(self, provider_id: str, address: str, replies: list, now: datetime, *,
                    org_id: str | None = None, staff_id: int | None = None) -> list[dict]:
        return telegram_rows(provider_id, address, replies, now)

    async def find_sent(self, msg: Outgoing) -> str | None:
        # The Bot API cannot list what a bot sent. Sending again could send twice, so the
        # dispatcher marks the message unconfirmed and tells the team instead.
        raise CannotTell("the Telegram Bot API cannot list sent messages")
