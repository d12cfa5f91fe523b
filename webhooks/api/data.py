"""Data in and out: the import, customer reminders and their deliveries, deleting records, the audit."""
from __future__ import annotations

from aiohttp import web

from core import store
from core.importer import ImportError_
from handlers.customer_reminders import follow_up
from webhooks.api.door import (
    AUDIT_ORG,
    MAX_IMPORT,
    authorised,
    error,
    id_text,
    no_organisation,
    organisation,
    plausible_id,
)
from webhooks.intake import JSONRefused, parse_json, read_body
from webhooks.keys import SERVICES


async def import_data(request: web.Request) -> web.Response:
    authorised(request)
    if request.content_type != "application/json":
        return error(415, "send the import document as application/json")
    try:
        doc = parse_json(await read_body(request, MAX_IMPORT, "an import document"))
    except JSONRefused as exc:
        return error(400, f"{exc}; nothing was written")
    named = (doc.get("organisation") or {}).get("id") if isinstance(doc, dict) \
        and isinstance(doc.get("organisation"), dict) else None
    if isinstance(named, str):
        if not authorised(request).reaches(named):  # another organisation's, or one only the operator may create
            raise no_organisation(named)
        request[AUDIT_ORG] = named
    try:
        counts = await request.app[SERVICES].run_import(doc)
    except ImportError_ as exc:
        return error(422, "the import was refused; nothing was written", problems=exc.problems)
    return web.json_response({"counts": counts})


async def customer_reminders(request: web.Request) -> web.Response:
    """GET: an organisation's customer reminders (``?customer=`` narrows to one customer) and their deliveries."""
    authorised(request)
    services = request.app[SERVICES]
    org_id, customer = request.match_info["org"], request.query.get("customer")
    if customer is not None and not id_text(customer):
        return error(400, "'customer' must be a customer's id as imported (1 to 64 characters, no control "
                           "characters)")
    async with services.sessions() as session:
        await organisation(session, org_id)
        # An id no customer can have (control characters: PostgreSQL's text cannot even hold NUL) matches none.
        report = await follow_up(services.context(session), org_id, customer) \
            if customer is None or plausible_id(customer) else []
    return web.json_response({"customer_reminders": report})


AUDIT_DEFAULT, AUDIT_MAX = 50, 500


async def get_audit(request: web.Request) -> web.Response:
    """GET the organisation's API writes, newest first (``?limit=``, default 50, at most 500)."""
    authorised(request)
    services = request.app[SERVICES]
    raw_limit = request.query.get("limit", str(AUDIT_DEFAULT))
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= AUDIT_MAX:
        return error(400, f"'limit' must be a whole number from 1 to {AUDIT_MAX}")
    async with services.sessions() as session:
        await organisation(session, request.match_info["org"])
        rows = await store.audit_rows(session, request.match_info["org"], int(raw_limit))
    return web.json_response({"items": [{
        "at": row.at.isoformat(), "actor": row.actor, "method": row.method, "route": row.route,
        "status": row.status, "outcome": row.outcome} for row in rows]})


DELETE_NAMES = {"customer_reminder": "customer reminder", "notification_template": "notification template",
                "visit": "visit"}


def delete_route(kind: str, param: str):
    async def delete_record(request: web.Request) -> web.Response:
        """DELETE one record by its host id; the messages it has not sent yet are cancelled."""
        authorised(request)
        services = request.app[SERVICES]
        org_id, record = request.match_info["org"], request.match_info[param]
        async with services.sessions.begin() as session:
            await organisation(session, org_id)
            cancelled = await store.delete_record(session, kind, org_id, record, services.clock()) \
                if plausible_id(record) else None
        if cancelled is None:
            return error(404, f"no {DELETE_NAMES[kind]} {record[:64]!r} in {org_id[:64]!r}")
        return web.json_response({"deleted": record, "cancelled_messages": cancelled})
    return delete_record
