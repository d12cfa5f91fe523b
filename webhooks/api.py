"""The JSON API for host systems (bearer ``PAMINN_API_KEY``), health and metrics."""
from __future__ import annotations

import hmac
import json
from pathlib import Path

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from bot.imports import ImportError_, run_import
from core import store
from core.models import Organisation
from handlers import event_notifications, integration_buffer
from handlers.customer_reminders import follow_up
from webhooks.intake import BodyTooLarge, JSONRefused, is_ascii_number, parse_json, read_body
from webhooks.keys import SERVICES

OPENAPI = Path(__file__).with_name("openapi.json")
MAX_IMPORT = 50 * 1024 * 1024
MAX_SMALL_BODY = 64 * 1024  # acknowledgements, events


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
        doc = parse_json(await read_body(request, MAX_IMPORT, "an import document"))
    except JSONRefused as exc:
        return _error(400, f"{exc}; nothing was written")
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
    if customer is not None and not _plausible_id(customer):
        return _error(400, "'customer' must be a customer's id as imported (at most 64 printable characters)")
    async with services.sessions() as session:
        await _organisation(session, org_id)
        report = await follow_up(services.context(session), org_id, customer)
    return web.json_response({"customer_reminders": report})


def _plausible_id(value: str) -> bool:
    """Could be a host id (as the import accepts them): short, printable. Anything else is no one's."""
    return 0 < len(value) <= 64 and value.isprintable()


async def _organisation(session, org_id: str) -> Organisation:
    """The organisation named in the path; a 404 that says what to do when there is none."""
    org = await store.get_org(session, org_id) if _plausible_id(org_id) else None
    if org is None:
        raise web.HTTPNotFound(text=json.dumps({"error": f"no organisation {org_id[:64]!r}; import it first"}),
                               content_type="application/json")
    return org


async def buffer_poll(request: web.Request) -> web.Response:
    """POST: lease the next ready visits (``?limit=``, default 20, at most 100) under a batch token."""
    _authorised(request)
    services = request.app[SERVICES]
    raw_limit = request.query.get("limit", "20")
    if not is_ascii_number(raw_limit) or not 1 <= int(raw_limit) <= integration_buffer.MAX_BATCH:
        return _error(400, f"'limit' must be a whole number from 1 to {integration_buffer.MAX_BATCH}")
    async with services.sessions.begin() as session:
        await _organisation(session, request.match_info["org"])
        batch = await integration_buffer.lease_batch(services.context(session), request.match_info["org"],
                                                     int(raw_limit))
    services.metrics.buffer.labels("leased").inc(len(batch["items"]))
    return web.json_response(batch)


async def _small_json(request: web.Request, what: str, example: str) -> tuple[object, web.Response | None]:
    """The JSON body of a small request, or the error to answer (413 over 64 KiB, 400 if not JSON we can take)."""
    try:
        return parse_json(await read_body(request, MAX_SMALL_BODY, what)), None
    except BodyTooLarge:
        return None, _error(413, f"{what} is at most {MAX_SMALL_BODY // 1024} KiB")
    except JSONRefused as exc:
        return None, _error(400, f"{exc}: send JSON like {example}")


ACK_EXAMPLE = '{"batch": "<token from the poll>", "ids": ["v1", "v2"]}'
EVENT_EXAMPLE = '{"id": "e1", "type": "work_shift", "customer": "k1", "values": {"tid": "08:00"}}'


async def buffer_ack(request: web.Request) -> web.Response:
    """POST {"batch": "...", "ids": ["v1", …]}: the visits the external system has taken."""
    _authorised(request)
    services = request.app[SERVICES]
    body, problem = await _small_json(request, "an acknowledgement", ACK_EXAMPLE)
    if problem is not None and problem.status == 413:
        return problem
    if (not isinstance(body, dict) or not isinstance(body.get("batch"), str) or not _plausible_id(body["batch"])
            or not isinstance(body.get("ids"), list)
            or not all(isinstance(i, str) and _plausible_id(i) for i in body["ids"])
            or len(body["ids"]) > integration_buffer.MAX_BATCH):
        return _error(400, f"send JSON like {ACK_EXAMPLE} (at most {integration_buffer.MAX_BATCH} ids)")
    async with services.sessions.begin() as session:
        await _organisation(session, request.match_info["org"])
        answer = await integration_buffer.acknowledge(services.context(session), request.match_info["org"],
                                                      body["batch"], body["ids"])
    services.metrics.buffer.labels("acknowledged").inc(len(answer["acknowledged"]))
    return web.json_response(answer)


