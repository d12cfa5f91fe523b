"""Events from host systems and the follow-up of the notifications each one queued."""
from __future__ import annotations

from aiohttp import web

from handlers import event_notifications
from webhooks.api.door import authorised, error, organisation, plausible_id, small_json
from webhooks.keys import SERVICES

EVENT_EXAMPLE = '{"id": "e1", "type": "work_shift", "customer": "k1", "values": {"tid": "08:00"}}'


async def post_event(request: web.Request) -> web.Response:
    """POST an event ({"id", "type", "customer", "values"}): its notifications are queued once."""
    authorised(request)
    services = request.app[SERVICES]
    event, problem = await small_json(request, "an event", EVENT_EXAMPLE)
    if problem is not None:
        return problem
    org_id = request.match_info["org"]
    try:
        async with services.sessions.begin() as session:
            org = await organisation(session, org_id)
            plan = await event_notifications.plan_event(services.context(session), org, event)
        # Rendered between the two transactions, off the event loop: a costly text holds no lock.
        results = await services.templates.render_many(plan.jobs)
        async with services.sessions.begin() as session:
            answer = await event_notifications.queue_event(services.context(session), org, plan, results)
    except event_notifications.EventRefused as exc:
        services.metrics.events.labels("refused").inc()
        return error(422, "the event was refused; nothing was sent", problems=exc.problems)
    services.metrics.events.labels("repeat" if answer["repeat"] else "new").inc()
    if answer["queued"]:
        services.kick()
    return web.json_response(answer)


async def get_event(request: web.Request) -> web.Response:
    """GET the follow-up report of one event: every notification and its status."""
    authorised(request)
    services = request.app[SERVICES]
    org_id, event_id = request.match_info["org"], request.match_info["event"]
    async with services.sessions() as session:
        org = await organisation(session, org_id)
        report = await event_notifications.follow_up(services.context(session), org, event_id) \
            if plausible_id(event_id) else None
    if report is None:
        return error(404, f"no event {event_id[:64]!r} in {org_id!r}")
    return web.json_response(report)
