"""Customer reminders falling due: each recipient by role gets the text by e-mail and/or SMS.

The tick runs in every process; a reminder is locked while one process queues it, and each message
carries a key made of the reminder, the due date and the address, so nothing goes twice.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache

from babel.dates import format_date

from core import commands as cmd
from core import store
from core.models import CustomerReminder, Organisation
from core.recipients import Recipient, StaffMember, resolve_recipients
from core.recurrence import next_due, parse_recurrence
from core.templates import render
from handlers.context import Context
from handlers.outbound import KINDS, rows_to_addresses, to_team

logger = logging.getLogger(__name__)
ROLE_NAMES = {"contacts": "kundens kontakter", "inspector": "områdets inspektörer", "admin": "administratörer"}


@dataclass
class CustomerReminderRun:
    reminders: int = 0  # reminders whose due date was sent
    messages: int = 0
    skipped_due_dates: int = 0  # older due dates passed over while the service was not running
    unreachable: list[str] = field(default_factory=list)  # "reminder: name" with no address for its delivery


def _latest_due_to_send(reminder: CustomerReminder, today: date) -> tuple[date, int]:
    """The newest due date whose send day has come, and how many older ones it passes over."""
    rule = parse_recurrence(reminder.recurrence, "stored reminder", [])
    due, skipped = reminder.next_due, 0
    while True:
        following = next_due(reminder.first_due, rule, after=due)
        if following is None or following - timedelta(days=reminder.days_before) > today:
            return due, skipped
        due, skipped = following, skipped + 1


@lru_cache(maxsize=512)  # a tick formats the same few due dates thousands of times
def long_date(due: date, locale: str) -> str:
    return format_date(due, "d MMMM y", locale=locale)


def _values(reminder: CustomerReminder, customer_name: str, recipient: Recipient, due: date, today: date,
            org: Organisation) -> dict:
    return {"kund": customer_name, "mottagare": recipient.name, "rubrik": reminder.title, "typ": reminder.type,
            "datum": long_date(due, org.locale or "sv"), "dagar_kvar": (due - today).days}


async def queue_due_customer_reminders(ctx: Context, limit: int = 500) -> CustomerReminderRun:
    """Queue every customer reminder whose send day has come (in its organisation's time zone)."""
    run = CustomerReminderRun()
    # Tomorrow in UTC covers every organisation's today; each is checked against its own below.
    reminders = await store.claim_due_customer_reminders(ctx.session, ctx.now.date() + timedelta(days=1), limit)
    if not reminders:
        return run
    orgs = await store.orgs_by_ids(ctx.session, [r.org_id for r in reminders])
    customers = await store.customers_by_ids(ctx.session, [r.customer_id for r in reminders])
    staff_of: dict[str, list[StaffMember]] = {}
    for s in await store.staff_with_roles(ctx.session, orgs, ("admin", "inspector")):
        staff_of.setdefault(s.org_id, []).append(StaffMember(s.id, s.name, tuple(s.role_list()), s.area, s.email,
                                                             s.mobile))
    rows: list[dict] = []
    for reminder in reminders:
        org, customer = orgs[reminder.org_id], customers[reminder.customer_id]
        today = ctx.today(org)
        if reminder.send_on > today:
            continue
        due, skipped = _latest_due_to_send(reminder, today)
        recipients = resolve_recipients(reminder.recipients, customer.contacts or [], customer.area,
                                        staff_of.get(reminder.org_id, []))
        queued, unreached = _rows_for(ctx, org, reminder, customer.name, recipients, due, today)
        rows += queued
        if not recipients:
            unreached = ["inga mottagare: " + ", ".join(ROLE_NAMES[r] for r in reminder.recipients)]
        reminder.last_unreached = unreached
        if unreached:
            # Nothing is lost quietly: the team hears who the reminder did not reach, and why.
            run.unreachable += [f"{reminder.external_id}: {u}" for u in unreached]
            await to_team(ctx, org, f"Kundpåminnelsen ”{reminder.title}” för {customer.name} "
                                    f"({long_date(due, org.locale or 'sv')}) nådde inte "
                                    f"{'någon' if not queued else 'alla'}: {'; '.join(unreached)}.",
                          f"team-customer-unreached:{reminder.id}:{due.isoformat()}")
        run.reminders += 1
        run.skipped_due_dates += skipped
        following = next_due(reminder.first_due, parse_recurrence(reminder.recurrence, "stored reminder", []),
                             after=due)
        reminder.last_sent_due, reminder.next_due = due, following
        reminder.send_on = following - timedelta(days=reminder.days_before) if following else None
    await store.enqueue(ctx.session, rows)
    run.messages = len(rows)
    logger.info("customer reminders: %d due, %d messages queued, %d older due dates passed over, %d unreachable",
                run.reminders, run.messages, run.skipped_due_dates, len(run.unreachable))
    return run


def delivery_key_prefix(reminder_id: int, due: date) -> str:
    return f"customer:{reminder_id}:{due.isoformat()}:"


async def follow_up(ctx: Context, org_id: str, customer: str | None = None, limit: int = 500) -> list[dict]:
    """Each reminder's schedule and what became of its last due date's messages, for host systems."""
    rows = await store.customer_reminder_rows(ctx.session, org_id, customer, limit)
    prefixes = {r.id: delivery_key_prefix(r.id, r.last_sent_due) for r, _ in rows if r.last_sent_due}
    deliveries: dict[int, list[dict]] = {}
    for msg in await store.outbox_by_key_prefixes(ctx.session, org_id, list(prefixes.values())):
        reminder_id = int(msg.idempotency_key.split(":")[1])
        deliveries.setdefault(reminder_id, []).append({
            "channel": msg.channel, "address": msg.address, "status": msg.status,
            "sent_at": msg.sent_at.isoformat() if msg.sent_at else None})
    return [{
        "id": r.external_id, "customer": customer_id, "type": r.type, "title": r.title, "delivery": r.delivery,
        "recipients": r.recipients, "active": r.active, "recurrence": r.recurrence,
        "next_due": _iso(r.next_due), "send_on": _iso(r.send_on), "last_sent_due": _iso(r.last_sent_due),
        "last_deliveries": deliveries.get(r.id, []), "last_unreached": r.last_unreached or [],
    } for r, customer_id in rows]


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _rows_for(ctx: Context, org: Organisation, reminder: CustomerReminder, customer_name: str,
              recipients: list[Recipient], due: date, today: date) -> tuple[list[dict], list[str]]:
    return rows_to_addresses(
        ctx, org, recipients, KINDS[reminder.delivery],
        lambda r: render(reminder.text, _values(reminder, customer_name, r, due, today, org)),
        key_prefix=delivery_key_prefix(reminder.id, due), kind="customer-reminder",
        subject=f"{reminder.title}: {customer_name}")


async def contact_wrote(ctx: Context, mobile: str, command, body: str, provider_key: str) -> list[str]:
    """A customer's contact texted us (an answer to a reminder): pass it on to each organisation's team.

    Contacts are the host system's data, so a STOPP is passed on as a request to remove the number
    there; nothing is answered to a number that is no one's contact.
    """
    matches = await store.customers_with_contact(ctx.session, mobile)
    if not matches:
        return []
    orgs = await store.orgs_by_ids(ctx.session, [c.org_id for c, _ in matches])
    stop = isinstance(command, cmd.Stop)
    told = False
    for customer, contact in matches:
        who = f"{contact['name']} ({customer.name})"
        message = (f"{who} vill inte få fler SMS från oss (STOPP): ta bort numret i kundregistret." if stop
                   else f"Svar från {who}: {body}")
        told |= await to_team(ctx, orgs[customer.org_id], message, f"team-contact:{provider_key}:{customer.id}")
    names = " och ".join(sorted({orgs[c.org_id].name for c, _ in matches}))
    if stop:
        return [f"Tack. {names} har fått besked om att du inte vill få fler SMS härifrån."]
    if told:
        return [f"Tack! Ditt svar har skickats vidare till {names}."]
    return [f"Det här numret tar bara emot påminnelser. Kontakta {names} direkt."]
