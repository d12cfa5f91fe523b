"""The phone simulator, the whole channel in one module: a page that shows simulated phones and the
team chat, live, the route its phones text through, and its send (marking the outbox row delivered:
the row itself is what the page shows).

Off unless PAMINN_SIMULATOR=on. Messages are the outbox and inbound rows themselves, so the
page works whichever process sent them. Since whoever reaches it can speak as a phone:
- it texts only as phones of simulated organisations (the demo) that reach no one real;
- it answers only to the loopback names it listens on (or hosts `--expose-simulator` allows),
  so a web page cannot reach it through DNS rebinding;
- its write route takes only same-origin JSON, so another site's form or fetch cannot post to it.
"""
from __future__ import annotations

import asyncio
import json
import re
import uuid
from datetime import datetime
from pathlib import Path

from aiohttp import web

from core import store
from core.channels import SIMULATOR, Channel, Outgoing, SendResult
from core.eligibility import Reason, evaluate
from core.messages import REASON_TEXT
from core.models import Organisation
from core.months import Month, month_label, resolve_month
from core.phones import display, try_e164
from handlers.context import has_full_scope, is_coordinator
from handlers.router import InboundText, InboundUnavailable
from webhooks.intake import JSONRefused, parse_json, read_body
from webhooks.keys import SERVICES

STATIC = Path(__file__).with_name("static")
MAX_TEXT = 1600
MAX_BODY = 16 * 1024
POLL_SECONDS = 0.4
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
HAS_PORT = re.compile(r":[0-9]+$")
SEND_EXAMPLE = '{"from": "+46701110000", "text": "HJÄLP"}'


def _json_error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _is_simulator_path(path: str) -> bool:
    return path in ("/", "/favicon.ico") or path.startswith(("/static/", "/simulator/"))


def allowed_hosts(request: web.Request) -> set[str]:
    """The Host header values the simulator answers: the loopback names on the port it listens on, and any
    `--expose-simulator` named."""
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    port = sockname[1] if sockname else None
    hosts = {f"{name}:{port}" for name in LOOPBACK_NAMES} if port else set()
    if port == 80:  # a browser leaves out the default port
        hosts.update(LOOPBACK_NAMES)
    for extra in request.app[SERVICES].settings.simulator_hosts:
        extra = extra.strip().lower()
        hosts.add(extra)  # as named: with its port, or bare as a browser sends it for the default port
        if port and not HAS_PORT.search(extra):
            hosts.add(f"{extra}:{port}")
    return hosts


@web.middleware
async def simulator_guard(request: web.Request, handler):
    """Refuse simulator requests that name another host (DNS rebinding): 421, before anything is read."""
    if _is_simulator_path(request.path):
        host = (request.headers.get("Host") or "").lower()
        if host not in allowed_hosts(request):
            return _json_error(421, "the simulator answers only at http://127.0.0.1:<port>/ (or localhost); "
                                    "serve it elsewhere with `paminn serve --expose-simulator HOST`")
    return await handler(request)


def same_origin_problem(request: web.Request) -> str | None:
    """Why this write did not come from the simulator's own page, or None when it did.

    A browser sends Origin on every cross-site POST and Sec-Fetch-Site on every request it makes;
    a client without either (curl, the tests) is not a web page acting behind the user's back.
    """
    origin = request.headers.get("Origin")
    # The page's own origin; behind a proxy that rewrites Host, also a host `--expose-simulator` named.
    hosts = {(request.headers.get("Host") or "").lower()}
    hosts.update(h.strip().lower() for h in request.app[SERVICES].settings.simulator_hosts)
    if origin is not None and origin.lower() not in {f"{scheme}://{h}" for h in hosts for scheme in ("http", "https")}:
        return f"cross-origin request from {origin[:100]!r} refused: the simulator takes texts from its own page only"
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site != "same-origin":
        return f"{site[:20]!r} request refused: the simulator takes texts from its own page only"
    return None


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})


async def favicon(request: web.Request) -> web.FileResponse:
    """The page links its icon; browsers that ask for /favicon.ico anyway get the same one, not a 404."""
    return web.FileResponse(STATIC / "favicon.svg", headers={"Content-Type": "image/svg+xml",
                                                             "Cache-Control": "max-age=86400"})


async def _shown_organisation(session) -> Organisation | None:
    """The organisation the simulator shows: the first simulated one (the demo, in `make run`)."""
    return await store.first_simulated_org(session)


