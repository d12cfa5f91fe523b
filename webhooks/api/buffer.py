"""The integration buffer: confirmed visits leased to an external system, acknowledged, or held back."""
from __future__ import annotations

from aiohttp import web

from handlers import integration_buffer
from webhooks.api.door import authorised, error, id_text, organisation, plausible_id, small_json
from webhooks.intake import is_ascii_number
from webhooks.keys import SERVICES

ACK_EXAMPLE = '{"batch": "<token from the poll>", "ids": ["v1", "v2"]}'


async def buffer_poll(request: web.Request) -> web.Response:
    """POST: lease the next ready visits (``?limit=``, default 20, at most 100) under a batch token."""
    authorised(request)
    services = request.app[SERVICES]
    raw_limit = request.query.get("limit", "20")
    if not is_ascii_number(raw_limit) or not 1 <= int(raw_limit) <= integration_buffer.MAX_BATCH:
        return error(400, f"'limit' must be a whole number from 1 to {integration_buffer.MAX_BATCH}")
    async with services.sessions.begin() as session:
        await organisation(session, request.match_info["org"])
        batch = await integration_buffer.lease_batch(services.context(session), request.match_info["org"],
                                                     int(raw_limit))
    services.metrics.buffer.labels("leased").inc(len(batch["items"]))
    return web.json_response(batch)


async def buffer_ack(request: web.Request) -> web.Response:
    """POST {"batch": "...", "ids": ["v1", …]}: the visits the external system has taken."""
    authorised(request)
    services = request.app[SERVICES]
    body, problem = await small_json(request, "an acknowledgement", ACK_EXAMPLE)
    if problem is not None and problem.status == 413:
        return problem
    if (not isinstance(body, dict) or not isinstance(body.get("batch"), str) or not id_text(body["batch"])
            or not isinstance(body.get("ids"), list)
            or not all(isinstance(i, str) and id_text(i) for i in body["ids"])
            or len(body["ids"]) > integration_buffer.MAX_BATCH):
        return error(400, f"send JSON like {ACK_EXAMPLE} (at most {integration_buffer.MAX_BATCH} ids)")
    async with services.sessions.begin() as session:
        await organisation(session, request.match_info["org"])
        # Ids no visit can have (unprintable ones) are not acknowledged, and never reach the database.
        ids = [i for i in body["ids"] if plausible_id(i)] if plausible_id(body["batch"]) else []
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
    authorised(request)
    services = request.app[SERVICES]
    async with services.sessions() as session:
        await organisation(session, request.match_info["org"])
        return web.json_response(await integration_buffer.waiting(services.context(session),
                                                                  request.match_info["org"]))
