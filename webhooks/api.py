"""The JSON API for host systems (bearer keys per organisation and scope, or the operator's
``PAMINN_API_KEY``), health and metrics."""
from __future__ import annotations

import csv
import hmac
import io
import json
import re
from pathlib import Path

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from core import store
from core.api_access import OPERATOR, Access, hash_key, mask_personal_numbers, outcome_counts
from core.funnel import STAGES as FUNNEL_STAGES
from core.importer import ImportError_
from core.models import ApiKey, Organisation
from core.months import Month
from handlers import event_notifications, integration_buffer
from handlers.customer_reminders import follow_up
from webhooks.intake import BodyTooLarge, JSONRefused, is_ascii_number, parse_json, read_body
from webhooks.keys import SERVICES

OPENAPI = Path(__file__).with_name("openapi.json")
MAX_IMPORT = 50 * 1024 * 1024
MAX_SMALL_BODY = 64 * 1024  # acknowledgements, events


ACCESS = web.RequestKey("api_access", Access)
AUDIT_ORG = web.RequestKey("api_audit_org", str)  # the import's organisation, named in its body
PUBLIC = {"/api/v1/openapi.json"}
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
ORG_ROUTE = "/api/v1/organisations/{org}"
# Every /api/v1 route and the scope it needs. A route not listed here needs "buffer" under …/buffer/,
# "read" for GET and "import" for anything that changes data, so a new route is never left open.
ROUTE_SCOPES = {
    ("POST", "/api/v1/import"): "import",
    ("POST", ORG_ROUTE + "/events"): "events",
    ("GET", ORG_ROUTE + "/events/{event}"): "read",
    ("GET", ORG_ROUTE + "/customer-reminders"): "read",
    ("GET", ORG_ROUTE + "/audit"): "read",
    ("POST", ORG_ROUTE + "/buffer/poll"): "buffer",
    ("POST", ORG_ROUTE + "/buffer/ack"): "buffer",
    ("GET", ORG_ROUTE + "/buffer/waiting"): "buffer",
}
# Only the buffer's batch carries personal numbers as they are; everywhere else they are masked.
UNMASKED = {("POST", ORG_ROUTE + "/buffer/poll"): "buffer"}
_BEARER = re.compile(r"^\s*bearer\s+(\S+)\s*$", re.IGNORECASE)


def _authorised(request: web.Request) -> Access:
    """Who the door let in (every /api/v1 route but the OpenAPI file passes ``api_door`` first)."""
    return request[ACCESS]


def scope_for(method: str, route: str) -> str:
    method = "GET" if method == "HEAD" else method
    if (method, route) in ROUTE_SCOPES:
        return ROUTE_SCOPES[(method, route)]
    if route.startswith(ORG_ROUTE + "/buffer/"):
        return "buffer"
    return "read" if method == "GET" else "import"


def _unauthorised(services, message: str, error: str | None = None) -> web.HTTPUnauthorized:
    services.metrics.rejected.labels("api", "auth").inc()
    challenge = 'Bearer realm="paminn"' + (f', error="{error}"' if error else "")
    return web.HTTPUnauthorized(text=json.dumps({"error": message}), content_type="application/json",
                                headers={"WWW-Authenticate": challenge})


async def _authenticate(request: web.Request, session) -> tuple[Access, ApiKey | None]:
    """The operator (PAMINN_API_KEY) or an organisation's live key; 401 otherwise (404 while the API is off)."""
    services = request.app[SERVICES]
    operator_key = services.settings.api_key
    given = _BEARER.match(request.headers.get("Authorization", ""))
    token = given.group(1) if given else None
    if token is not None and operator_key and hmac.compare_digest(token.encode(), operator_key.encode()):
        return Access(actor=OPERATOR, org_id=None, scopes=frozenset()), None
    key = await store.active_api_key(session, hash_key(token)) if token is not None else None
    if key is not None:
        return Access(actor=key.name, org_id=key.org_id, scopes=frozenset(key.scope_list()), key_id=key.id), key
    if not operator_key and not await store.any_active_api_key(session):
        raise web.HTTPNotFound(text=json.dumps({"error": "the API is off: set PAMINN_API_KEY, or create a key "
                                                         "with `paminn keys create --org ORG --name NAME --scope …`"}),
                               content_type="application/json")
    if token is None:
        raise _unauthorised(services, "send Authorization: Bearer <your key>")
    raise _unauthorised(services, "this key is unknown or revoked; ask the operator for a key "
                                  "(`paminn keys create`)", "invalid_token")


