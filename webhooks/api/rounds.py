"""The month's reminder rounds and funnel, as JSON or CSV (names only: no numbers, no mobiles)."""
from __future__ import annotations

import csv
import io
import json
import re

from aiohttp import web

from core import store
from core.funnel import STAGES as FUNNEL_STAGES
from core.months import Month
from webhooks.api.door import authorised, organisation
from webhooks.keys import SERVICES

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
    authorised(request)
    services = request.app[SERVICES]
    async with services.sessions() as session:
        org = await organisation(session, request.match_info["org"])  # a missing organisation before bad input
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
