"""Customer reminders falling due: each recipient by role gets the text by e-mail and/or SMS.

The tick runs in every process; a reminder is locked while one process queues it, and each message
carries a key made of the reminder, the due date and the address, so nothing goes twice.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import cast

from babel.dates import format_date

from core import commands as cmd
from core import store
from core.catalogue import language, render, text
from core.models import CustomerReminder, Organisation
from core.recipients import Recipient, StaffMember, resolve_recipients
from core.recurrence import Schedule, next_schedule
from core.replies import Reply
from core.templates import Rendered, RenderJob, TenantTime
from handlers.context import Context
from handlers.outbound import KINDS, rows_to_addresses, to_team

logger = logging.getLogger(__name__)


def role_name(role: str, locale: str | None = "sv") -> str:
    """A recipient role as the team reads it: ``kundens kontakter``, ``områdets inspektörer``, ..."""
    return render(locale, f"customer.role.{role}")


def _locale(org: Organisation | None) -> str:
    return language(org.locale if org is not None else None)


@dataclass
class CustomerReminderRun:
    reminders: int = 0  # reminders whose due date was sent
    messages: int = 0
    skipped_due_dates: int = 0  # older due dates passed over while the service was not running
    unreachable: list[str] = field(default_factory=list)  # "reminder: name" with no address for its delivery
    failed: list[str] = field(default_factory=list)  # "reminder: why": marked, passed over until changed
    deferred: int = 0  # left for the next tick: their organisation used its rendering time on this one

    def add(self, other: "CustomerReminderRun") -> None:
        self.reminders += other.reminders
        self.messages += other.messages
        self.skipped_due_dates += other.skipped_due_dates
        self.unreachable += other.unreachable
        self.failed += other.failed
        self.deferred += other.deferred


# Rendering time one organisation may use in one tick; the rest of its due reminders wait for the
# next tick, so a costly organisation cannot hold up another's reminders.
TICK_SECONDS_PER_ORG = 2.0


def tick_time() -> TenantTime:
    """Rendering time per organisation, kept across the batches of one tick."""
    return TenantTime(TICK_SECONDS_PER_ORG)


def _latest_due_to_send(reminder: CustomerReminder, today: date) -> tuple[date, int]:
    """The newest due date whose send day has come, and how many older ones it passes over."""
    if reminder.next_due is None:  # an ended rule has no send day, so is never selected as due
        raise ValueError(f"customer reminder {reminder.id} has ended: no due date to send")
    due, skipped = reminder.next_due, 0
    while True:
        following = next_schedule(reminder.first_due, reminder.recurrence, reminder.days_before, after=due)
        # Both are None once the rule has ended.
        if following.next_due is None or following.send_on is None or following.send_on > today:
            return due, skipped
        due, skipped = following.next_due, skipped + 1


@lru_cache(maxsize=512)  # a tick formats the same few due dates thousands of times
def long_date(due: date, locale: str) -> str:
    return format_date(due, "d MMMM y", locale=locale)


def _values(reminder: CustomerReminder, customer_name: str, recipient: Recipient, due: date, today: date,
            org: Organisation) -> dict:
    return {"kund": customer_name, "mottagare": recipient.name, "rubrik": reminder.title, "typ": reminder.type,
            "datum": long_date(due, org.locale or "sv"), "dagar_kvar": (due - today).days}


@dataclass
class _Due:
    """One reminder's due date on its way: who gets it, and where its texts are among the batch's jobs."""

    reminder: CustomerReminder  # as read when planned; the row written is read again (``queue_planned``)
    org: Organisation
    customer_name: str
    due: date
    skipped: int
    today: date
    recipients: list[Recipient]
    first_job: int


@dataclass
class _Failure:
    reminder: CustomerReminder
    org: Organisation
    customer_name: str
    problem: str  # English: the follow-up report
    swedish: str  # the team chat (in the organisation's language when ours; a template's problem is Swedish)


@dataclass
class DueBatch:
    """A batch of due reminders worked out, with the texts to render for them (``jobs``)."""

    claimed: int = 0  # 0: nothing is due any more
    dues: list[_Due] = field(default_factory=list)
    failures: list[_Failure] = field(default_factory=list)
    jobs: list[RenderJob] = field(default_factory=list)


def _unreadable(reminder: CustomerReminder, org: Organisation, customer_name: str, exc: Exception) -> _Failure:
    """A stored row this version cannot work out: it fails alone (no values in the log)."""
    logger.error("customer reminder %s could not be worked out: %s", reminder.id, type(exc).__name__)
    return _Failure(reminder, org, customer_name, f"could not be worked out ({type(exc).__name__})",
                    render(_locale(org), "customer.not_worked_out"))


async def plan_due_customer_reminders(ctx: Context, limit: int = 500,
                                      tick: TenantTime | None = None) -> DueBatch:
    """Read the next batch of reminders whose send day has come (in each organisation's time zone)
    and work out each one's due date, recipients and texts to render. Reads only.

    The texts are rendered after this transaction (``Renderer.render_many(batch.jobs)``), so a
    costly one holds no lock, and written by ``queue_planned`` in the next.
    """
    tick = tick or tick_time()
    # Tomorrow in UTC covers every organisation's today; each is checked against its own below.
    reminders = await store.claim_due_customer_reminders(ctx.session, ctx.now.date() + timedelta(days=1), limit,
                                                         skip_orgs=tick.exhausted())
    batch = DueBatch(claimed=len(reminders))
    if not reminders:
        return batch
    orgs = await store.orgs_by_ids(ctx.session, [r.org_id for r in reminders])
    customers = await store.customers_by_ids(ctx.session, [r.customer_id for r in reminders])
    staff_of: dict[str, list[StaffMember]] = {}
    for s in await store.staff_with_roles(ctx.session, orgs, ("admin", "inspector")):
        staff_of.setdefault(s.org_id, []).append(StaffMember(s.id, s.name, tuple(s.role_list()), s.area, s.email,
                                                             s.mobile))
    for reminder in reminders:
        org, customer = orgs[reminder.org_id], customers[reminder.customer_id]
        try:
            item = _plan(ctx, reminder, org, customer, staff_of.get(reminder.org_id, []), batch.jobs)
        except Exception as exc:
            batch.failures.append(_unreadable(reminder, org, customer.name, exc))
            continue
        if item is not None:
            batch.dues.append(item)
    return batch


async def queue_planned(ctx: Context, batch: DueBatch, results: list[Rendered]) -> CustomerReminderRun:
    """Queue the batch's messages with their rendered texts, in one transaction.

    Each reminder stands alone: one that cannot be worked out or rendered is marked failed with why
    (the team hears it once; the tick passes it over until an import changes it) and the rest go on.
    A reminder that changed since it was planned (another process queued it, an import changed
    it) or that another process holds now is left for the next tick.
    """
    run, rows, changes = CustomerReminderRun(), [], []
    planned = [d.reminder for d in batch.dues] + [f.reminder for f in batch.failures]
    state = await store.lock_customer_reminders(ctx.session, [r.id for r in planned])
    current = {r.id for r in planned if state.get(r.id) == store.customer_reminder_state(r)}
    failures = [f for f in batch.failures if f.reminder.id in current]
    for item in batch.dues:
        if item.reminder.id not in current:
            continue
        mine = results[item.first_job:item.first_job + len(item.recipients)]
        bad = next((r for r in mine if not r.ok and r.code != "deferred"), None)
        if bad is None and any(r.code == "deferred" for r in mine):
            run.deferred += 1  # still due and unmarked: the next tick takes it
            continue
        if bad is not None:
            failures.append(_Failure(item.reminder, item.org, item.customer_name, bad.reason, bad.swedish))
            continue
        try:
            # None failed or was deferred (checked above), and an ok rendering has its text.
            queued, unreached, following = _outcome(ctx, item, [cast(str, r.text) for r in mine])
        except Exception as exc:
            failures.append(_unreadable(item.reminder, item.org, item.customer_name, exc))
            continue
        changes.append(await _queue(ctx, item, queued, unreached, following, run))
        rows += queued
    for failure in failures:
        changes.append(await _mark_failed(ctx, failure, run))
    await store.update_customer_reminders(ctx.session, changes)
    await ctx.enqueue(rows)
    run.messages = len(rows)
    logger.info("customer reminders: %d due, %d messages queued, %d older due dates passed over, %d unreachable, "
                "%d failed, %d deferred", run.reminders, run.messages, run.skipped_due_dates, len(run.unreachable),
                len(run.failed), run.deferred)
    return run


def _plan(ctx: Context, reminder: CustomerReminder, org: Organisation, customer, staff: list[StaffMember],
          jobs: list[RenderJob]) -> _Due | None:
    """The due date to send and its recipients, with a render job per recipient; None if not yet due."""
    today = ctx.today(org)
    if reminder.send_on is None or reminder.send_on > today:  # None: the rule has ended
        return None
    due, skipped = _latest_due_to_send(reminder, today)
    recipients = resolve_recipients(reminder.recipients, customer.contacts or [], customer.area, staff)
    item = _Due(reminder, org, customer.name, due, skipped, today, recipients, len(jobs))
    jobs += [RenderJob(reminder.text, _values(reminder, customer.name, r, due, today, org), group=str(reminder.id),
                       tenant=reminder.org_id) for r in recipients]
    return item


def _outcome(ctx: Context, item: _Due, bodies: list[str]) -> tuple[list[dict], list[str], Schedule]:
    """The due date's outbox rows, whom it does not reach and why, and the next due date (pure)."""
    reminder = item.reminder
    text_of = {id(r): body for r, body in zip(item.recipients, bodies)}
    queued, unreached = rows_to_addresses(
        ctx, item.org, item.recipients, KINDS[reminder.delivery], lambda r: text_of[id(r)],
        key_prefix=delivery_key_prefix(reminder.id, item.due), kind="customer-reminder",
        subject=f"{reminder.title}: {item.customer_name}")
    if not item.recipients:
        loc = _locale(item.org)
        roles = ", ".join(role_name(r, loc) for r in reminder.recipients)
        unreached = [render(loc, "customer.no_recipients", roles=roles)]
    following = next_schedule(reminder.first_due, reminder.recurrence, reminder.days_before, after=item.due)
    return queued, unreached, following


async def _queue(ctx: Context, item: _Due, queued: list[dict], unreached: list[str], following: Schedule,
                 run: CustomerReminderRun) -> dict:
    """The due date as sent and the schedule moved on (the reminder's change); the team hears whom
    it did not reach."""
    reminder, org = item.reminder, item.org
    if unreached:
        # Nothing is lost quietly: the team hears who the reminder did not reach, and why.
        run.unreachable += [f"{reminder.external_id}: {u}" for u in unreached]
        body = render(org.locale, "customer.unreached.some" if queued else "customer.unreached.none",
                      title=reminder.title, customer=item.customer_name, due=long_date(item.due, org.locale or "sv"),
                      unreached="; ".join(unreached))
        await to_team(ctx, org, body, f"team-customer-unreached:{reminder.id}:{item.due.isoformat()}")
    run.reminders += 1
    run.skipped_due_dates += item.skipped
    return {"id": reminder.id, "last_unreached": unreached, "last_sent_due": item.due, **following.columns()}


async def _mark_failed(ctx: Context, failure: _Failure, run: CustomerReminderRun) -> dict:
    """The reminder marked failed with why (its change); the team hears it once. Its due date stays,
    for after the fix."""
    reminder, org = failure.reminder, failure.org
    run.failed.append(f"{reminder.external_id}: {failure.problem}")
    loc = _locale(org)
    due = long_date(reminder.next_due, org.locale or "sv") if reminder.next_due else text(loc, "customer.unknown_date")
    await to_team(ctx, org, render(loc, "customer.failed", title=reminder.title, customer=failure.customer_name,
                                   due=due, why=failure.swedish),
                  f"team-customer-failed:{reminder.id}:{int(ctx.now.timestamp())}")
    return {"id": reminder.id, "failed_reason": failure.problem[:300]}


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
        "failed": {"due": _iso(r.next_due), "reason": r.failed_reason} if r.failed_reason else None,
    } for r, customer_id in rows]


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


async def contact_wrote(ctx: Context, mobile: str, command, body: str, provider_key: str) -> list[Reply]:
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
        org = orgs[customer.org_id]
        who = f"{contact['name']} ({customer.name})"
        message = (render(org.locale, "contact.stop.team", who=who) if stop
                   else render(org.locale, "contact.reply.team", who=who, body=body))
        told |= await to_team(ctx, org, message, f"team-contact:{provider_key}:{customer.id}")
    # The contact is answered in the language of the (first) organisation whose reminder they answer.
    loc = _locale(orgs[matches[0][0].org_id])
    names = text(loc, "list.and").join(sorted({orgs[c.org_id].name for c, _ in matches}))
    key = "contact.stopped" if stop else "contact.forwarded" if told else "contact.no_team"
    return [Reply.of(loc, key, names=names)]