@web.middleware
async def api_door(request: web.Request, handler):
    """Every /api/v1 route: who calls (401), whether their key reaches the organisation (404, as if it did not
    exist) and has the route's scope (403); then the write's audit row and the masking of personal numbers."""
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else None
    if (not request.path.startswith("/api/v1/") or request.match_info.http_exception is not None
            or route in PUBLIC):
        return await handler(request)
    services = request.app[SERVICES]
    scope = scope_for(request.method, route)
    async with services.sessions.begin() as session:
        access, key = await _authenticate(request, session)
        org_id = request.match_info.get("org")
        if org_id is not None and not access.reaches(org_id):
            services.metrics.rejected.labels("api", "organisation").inc()
            raise _no_organisation(org_id)
        if not access.may(scope):
            services.metrics.rejected.labels("api", "scope").inc()
            raise web.HTTPForbidden(text=json.dumps({
                "error": f"this key lacks the scope {scope!r}, which {request.method} {route} needs; "
                         f"the key has {', '.join(sorted(access.scopes)) or 'none'}"}),
                content_type="application/json")
        if key is not None:
            await store.touch_api_key(session, key, services.clock())
    request[ACCESS] = access
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        await _after(request, access, route, exc)
        raise
    await _after(request, access, route, response)
    return response


async def _after(request: web.Request, access: Access, route: str, response: web.StreamResponse) -> None:
    if not isinstance(response, web.Response) or not isinstance(response.body, bytes):
        return
    if not (UNMASKED.get((request.method, route)) and access.may(UNMASKED[(request.method, route)])):
        text = response.body.decode("utf-8", "replace")
        masked = mask_personal_numbers(text)
        if masked != text:
            response.body = masked.encode("utf-8")
    if request.method in WRITES:
        await _audit(request, access, route, response)


async def _audit(request: web.Request, access: Access, route: str, response: web.Response) -> None:
    """Record a write that passed the door, whatever came of it (counts only; no names or numbers)."""
    services = request.app[SERVICES]
    org_id = request.match_info.get("org") or request.get(AUDIT_ORG)
    if not org_id or not _plausible_id(org_id) or not access.reaches(org_id):
        return
    try:
        answer = json.loads(response.body) if response.content_type == "application/json" else None
    except ValueError:
        answer = None
    async with services.sessions.begin() as session:
        if await store.get_org(session, org_id) is None:  # a refused import of a new organisation: no one's
            return
        await store.add_audit(session, org_id=org_id, actor=access.actor, method=request.method, route=route,
                              status=response.status, outcome=outcome_counts(answer), at=services.clock())


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
    named = (doc.get("organisation") or {}).get("id") if isinstance(doc, dict) \
        and isinstance(doc.get("organisation"), dict) else None
    if isinstance(named, str):
        if not _authorised(request).reaches(named):  # another organisation's, or one only the operator may create
            raise _no_organisation(named)
        request[AUDIT_ORG] = named
    try:
        counts = await request.app[SERVICES].run_import(doc)
    except ImportError_ as exc:
        return _error(422, "the import was refused; nothing was written", problems=exc.problems)
    return web.json_response({"counts": counts})


async def customer_reminders(request: web.Request) -> web.Response:
    """GET: an organisation's customer reminders (``?customer=`` narrows to one customer) and their deliveries."""
    _authorised(request)
    services = request.app[SERVICES]
    org_id, customer = request.match_info["org"], request.query.get("customer")
    if customer is not None and not _id_text(customer):
        return _error(400, "'customer' must be a customer's id as imported (1 to 64 characters, no control "
                           "characters)")
    async with services.sessions() as session:
        await _organisation(session, org_id)
        # An id no customer can have (control characters: PostgreSQL's text cannot even hold NUL) matches none.
        report = await follow_up(services.context(session), org_id, customer) \
            if customer is None or _plausible_id(customer) else []
    return web.json_response({"customer_reminders": report})


