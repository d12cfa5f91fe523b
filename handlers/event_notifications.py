"""Event notifications: a host system reports an event; each template for its type tells its recipients.

Recipients are static (named staff) and dynamic (the event's customer's contacts holding a role, e.g.
notification_recipient). An event is acted on once per host id; the follow-up report shows what
became of every message.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

from core import store
from core.catalogue import render
from core.models import NotificationTemplate, Organisation
from core.recipients import Recipient
from core.templates import Rendered, RenderJob
from handlers.context import Context
from handlers.outbound import KINDS, rows_to_addresses, to_team

MAX_VALUES = 50


class EventRefused(ValueError):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


def _plain(value: object) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


@dataclass
class EventPlan:
    """A checked event: each template with its recipients, and the texts to render (``jobs``)."""

    event_id: str
    event_type: str
    customer_id: int | None
    values: dict
    templates: list[tuple[NotificationTemplate, list[Recipient], int]]  # (template, recipients, first job)
    jobs: list[RenderJob] = field(default_factory=list)
    # Who cannot be reached whatever the texts say (the host no longer has them), found while planning.
    unreached: list[str] = field(default_factory=list)


async def receive_event(ctx: Context, org: Organisation, event: object) -> dict:
    """Queue the event's notifications, or raise EventRefused listing what to change (nothing written).

    All in ``ctx``'s transaction; the API renders between two transactions instead (``plan_event``,
    the renderer, ``queue_event``), so a costly text holds no lock.
    """
    plan = await plan_event(ctx, org, event)
    return await queue_event(ctx, org, plan, await ctx.templates.render_many(plan.jobs))


async def plan_event(ctx: Context, org: Organisation, event: object) -> EventPlan:
    """Check the event and find each template's recipients (reads only); raise EventRefused."""
    problems: list[str] = []
    if not isinstance(event, dict):
        raise EventRefused(['send JSON like {"id": "e1", "type": "work_shift", "customer": "k1", '
                            '"values": {"tid": "08:00"}}'])
    event_id, event_type, customer_id = event.get("id"), event.get("type"), event.get("customer")
    values = event.get("values", {})
    for key, value in (("id", event_id), ("type", event_type)):
        if not isinstance(value, str) or not 0 < len(value) <= 64 or not value.isprintable():
            problems.append(f"'{key}' must be a string of 1–64 printable characters")
    if customer_id is not None and (not isinstance(customer_id, str) or not 0 < len(customer_id) <= 64
                                    or not customer_id.isprintable()):
        problems.append("'customer' must be a customer's id as imported, or left out")
    if (not isinstance(values, dict) or len(values) > MAX_VALUES
            or not all(isinstance(k, str) and k.isidentifier() and _plain(v) for k, v in values.items())):
        problems.append(f"'values' must be an object of at most {MAX_VALUES} plain values (text, numbers), "
                        "with names like tid or adress")
    if problems:
        raise EventRefused(problems)
    # The loop above refused any id or type that is not a string.
    event_id, event_type = cast(str, event_id), cast(str, event_type)
    templates = await store.templates_for(ctx.session, org.id, event_type)
    if not templates:
        problems.append(f"there is no notification template for event type {event_type!r}; import one under "
                        "'notification_templates'")
    customer = await store.customer_by_external_id(ctx.session, org.id, customer_id) if customer_id else None
    if customer_id and customer is None:
        problems.append(f"'customer' {customer_id!r} is not stored; import the customer first")
    if problems:
        raise EventRefused(problems)
    staff = await store.staff_by_external_ids(ctx.session, org.id, [s for t in templates for s in t.staff_recipients])
    plan = EventPlan(event_id, event_type, customer.id if customer else None, values, [])
    for template in templates:
        recipients = [Recipient(s.name, s.email, s.mobile, s.id) for sid in template.staff_recipients
                      if (s := staff.get(sid)) is not None]
        # Staff the host no longer has (deactivated) are not told; say so rather than drop them quietly.
        plan.unreached += [render(org.locale, "event.staff_ended", template=template.external_id, staff=sid)
                           for sid in template.staff_recipients if sid not in staff]
        if customer is not None and customer.deactivated_at is None:
            recipients += [Recipient(c["name"], c.get("email"), c.get("mobile")) for c in customer.contacts or []
                           if set(c.get("roles", [])) & set(template.contact_roles)]
        elif customer is not None and template.contact_roles:  # the host no longer has the customer
            plan.unreached.append(render(org.locale, "event.customer_ended", template=template.external_id,
                                         customer=customer.name))
        plan.templates.append((template, recipients, len(plan.jobs)))
        plan.jobs += [RenderJob(template.text, {"kund": customer.name if customer else "", "mottagare": r.name,
                                                "rubrik": template.title, "typ": event_type, "händelse": values},
                                group=str(template.id), tenant=org.id) for r in recipients]
    return plan


