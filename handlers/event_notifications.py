"""Event notifications: a host system reports an event; each template for its type tells its recipients.

Recipients are static (named staff) and dynamic (the event's customer's contacts holding a role, e.g.
notification_recipient). An event is acted on once per host id; the follow-up report shows what
became of every message.
"""
from __future__ import annotations

from jinja2 import UndefinedError

from core import store
from core.models import Organisation
from core.recipients import Recipient
from core.templates import render
from handlers.context import Context
from handlers.outbound import KINDS, rows_to_addresses, to_team

MAX_VALUES = 50


class EventRefused(ValueError):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


def _plain(value: object) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


async def receive_event(ctx: Context, org: Organisation, event: object) -> dict:
    """Queue the event's notifications, or raise EventRefused listing what to change (nothing written)."""
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
    templates = await store.templates_for(ctx.session, org.id, event_type)
    if not templates:
        problems.append(f"there is no notification template for event type {event_type!r}; import one under "
                        "'notification_templates'")
    customer = await store.customer_by_external_id(ctx.session, org.id, customer_id) if customer_id else None
    if customer_id and customer is None:
        problems.append(f"'customer' {customer_id!r} is not stored; import the customer first")
    if problems:
        raise EventRefused(problems)
    new_id = await store.claim_event(ctx.session, {
        "org_id": org.id, "external_id": event_id, "event_type": event_type,
        "customer_id": customer.id if customer else None, "values": values, "received_at": ctx.now})
    if new_id is None:  # the host sent it again: it was acted on the first time
        return {"event": event_id, "repeat": True, "queued": 0, "unreached": []}

    staff = await store.staff_by_external_ids(ctx.session, org.id, [s for t in templates for s in t.staff_recipients])
    rows, unreached = [], []
    for template in templates:
        recipients = [Recipient(s.name, s.email, s.mobile, s.id) for sid in template.staff_recipients
                      if (s := staff.get(sid)) is not None]
        # Staff the host no longer has (deactivated) are not told; say so rather than drop them quietly.
        unreached += [f"mall {template.external_id}: personal {sid} är avslutad" for sid in template.staff_recipients
                      if sid not in staff]
        if customer is not None and customer.deactivated_at is None:
            recipients += [Recipient(c["name"], c.get("email"), c.get("mobile")) for c in customer.contacts or []
                           if set(c.get("roles", [])) & set(template.contact_roles)]
        elif customer is not None and template.contact_roles:  # the host no longer has the customer
            unreached.append(f"mall {template.external_id}: kunden {customer.name} är avslutad, "
                             "dess kontakter fick inget")

        def body_for(recipient: Recipient) -> str:
            try:
                return render(template.text, {"kund": customer.name if customer else "", "mottagare": recipient.name,
                                              "rubrik": template.title, "typ": event_type, "händelse": values})
            except UndefinedError as exc:
                raise EventRefused([f"template {template.external_id!r} uses a value the event lacks ({exc.message});"
                                    " send it under 'values'"]) from None

        queued, missed = rows_to_addresses(
            ctx, org, recipients, KINDS[template.delivery], body_for, key_prefix=f"event:{new_id}:{template.id}:",
            kind="event-notification", subject=template.title)
        rows += queued
        unreached += missed if recipients else [f"mall {template.external_id}: inga mottagare"]
    await store.enqueue(ctx.session, rows)
    if unreached:
        event_row = await store.event_by_external_id(ctx.session, org.id, event_id)
        event_row.unreached = unreached
        await to_team(ctx, org, f"Händelsen {event_id} ({event_type}) nådde inte alla: {'; '.join(unreached)}.",
                      f"team-event-unreached:{new_id}")
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
