"""Automatic rounds and escalation, run from the scheduler tick in every process (and ``paminn send-due``).

An organisation's ``auto_rounds`` slots (day of month and local time) run ``PÅMINN ALLA <last month>``
for the whole organisation, through the coordinator's own ``remind_all``: the same selection, the
same 2-hour rule, the same team chat line. Each slot is claimed in the database in the transaction
that queues the round, so it runs exactly once however many processes tick and however often the
service restarts. The coordinators get the round's summary as if they had asked.

Escalation: an assistant still unfinished after ``escalate_after`` accepted reminders for a month is
listed, once per month, to the supervisors of the care recipients with their unfinished shifts and
to the coordinators, one gathered message per recipient. See docs/auto-rounds.md.
"""
from __future__ import annotations

import logging
from calendar import monthrange
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from core import commands as cmd
from core import store
from core.catalogue import render
from core.importer import DEFAULT_ESCALATE_AFTER
from core.models import Organisation, Staff
from core.months import Month, MonthSpec, month_label
from core.quiet import next_allowed
from handlers.context import Context
from handlers.coordinator import locale_of, remind_all
from handlers.outbound import person_row

logger = logging.getLogger(__name__)

# A slot missed while the service was down still runs when it comes back within this long
# (and outside quiet hours); older slots are passed over: a round a day late helps no one.
CATCH_UP = timedelta(hours=12)


@dataclass
class AutoRun:
    rounds: int = 0  # slots this process ran
    summaries: int = 0  # summaries queued to coordinators
    escalated: int = 0  # assistants escalated
    escalation_messages: int = 0
    failed_orgs: list[str] = field(default_factory=list)

    @property
    def messages(self) -> int:
        return self.summaries + self.escalation_messages

    def add(self, other: "AutoRun") -> None:
        self.rounds += other.rounds
        self.summaries += other.summaries
        self.escalated += other.escalated
        self.escalation_messages += other.escalation_messages
        self.failed_orgs += other.failed_orgs


def _slot_days(day: date, wanted: int) -> bool:
    """Is ``day`` the slot's day of its month (``-1``: the month's last day)?"""
    if wanted == -1:
        return day.day == monthrange(day.year, day.month)[1]
    return day.day == wanted


def due_slot(org: Organisation, ctx: Context) -> datetime | None:
    """The latest slot at or before now and within ``CATCH_UP``, as UTC; None when there is none or
    now is inside the organisation's quiet hours (a slot missed into them runs when they end, if still
    within ``CATCH_UP``)."""
    tz = ZoneInfo(ctx.tz(org))
    local_now = ctx.local(org, ctx.now)
    quiet = ctx.quiet(org)
    if quiet is not None and quiet.contains(local_now.time()):
        return None
    best = None
    for back in (0, 1):  # today and yesterday hold every slot of the last 12 hours
        day = local_now.date() - timedelta(days=back)
        for slot in org.auto_rounds or []:
            if not _slot_days(day, slot["day"]):
                continue
            at = datetime.combine(day, time.fromisoformat(slot["time"]), tzinfo=tz).astimezone(timezone.utc)
            if at <= ctx.now < at + CATCH_UP and (best is None or at > best):
                best = at
    return best


def slot_month(org: Organisation, ctx: Context, slot_at: datetime) -> Month:
    """The month a slot reminds about: the one before the slot's local date."""
    local = ctx.local(org, slot_at)
    return Month(local.year, local.month).shift(-1)


async def run_slot(ctx: Context, org: Organisation, slot_at: datetime) -> int | None:
    """Claim the slot and run its round; the number of summaries queued, or None if already claimed."""
    month = slot_month(org, ctx, slot_at)
    slot_id = await store.claim_auto_round_slot(ctx.session, org.id, slot_at, month.key, ctx.now)
    if slot_id is None:
        return None
    loc = locale_of(org)
    # The round is nobody's: a coordinator-scoped stand-in that is never stored (requested_by stays empty).
    actor = Staff(id=None, org_id=org.id, name=render(loc, "auto.actor"), roles="coordinator")
    replies = await remind_all(ctx, actor, cmd.RemindAll(month=MonthSpec(month=month.month, year=month.year)))
    await store.link_slot_round(ctx.session, slot_id, org.id, month.key, ctx.now)
    body = render(loc, "auto.summary", summary="\n".join(reply.text for reply in replies))
    routed = [person_row(ctx, coordinator, body, kind="reply", key=f"auto-summary:{slot_id}:{coordinator.id}")
              for coordinator in await store.staff_with_roles(ctx.session, [org.id], ("coordinator",))]
    rows = [r for r in routed if r is not None]  # a coordinator with no way to reach them gets none
    await ctx.enqueue(rows)
    logger.info("automatic round for organisation %s, month %s: %d summaries", org.id, month.key, len(rows))
    return len(rows)