_ID_TEXT = re.compile(r"[^\x00-\x1f\x7f]{1,64}")  # as the OpenAPI file has ids: minLength, maxLength, pattern


def _id_text(value: str) -> bool:
    """An id as the OpenAPI file describes it: 1–64 characters, no control characters."""
    return _ID_TEXT.fullmatch(value) is not None


def _plausible_id(value: str) -> bool:
    """Could be a host id (as the import accepts them): short, printable. Anything else is no one's."""
    return 0 < len(value) <= 64 and value.isprintable()


def _no_organisation(org_id: str) -> web.HTTPNotFound:
    """The answer for an organisation that does not exist, and for one the caller's key does not reach."""
    named = mask_personal_numbers(repr(org_id[:64]))
    return web.HTTPNotFound(text=json.dumps({"error": f"no organisation {named}; import it first"}),
                            content_type="application/json")


async def _organisation(session, org_id: str) -> Organisation:
    """The organisation named in the path; a 404 that says what to do when there is none."""
    org = await store.get_org(session, org_id) if _plausible_id(org_id) else None
    if org is None:
        raise _no_organisation(org_id)
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
    if (not isinstance(body, dict) or not isinstance(body.get("batch"), str) or not _id_text(body["batch"])
            or not isinstance(body.get("ids"), list)
            or not all(isinstance(i, str) and _id_text(i) for i in body["ids"])
            or len(body["ids"]) > integration_buffer.MAX_BATCH):
        return _error(400, f"send JSON like {ACK_EXAMPLE} (at most {integration_buffer.MAX_BATCH} ids)")
    async with services.sessions.begin() as session:
        await _organisation(session, request.match_info["org"])
        # Ids no visit can have (unprintable ones) are not acknowledged, and never reach the database.
        ids = [i for i in body["ids"] if _plausible_id(i)] if _plausible_id(body["batch"]) else []
        answer = await integration_buffer.acknowledge(services.context(session), request.match_info["org"],
                                                      body["batch"], ids) \
            if ids else {"acknowledged": [], "not_acknowledged": []}
        if len(ids) < len(body["ids"]):
            answer = {**answer, "not_acknowledged": sorted(set(body["ids"]) - set(answer["acknowledged"])),
                      "note": integration_buffer.NOT_ACKNOWLEDGED}
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
            plan = await event_notifications.plan_event(services.context(session), org, event)
        # Rendered between the two transactions, off the event loop: a costly text holds no lock.
        results = await services.templates.render_many(plan.jobs)
        async with services.sessions.begin() as session:
            answer = await event_notifications.queue_event(services.context(session), org, plan, results)
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


async def get_audit(request: web.Request) -> web.Response:
    """GET the organisation's API writes, newest first (``?limit=``, default 50, at most 500)."""
    _authorised(request)
    services = request.app[SERVICES]
    raw_limit = request.query.get("limit", str(AUDIT_DEFAULT))
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= AUDIT_MAX:
        return _error(400, f"'limit' must be a whole number from 1 to {AUDIT_MAX}")
    async with services.sessions() as session:
        await _organisation(session, request.match_info["org"])
        rows = await store.audit_rows(session, request.match_info["org"], int(raw_limit))
    return web.json_response({"items": [{
        "at": row.at.isoformat(), "actor": row.actor, "method": row.method, "route": row.route,
        "status": row.status, "outcome": row.outcome} for row in rows]})


_MONTH_KEY = re.compile(r"(19|20|21)[0-9]{2}-(0[1-9]|1[0-2])")
ROUND_CSV_COLUMNS = ("name", "round", "reminded_at", "delivered", "acknowledged_at", "unfinished_now")