async def queue_event(ctx: Context, org: Organisation, plan: EventPlan, results: list[Rendered]) -> dict:
    """Store the event once and queue its rendered notifications; raise EventRefused (nothing written)
    when a text needs a value the event lacks. A template whose text cannot be rendered otherwise
    (too costly, an error) fails alone: named with why among the unreached, the others go."""
    event_id, event_type = plan.event_id, plan.event_type
    for template, recipients, first in plan.templates:
        lacking = next((r for r in results[first:first + len(recipients)] if r.code == "undefined"), None)
        if lacking is not None:
            raise EventRefused([f"template {template.external_id!r} uses a value the event lacks "
                                f"({lacking.problem}); send it under 'values'"])
    new_id = await store.claim_event(ctx.session, {
        "org_id": org.id, "external_id": event_id, "event_type": event_type, "customer_id": plan.customer_id,
        "values": plan.values, "received_at": ctx.now})
    if new_id is None:  # the host sent it again: it was acted on the first time
        return {"event": event_id, "repeat": True, "queued": 0, "unreached": []}

    rows, unreached = [], list(plan.unreached)
    for template, recipients, first in plan.templates:
        mine = results[first:first + len(recipients)]
        bad = next((r for r in mine if not r.ok), None)
        if bad is not None:  # this template's messages fail alone, with why; the others go
            unreached.append(render(org.locale, "event.template_failed", template=template.external_id,
                                    why=bad.swedish))
            continue
        # Every rendering here is ok (checked above), and an ok one has its text.
        text_of = {id(r): cast(str, result.text) for r, result in zip(recipients, mine)}

        def body_for(recipient: Recipient, text_of: dict[int, str] = text_of) -> str:
            return text_of[id(recipient)]

        queued, missed = rows_to_addresses(
            ctx, org, recipients, KINDS[template.delivery], body_for,
            key_prefix=f"event:{new_id}:{template.id}:", kind="event-notification", subject=template.title)
        rows += queued
        unreached += missed if recipients else [render(org.locale, "event.no_recipients",
                                                       template=template.external_id)]
    await ctx.enqueue(rows)
    if unreached:
        event_row = await store.event_by_external_id(ctx.session, org.id, event_id)
        if event_row is None:  # claimed above, in this same transaction
            raise LookupError(f"event {event_id!r} of organisation {org.id!r} vanished after it was claimed")
        event_row.unreached = unreached
        await to_team(ctx, org, render(org.locale, "event.unreached", event=event_id, type=event_type,
                                       unreached="; ".join(unreached)), f"team-event-unreached:{new_id}")
    return {"event": event_id, "repeat": False, "queued": len(rows), "unreached": unreached}


async def follow_up(ctx: Context, org: Organisation, event_id: str) -> dict | None:
    """Every notification an event caused, with its status; None when the event is unknown."""
    event = await store.event_by_external_id(ctx.session, org.id, event_id)
    if event is None:
        return None
    messages = await store.outbox_by_key_prefixes(ctx.session, org.id, [f"event:{event.id}:"])
    return {"event": event.external_id, "type": event.event_type, "received_at": event.received_at.isoformat(),
            "unreached": event.unreached or [],
            "notifications": [{"channel": m.channel, "address": m.address, "status": m.status,
                               "sent_at": m.sent_at.isoformat() if m.sent_at else None} for m in messages]}