async def state(request: web.Request) -> web.Response:
    """The organisation and its phones, for drawing the page."""
    services = request.app[SERVICES]
    async with services.sessions() as session:
        org = await _shown_organisation(session)
        if org is None:
            return web.json_response({"organisation": None, "phones": []})
        people = await store.list_staff(session, org.id)
    phones = [{
        "name": p.name, "mobile": p.mobile, "display": display(p.mobile) if p.mobile else None,
        "role": "coordinator" if has_full_scope(p) else ("supervisor" if is_coordinator(p) else "assistant"),
    } for p in people]
    return web.json_response({
        "organisation": {"id": org.id, "name": org.name, "team_chat": org.team_chat},
        "team_address": (services.routes.team(org.team_chat).address
                         if org.team_chat and services.routes.team(org.team_chat) else None),
        "phones": phones,
        "max_text": MAX_TEXT,  # the page refuses a longer text itself, in Swedish, keeping what was typed
    })


async def send(request: web.Request) -> web.Response:
    """Text the service as ``from``; replies come back as simulator messages."""
    services = request.app[SERVICES]
    problem = same_origin_problem(request)
    if problem is not None:
        services.metrics.rejected.labels("simulator", "origin").inc()
        return _json_error(403, problem)
    if request.content_type != "application/json":
        services.metrics.rejected.labels("simulator", "content_type").inc()
        return _json_error(415, f"send Content-Type: application/json, a body like {SEND_EXAMPLE}")
    try:
        data = parse_json(await read_body(request, MAX_BODY, "a simulated text"))
    except JSONRefused as exc:
        return _json_error(400, f"{exc}: send JSON like {SEND_EXAMPLE}")
    sender = try_e164(str(data.get("from", ""))[:64]) if isinstance(data, dict) else None
    text = data.get("text") if isinstance(data, dict) else None
    if not sender or not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
        return _json_error(400, f"'from' must be a phone number and 'text' 1–{MAX_TEXT} characters")
    provider_id = f"sim-{uuid.uuid4().hex}"
    async with services.sessions() as session:
        may_act = await store.simulator_may_act_as(session, sender)
    if not may_act:
        services.metrics.rejected.labels("simulator", "not_simulated").inc()
        return _json_error(403, f"the simulator texts only as phones of a simulated organisation "
                                f"(`paminn demo-data`) that reaches no real numbers; {display(sender)} is not "
                                f"one, so nothing was sent")
    # The same inbound path as SMS and Telegram (the batcher, the router); the replies come back to
    # the simulated phone as plain texts, queued in the text's own transaction.
    try:
        handled = await services.inbound.submit(InboundText(SIMULATOR, provider_id, sender, text, reply_to=sender))
    except InboundUnavailable:
        return _json_error(503, "the database is not answering; try again shortly")
    return web.json_response({"accepted": True, "replies": len(handled.replies)})


def _out(row) -> dict:
    return {"id": f"o{row.id}", "direction": "out", "address": row.address, "body": row.body, "status": row.status,
            "kind": row.kind, "at": row.created_at.isoformat(), "not_before": row.not_before.isoformat()}


def _in(row) -> dict:
    return {"id": f"i{row.id}", "direction": "in", "address": row.sender, "body": row.body, "status": "received",
            "kind": "inbound", "at": row.received_at.isoformat()}


async def events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: every simulator message, then new ones and status changes as they happen."""
    services = request.app[SERVICES]
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store",
                                           "X-Accel-Buffering": "no"})
    await response.prepare(request)
    after_out = after_in = 0
    changed_since: datetime | None = None
    initial = True  # the first event is always sent: what was there before the page opened
    try:
        while True:
            polled_at = services.clock()
            async with services.sessions() as session:
                out, inbound = await store.simulator_feed(session, after_out, after_in, changed_since)
            if out or inbound or initial:
                messages = sorted([_out(r) for r in out] + [_in(r) for r in inbound], key=lambda m: m["at"])
                payload = json.dumps({"messages": messages, "initial": initial})
                await response.write(f"data: {payload}\n\n".encode())
                initial = False
                after_out = max([after_out] + [r.id for r in out])
                after_in = max([after_in] + [r.id for r in inbound])
            else:
                await response.write(b": keep-alive\n\n")
            changed_since = polled_at
            await asyncio.sleep(POLL_SECONDS)
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    return response


PANEL_MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")


def _asked_month(request: web.Request) -> Month | None:
    """The month a panel asks for (``?month=2026-05``), None when it names none; anything else is a 400."""
    wanted = request.query.get("month")
    if wanted is None:
        return None
    if not PANEL_MONTH.fullmatch(wanted):
        raise web.HTTPBadRequest(text='{"error": "month must look like 2026-05"}', content_type="application/json")
    return Month.parse_key(wanted)


async def status_panel(request: web.Request) -> web.Response:
    """The month's reporting status as STATUS sees it, for the side panel."""
    services = request.app[SERVICES]
    async with services.sessions() as session:
        org = await _shown_organisation(session)
        if org is None:
            return web.json_response({"month": None, "groups": []})
        ctx = services.context(session)
        month = _asked_month(request) or resolve_month(None, ctx.today(org))
        candidates = await store.select_candidates(session, org.id, month, ctx.tz(org))
        done = await store.count_with_shifts(session, org.id, month, ctx.tz(org)) - len(candidates)
    groups: dict[str, list[str]] = {r.value: [] for r in Reason}
    for c in candidates:
        groups[evaluate(c, ctx.now).value].append(c.name)
    return web.json_response({
        "month": month.key, "label": month_label(month), "done": done,
        "groups": [{"reason": r.value, "label": REASON_TEXT[r], "names": groups[r.value]} for r in Reason
                   if r is not Reason.NOTHING_TO_REPORT],
    })


