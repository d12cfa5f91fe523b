"""Telegram's webhook: secret checked in constant time, every update stored before it is acted on."""
from __future__ import annotations

import hmac
import json

from aiohttp import web

from core import store
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
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY, actual_size=len(raw))
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text="the body is not JSON") from None
    update_id = data.get("update_id") if isinstance(data, dict) else None
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        raise web.HTTPBadRequest(text="an update needs an integer update_id")
    await accept_update(services, data, raw.decode("utf-8"))
    return web.Response(status=200)


async def accept_update(services, data: dict, raw: str) -> None:
    """Store the update (so a crash loses nothing), then act on it once."""
    from bot.telegram_app import process_raw_update

    sender = ((data.get("message") or data.get("callback_query") or {}).get("from") or {}).get("id", 0)
    async with services.sessions.begin() as session:
        key = ("telegram-update", str(data["update_id"]))
        new, earlier = await store.claim_inbound(session, [{
            "channel": key[0], "provider_id": key[1], "sender": str(sender)[:64], "body": raw,
            "received_at": services.clock()}])
    if not new and earlier[key].processed_at is not None:
        services.metrics.inbound.labels("telegram", "duplicate").inc()
        return
    services.metrics.inbound.labels("telegram", "new").inc()
    await process_raw_update(services.telegram, services, data)


def setup(app: web.Application) -> None:
    app.router.add_post("/webhooks/telegram", telegram_update)