async def buffer_waiting(request: web.Request) -> web.Response:
    """GET: the confirmed visits held back, each with what to fix."""
    _authorised(request)
    services = request.app[SERVICES]
    async with services.sessions() as session:
        await _organisation(session, request.match_info["org"])
        return web.json_response(await integration_buffer.waiting(services.context(session),
                                                                  request.match_info["org"]))


async def post_event(request: web.Request) -> web.Response:
    """POST an event ({"id", "type", "customer", "values"}): its notifications are queued once."""
    _authorised(request)
    services = request.app[SERVICES]
    event, problem = await _small_json(request, "an event", EVENT_EXAMPLE)
    if problem is not None:
        return problem
    org_id = request.match_info["org"]
    try:
        async with services.sessions.begin() as session:
            org = await _organisation(session, org_id)
            answer = await event_notifications.receive_event(services.context(session), org, event)
    except event_notifications.EventRefused as exc:
        services.metrics.events.labels("refused").inc()
        return _error(422, "the event was refused; nothing was sent", problems=exc.problems)
    services.metrics.events.labels("repeat" if answer["repeat"] else "new").inc()
    if answer["queued"]:
        services.kick()
    return web.json_response(answer)


async def get_event(request: web.Request) -> web.Response:
    """GET the follow-up report of one event: every notification and its status."""
    _authorised(request)
    services = request.app[SERVICES]
    org_id, event_id = request.match_info["org"], request.match_info["event"]
    async with services.sessions() as session:
        org = await _organisation(session, org_id)
        report = await event_notifications.follow_up(services.context(session), org, event_id) \
            if _plausible_id(event_id) else None
    if report is None:
        return _error(404, f"no event {event_id[:64]!r} in {org_id!r}")
    return web.json_response(report)


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(json.loads(OPENAPI.read_text()))


async def healthz(request: web.Request) -> web.Response:
    """Liveness: 200 while this process runs its loop. The database's answer is reported, not judged
    (that is /readyz): restarting a process does not bring a database back."""
    database = await request.app[SERVICES].readiness.database(timeout=1.0)
    return web.json_response({"status": "ok", "database": {"backend": database.backend,
                                                           "reachable": database.reachable}})


async def readyz(request: web.Request) -> web.Response:
    """Readiness: 503 while the database does not answer a bounded SELECT 1; the outbox backlog and
    each channel's state are reported (a channel that is down does not make a worker unready:
    every worker shares it, and inbound texts are still taken)."""
    readiness = request.app[SERVICES].readiness
    database = await readiness.database()
    snap = await readiness.snapshot() if database.reachable else None
    body = {"status": "ready" if database.reachable else "not_ready",
            "database": {"backend": database.backend, "reachable": database.reachable,
                         "latency_ms": database.latency_ms, **({"error": database.error} if database.error else {})},
            "outbox": None, "channels": None}
    if snap is not None:
        body["outbox"] = {"backlog": [{"channel": b.channel, "status": b.status, "count": b.count,
                                       "oldest_pending_seconds": b.oldest_pending_seconds} for b in snap.backlog],
                          "oldest_pending_seconds": snap.oldest_pending()}
        body["channels"] = {name: {"state": c.state, "consecutive_failures": c.consecutive_failures,
                                   "since": c.since.isoformat() if c.since else None}
                            for name, c in snap.channels.items()}
        body["channel_state_source"] = snap.source
    return web.json_response(body, status=200 if database.reachable else 503)


async def metrics(request: web.Request) -> web.Response:
    """Prometheus: counters summed over every worker, gauges read from the database at scrape time."""
    services = request.app[SERVICES]
    database = await services.readiness.database()
    snap = await services.readiness.snapshot() if database.reachable else None
    body = services.metrics.render(snap, database)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def setup(app: web.Application) -> None:
    app.router.add_post("/api/v1/import", import_data)
    app.router.add_get("/api/v1/organisations/{org}/customer-reminders", customer_reminders)
    app.router.add_post("/api/v1/organisations/{org}/buffer/poll", buffer_poll)
    app.router.add_post("/api/v1/organisations/{org}/buffer/ack", buffer_ack)
    app.router.add_get("/api/v1/organisations/{org}/buffer/waiting", buffer_waiting)
    app.router.add_post("/api/v1/organisations/{org}/events", post_event)
    app.router.add_get("/api/v1/organisations/{org}/events/{event}", get_event)
    app.router.add_get("/api/v1/openapi.json", openapi)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