async def escalate(ctx: Context, org: Organisation, month: Month) -> tuple[int, int]:
    """List the month's assistants still unfinished after the organisation's number of accepted
    reminders, once each; returns (assistants escalated, messages queued)."""
    threshold = org.escalate_after or DEFAULT_ESCALATE_AFTER
    counts = await store.accepted_reminder_counts(ctx.session, org.id, month.key)
    over = {staff_id: n for staff_id, n in counts.items() if n >= threshold}
    if not over:
        return 0, 0
    tz = ctx.tz(org)
    # Still unfinished now (and active): the month's candidates among them.
    unfinished = {c.staff_id: c for c in await store.select_candidates(ctx.session, org.id, month, tz,
                                                                       staff_ids=set(over))}
    claimed = await store.claim_escalations(ctx.session, org.id, month.key,
                                            {s: over[s] for s in unfinished}, ctx.now)
    if not claimed:
        return 0, 0
    # Who hears of whom: coordinators of everyone; supervisors of those working for their care recipients.
    told: dict[int, set[int]] = {}
    coordinators = await store.staff_with_roles(ctx.session, [org.id], ("coordinator",))
    for coordinator in coordinators:
        told.setdefault(coordinator.id, set()).update(claimed)
    by_supervisor = await store.supervisors_of_unfinished(ctx.session, org.id, month, tz, claimed)
    people = {s.id: s for s in coordinators}
    people.update({s.id: s for s in await store.staff_by_ids(ctx.session, sorted(by_supervisor))
                   if s.org_id == org.id and s.deactivated_at is None})
    for supervisor_id, assistants in by_supervisor.items():
        if supervisor_id in people:
            told.setdefault(supervisor_id, set()).update(assistants)
    loc = locale_of(org)
    head = render(loc, "escalation.head", month=month_label(month, loc), times=threshold)
    not_before = next_allowed(ctx.now, ctx.quiet(org), tz)
    # The batch's key part: an assistant is escalated once per month, so the smallest id among
    # those claimed now names this batch alone; a later batch is a new message.
    batch = min(claimed)
    rows = []
    for recipient_id, assistants in sorted(told.items()):
        names = sorted(unfinished[a].name for a in assistants if a != recipient_id)
        if not names:
            continue
        body = "\n".join([head, *(render(loc, "escalation.person", name=n) for n in names)])
        row = person_row(ctx, people[recipient_id], body, kind="escalation", not_before=not_before,
                         key=f"escalation:{org.id}:{month.key}:{batch}:{recipient_id}")
        if row is not None:
            rows.append(row)
    await ctx.enqueue(rows)
    logger.info("escalation for organisation %s, month %s: %d assistants, %d messages", org.id, month.key,
                len(claimed), len(rows))
    return len(claimed), len(rows)


def escalation_months(org: Organisation, ctx: Context) -> list[Month]:
    today = ctx.today(org)
    current = Month(today.year, today.month)
    return [current.shift(-1), current]


async def run_auto_rounds(services) -> AutoRun:
    """One tick: every organisation's due slot, then escalation; each organisation in its own
    transaction, so one that fails (logged, tried again next tick) holds up no other."""
    run = AutoRun()

    async def slot(ctx: Context, org: Organisation) -> AutoRun | None:
        slot_at = due_slot(org, ctx) if org.auto_rounds else None  # turned off since the list was read
        queued = await run_slot(ctx, org, slot_at) if slot_at is not None else None
        return None if queued is None else AutoRun(rounds=1, summaries=queued)

    async def escalation(ctx: Context, org: Organisation) -> AutoRun:
        done = AutoRun()
        for month in escalation_months(org, ctx):
            people, messages = await escalate(ctx, org, month)
            done.escalated += people
            done.escalation_messages += messages
        return done

    async with services.sessions.begin() as session:
        auto_ids = [org.id for org in await store.orgs_with_auto_rounds(session)]
    await _each_org(services, auto_ids, slot, run, "automatic round")
    async with services.sessions.begin() as session:
        all_ids = [org.id for org in await store.all_orgs(session)]
    await _each_org(services, all_ids, escalation, run, "escalation")
    return run


async def _each_org(services, org_ids: list[str], act, run: AutoRun, what: str) -> None:
    """``act(ctx, org)`` for each organisation in a transaction of its own, counted into ``run`` once
    committed; a failure is logged and named by the id read before (a rolled-back row is unreadable)."""
    for org_id in org_ids:
        try:
            async with services.sessions.begin() as session:
                org = await store.get_org(session, org_id)  # as it is now, in this transaction
                done = await act(services.context(session), org) if org is not None else None  # None: deleted
            if done is not None:
                run.add(done)
        except Exception:
            logger.exception("%s for organisation %s failed; the next tick tries again", what, org_id)
            run.failed_orgs.append(org_id)
