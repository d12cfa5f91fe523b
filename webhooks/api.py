"""The JSON API for host systems (bearer ``PAMINN_API_KEY``), health and metrics."""
from __future__ import annotations

import hmac
import json
from pathlib import Path

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.db import ping
from bot.imports import ImportError_, run_import
from core import store
from handlers.customer_reminders import follow_up
from webhooks.keys import SERVICES

OPENAPI = Path(__file__).with_name("openapi.json")
MAX_IMPORT = 50 * 1024 * 1024


def _authorised(request: web.Request) -> None:
    key = request.app[SERVICES].settings.api_key
    if not key:
        raise web.HTTPNotFound(text="the API is off: set PAMINN_API_KEY")
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {key}".encode()):
        request.app[SERVICES].metrics.rejected.labels("api", "auth").inc()
        raise web.HTTPUnauthorized(text="send Authorization: Bearer <PAMINN_API_KEY>",
                                   headers={"WWW-Authenticate": "Bearer"})


def _error(status: int, message: str, **extra) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


async def import_data(request: web.Request) -> web.Response:
    _authorised(request)
    if request.content_type != "application/json":
        return _error(415, "send the import document as application/json")
    try:
        raw = await request.read()
        doc = json.loads(raw)
    except web.HTTPRequestEntityTooLarge:
        raise
    except (ValueError, UnicodeDecodeError) as exc:
        return _error(400, f"the body is not valid JSON: {exc}")
    try:
        counts = await run_import(request.app[SERVICES], doc)
    except ImportError_ as exc:
        return _error(422, "the import was refused; nothing was written", problems=exc.problems)
    return web.json_response({"counts": counts})


async def customer_reminders(request: web.Request) -> web.Response:
    """GET: an organisation's customer reminders (``?customer=`` narrows to one customer) and their deliveries."""
    _authorised(request)
    services = request.app[SERVICES]
    org_id, customer = request.match_info["org"], request.query.get("customer")
    async with services.sessions() as session:
        if await store.get_org(session, org_id) is None:
            return _error(404, f"no organisation {org_id!r}; import it first")
        report = await follow_up(services.context(session), org_id, customer)
    return web.json_response({"customer_reminders": report})


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(json.loads(OPENAPI.read_text()))


async def healthz(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    ok = await ping(services.engine)
    backend = services.engine.dialect.name
    return web.json_response({"status": "ok" if ok else "degraded", "database": {"backend": backend, "reachable": ok}},
                             status=200 if ok else 503)


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[SERVICES].metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def setup(app: web.Application) -> None:
    app.router.add_post("/api/v1/import", import_data)
    app.router.add_get("/api/v1/organisations/{org}/customer-reminders", customer_reminders)
    app.router.add_get("/api/v1/openapi.json", openapi)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
