"""The door of every /api/v1 route: who calls (bearer keys per organisation and scope, or the operator's
``PAMINN_API_KEY``), what the key reaches, the audit of writes, the masking of personal numbers; and the
small helpers every route shares (the organisation in the path, ids, errors, small JSON bodies)."""
from __future__ import annotations

import hmac
import json
import re

from aiohttp import web

from core import store
from core.api_access import OPERATOR, Access, hash_key, outcome_counts
from core.models import ApiKey, Organisation
from core.text import mask_personal_numbers
from webhooks.intake import BodyTooLarge, JSONRefused, parse_json, read_body
from webhooks.keys import SERVICES

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


def authorised(request: web.Request) -> Access:
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
            raise no_organisation(org_id)
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
    if not org_id or not plausible_id(org_id) or not access.reaches(org_id):
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


def error(status: int, message: str, **extra) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


_ID_TEXT = re.compile(r"[^\x00-\x1f\x7f]{1,64}")  # as the OpenAPI file has ids: minLength, maxLength, pattern


def id_text(value: str) -> bool:
    """An id as the OpenAPI file describes it: 1–64 characters, no control characters."""
    return _ID_TEXT.fullmatch(value) is not None


def plausible_id(value: str) -> bool:
    """Could be a host id (as the import accepts them): short, printable. Anything else is no one's."""
    return 0 < len(value) <= 64 and value.isprintable()


def no_organisation(org_id: str) -> web.HTTPNotFound:
    """The answer for an organisation that does not exist, and for one the caller's key does not reach."""
    named = mask_personal_numbers(repr(org_id[:64]))
    return web.HTTPNotFound(text=json.dumps({"error": f"no organisation {named}; import it first"}),
                            content_type="application/json")


async def organisation(session, org_id: str) -> Organisation:
    """The organisation named in the path; a 404 that says what to do when there is none."""
    org = await store.get_org(session, org_id) if plausible_id(org_id) else None
    if org is None:
        raise no_organisation(org_id)
    return org


async def small_json(request: web.Request, what: str, example: str) -> tuple[object, web.Response | None]:
    """The JSON body of a small request, or the error to answer (413 over 64 KiB, 400 if not JSON we can take)."""
    try:
        return parse_json(await read_body(request, MAX_SMALL_BODY, what)), None
    except BodyTooLarge:
        return None, error(413, f"{what} is at most {MAX_SMALL_BODY // 1024} KiB")
    except JSONRefused as exc:
        return None, error(400, f"{exc}: send JSON like {example}")
