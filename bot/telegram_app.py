"""The Telegram side: python-telegram-bot's Application fed from our own webhook route.

PTB handlers are thin shims: they hand text to the same channel-agnostic handlers as SMS,
and every reply goes out through the outbox (recorded, retried, never sent twice).
"""
from __future__ import annotations

import json
import logging
import os
from contextvars import ContextVar

from telegram import Update
from telegram.ext import (
    AIORateLimiter,
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.replies import FILTERS, telegram_rows
from core import commands as cmd
from core import store
from core.channels import TELEGRAM
from core.months import MonthSpec, month_label
from core.replies import ConfirmRemindAll, Reply, StatusFilters
from handlers import account, coordinator
from handlers.account import choose_channel, link_chat_account, make_team_chat, month_from_key
from handlers.context import is_coordinator
from handlers.router import InboundText

logger = logging.getLogger(__name__)
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


def reply_rows(services, update: Update, replies: list[Reply]) -> list[dict]:
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
        await ctx.enqueue(reply_rows(services, update, replies))
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
        await ctx.enqueue(reply_rows(services, update, [answer.but(edit_message=message_id)]))
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