def _bad_request(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": message}), content_type="application/json")


def _iso(moment) -> str | None:
    return moment.isoformat() if moment is not None else None


def _stage_names(part) -> dict[str, list[str]]:
    return {stage: part.names(stage) for stage in FUNNEL_STAGES}


async def _month_funnel(request: web.Request):
    """The ``?month=YYYY-MM`` funnel of the organisation in the path (names only: no numbers, no mobiles)."""
    _authorised(request)
    services = request.app[SERVICES]
    async with services.sessions() as session:
        org = await _organisation(session, request.match_info["org"])  # a missing organisation before bad input
        raw = request.query.get("month", "")
        if not _MONTH_KEY.fullmatch(raw):
            raise _bad_request("'month' must be a month as YYYY-MM, e.g. 2026-05")
        if request.query.get("format", "json") not in ("json", "csv"):
            raise _bad_request("'format' must be json or csv")
        month = Month.parse_key(raw)
        tz = services.context(session).tz(org)
        return org, await store.month_funnel(session, org.id, month, tz)


def _funnel_csv(funnel) -> web.Response:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(ROUND_CSV_COLUMNS)
    for rnd in funnel.rounds:
        for p in rnd.people:
            writer.writerow([_csv_cell(p.name), rnd.info.id, _iso(p.reminded_at) or "", str(p.delivered).lower(),
                             _iso(p.acknowledged_at) or "", str(p.reminded and p.unfinished_now).lower()])
    return web.Response(text=out.getvalue(), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="rounds-{funnel.month}.csv"'})


def _csv_cell(value: str) -> str:
    """A name as a spreadsheet shows it, never as a formula (what an organisation imports is untrusted)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


async def get_rounds(request: web.Request) -> web.Response:
    """GET the month's reminder rounds and funnel (``?month=YYYY-MM``; ``?format=csv`` for the CSV)."""
    org, funnel = await _month_funnel(request)
    if request.query.get("format") == "csv":
        return _funnel_csv(funnel)
    return web.json_response({
        "organisation": org.id, "month": funnel.month,
        "counts": funnel.counts(), "names": _stage_names(funnel),
        "rounds": [{"id": r.info.id, "started_at": _iso(r.info.started_at), "requested_by": r.info.requested_by,
                    "scope": r.info.scope, "counts": r.counts(), "names": _stage_names(r)} for r in funnel.rounds],
    })


async def get_rounds_csv(request: web.Request) -> web.Response:
    """GET the month's funnel as CSV: one row per person per round."""
    _, funnel = await _month_funnel(request)
    return _funnel_csv(funnel)


AUDIT_DEFAULT, AUDIT_MAX = 50, 500
DELETE_NAMES = {"customer_reminder": "customer reminder", "notification_template": "notification template",
                "visit": "visit"}


def _delete_route(kind: str, param: str):
    async def delete_record(request: web.Request) -> web.Response:
        """DELETE one record by its host id; the messages it has not sent yet are cancelled."""
        _authorised(request)
        services = request.app[SERVICES]
        org_id, record = request.match_info["org"], request.match_info[param]
        async with services.sessions.begin() as session:
            await _organisation(session, org_id)
            cancelled = await store.delete_record(session, kind, org_id, record, services.clock()) \
                if _plausible_id(record) else None
        if cancelled is None:
            return _error(404, f"no {DELETE_NAMES[kind]} {record[:64]!r} in {org_id[:64]!r}")
        return web.json_response({"deleted": record, "cancelled_messages": cancelled})
    return delete_record


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
    app.middlewares.append(api_door)
    app.router.add_post("/api/v1/import", import_data)
    app.router.add_get("/api/v1/organisations/{org}/customer-reminders", customer_reminders)
    app.router.add_post("/api/v1/organisations/{org}/buffer/poll", buffer_poll)
    app.router.add_post("/api/v1/organisations/{org}/buffer/ack", buffer_ack)
    app.router.add_get("/api/v1/organisations/{org}/buffer/waiting", buffer_waiting)
    app.router.add_post("/api/v1/organisations/{org}/events", post_event)
    app.router.add_get("/api/v1/organisations/{org}/events/{event}", get_event)
    app.router.add_get("/api/v1/organisations/{org}/audit", get_audit)
    app.router.add_get("/api/v1/organisations/{org}/rounds", get_rounds)
    app.router.add_get("/api/v1/organisations/{org}/rounds.csv", get_rounds_csv)
    app.router.add_delete("/api/v1/organisations/{org}/customer-reminders/{reminder}",
                          _delete_route("customer_reminder", "reminder"))
    app.router.add_delete("/api/v1/organisations/{org}/notification-templates/{template}",
                          _delete_route("notification_template", "template"))
    app.router.add_delete("/api/v1/organisations/{org}/visits/{visit}", _delete_route("visit", "visit"))
    app.router.add_get("/api/v1/openapi.json", openapi)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
