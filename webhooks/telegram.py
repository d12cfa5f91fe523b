"""Telegram's webhook: secret checked in constant time, every update stored before it is acted on."""
from __future__ import annotations

import hmac

from aiohttp import web

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
    await services.accept_telegram_update(data, raw.decode("utf-8"))
    return web.Response(status=200)


def setup(app: web.Application) -> None:
    app.router.add_post("/webhooks/telegram", telegram_update)