def setup(app: web.Application) -> None:
    app.middlewares.append(simulator_guard)
    app.router.add_get("/", index)
    app.router.add_get("/favicon.ico", favicon)
    app.router.add_static("/static/", STATIC)
    app.router.add_get("/simulator/api/state", state)
    app.router.add_post("/simulator/api/send", send)
    app.router.add_get("/simulator/api/events", events)
    app.router.add_get("/simulator/api/status", status_panel)
    app.router.add_get("/simulator/api/funnel", funnel_panel)


# ---------------------------------------------------------------- the month's funnel, for the side panel


async def _funnel_month(session, org: Organisation, ctx):
    """The month the panel shows unasked, with its funnel: the latest month that has a round, looked for among
    the months of rounds not yet complete (their month not yet announced as all reported) and STATUS's default
    month (last month); when none has a round, that default month (an empty funnel)."""
    default = resolve_month(None, ctx.today(org))
    open_months = {Month.parse_key(r.month) for r in await store.rounds_awaiting_completion(session, org.id)}
    empty = None
    for month in sorted(open_months | {default}, reverse=True):
        funnel = await store.month_funnel(session, org.id, month, ctx.tz(org))
        if funnel.rounds:
            return month, funnel
        if month == default:
            empty = funnel
    return default, empty


def _funnel_person(p) -> dict:
    """One person in one round: names only (never a mobile or personal number)."""
    return {"name": p.name, "reminded": p.reminded, "delivered": p.delivered,
            "acknowledged": p.acknowledged_at is not None, "unfinished_now": p.reminded and p.unfinished_now}


async def funnel_panel(request: web.Request) -> web.Response:
    """The month's funnel (reminded → delivered → acknowledged → still unfinished) of the organisation the
    simulator shows (a simulated one only), per round and for the month, with the names behind each number."""
    services = request.app[SERVICES]
    async with services.sessions() as session:
        org = await _shown_organisation(session)
        if org is None:
            return web.json_response({"month": None, "rounds": []})
        ctx = services.context(session)
        asked = _asked_month(request)
        if asked is not None:
            month = asked
            funnel = await store.month_funnel(session, org.id, month, ctx.tz(org))
        else:
            month, funnel = await _funnel_month(session, org, ctx)
        rounds = [{
            "id": r.info.id, "started_at": r.info.started_at.isoformat(),
            "started": ctx.local(org, r.info.started_at).strftime("%d/%m %H:%M"),
            "requested_by": r.info.requested_by, "scope": r.info.scope, "counts": r.counts(),
            "people": [_funnel_person(p) for p in r.people],
        } for r in funnel.rounds]
    counts = funnel.counts()  # every stage, in the funnel's order
    return web.json_response({
        "month": month.key, "label": month_label(month), "counts": counts,
        "names": {stage: funnel.names(stage) for stage in counts}, "rounds": rounds,
    })


# ---------------------------------------------------------------- send


class SimulatorChannel(Channel):
    """Messages appear on the browser page instead of going out: "sending" is only marking them delivered."""

    name = SIMULATOR

    async def send(self, msg: Outgoing) -> SendResult:
        return SendResult("sent", provider_id=f"SIM{msg.id}", status="delivered")

    async def find_sent(self, msg: Outgoing) -> str | None:
        return f"SIM{msg.id}"
