"""Telegram's webhook: secret checked in constant time, every update stored before it is acted on."""
from __future__ import annotations

import hmac

from aiohttp import web

from core import store
from core.channels import TELEGRAM
from webhooks.intake import JSONRefused, parse_json, read_body
from webhooks.keys import SERVICES

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
    from bot.telegram_app import MAX_UPDATE_TRIES, process_raw_update

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


def setup(app: web.Application) -> None:
    app.router.add_post("/webhooks/telegram", telegram_update)
