"""The coordinator's conversation: PÅMINN ALLA, PÅMINN <name>, STATUS, in the organisation's language."""
from __future__ import annotations

from typing import NamedTuple

from core import commands as cmd
from core import store
from core.catalogue import language, render, render_plural, text
from core.eligibility import Reason, evaluate, split
from core.messages import RoundSummary, implicit_month_note, limit_list, reminder_text, round_reply, team_round_text
from core.models import CareRecipient, Organisation, Staff
from core.months import Month, MonthSpec, month_label, month_name, resolve_month
from core.phones import display, region_for, try_e164
from core.quiet import next_allowed
from core.replies import Reply, StatusFilters
from core.segments import count_segments
from handlers.context import Context, has_full_scope, require_org
from handlers.outbound import person_row, to_team


class Refusal(Exception):
    """A command that cannot go ahead; the reply says what to change."""

    def __init__(self, locale: str, key: str, **values) -> None:
        self.reply = Reply.of(locale, key, **values)
        super().__init__(self.reply.text)


def locale_of(org: Organisation | None) -> str:
    return language(org.locale if org is not None else None)


def region_of(ctx: Context, org: Organisation) -> str:
    """The country national phone numbers are read in: see core.phones.region_for."""
    return region_for(org.timezone, org.locale, ctx.default_timezone)


def _resolve_month(ctx: Context, org: Organisation, spec: MonthSpec | None) -> tuple[Month, str]:
    """The month meant, and a note to add when a month without a year was taken from last year."""
    loc = locale_of(org)
    today = ctx.today(org)
    month = resolve_month(spec, today)
    current = Month(today.year, today.month)
    if month > current:
        raise Refusal(loc, "month.not_started", month=month_label(month, loc),
                      example=month_label(current.shift(-1), loc))
    note = ""
    if spec is not None and spec.month is not None and spec.year is None and month.year != today.year:
        note = render(loc, "month.without_year", name=month_name(month, loc), month=month_label(month, loc))
    return month, note


async def _scope(ctx: Context, staff: Staff, command, loc: str) -> tuple[set[int] | None, str]:
    """The care recipients the command covers (None: all) and how to describe the narrowing.

    ``BRUKARE`` and ``ARBETSLEDARE`` may come together: the command then covers that care
    recipient when the supervisor supervises them.
    """
    ids = None if has_full_scope(staff) else await store.supervised_recipient_ids(ctx.session, staff.id)
    parts: list[str] = []
    recipient_name = supervisor_name = None
    if getattr(command, "recipient", None):
        written = command.recipient_written or command.recipient
        found = await store.find_by_name(ctx.session, CareRecipient, staff.org_id, command.recipient)
        if ids is not None:
            found = [r for r in found if r.id in ids]
        if not found:
            raise Refusal(loc, "find.no_recipient", name=written)
        if len(found) > 1:
            raise Refusal(loc, "find.many_recipients", names=", ".join(r.name for r in found[:5]))
        ids, recipient_name = {found[0].id}, found[0].name
        parts.append(render(loc, "scope.recipient", name=recipient_name))
    if getattr(command, "supervisor", None):
        written = command.supervisor_written or command.supervisor
        found = [s for s in await store.find_by_name(ctx.session, Staff, staff.org_id, command.supervisor)
                 if "supervisor" in s.role_list() or "coordinator" in s.role_list()]
        if not found:
            raise Refusal(loc, "find.no_supervisor", name=written)
        if len(found) > 1:
            raise Refusal(loc, "find.many_supervisors", names=", ".join(s.name for s in found[:5]))
        supervised = await store.supervised_recipient_ids(ctx.session, found[0].id)
        supervisor_name = found[0].name
        # A named care recipient set ``ids`` to just them above.
        if recipient_name is not None and ids is not None and not (supervised & ids):
            raise Refusal(loc, "find.not_supervised", supervisor=supervisor_name, recipient=recipient_name)
        ids = supervised if ids is None else supervised & ids
        parts.append(render(loc, "scope.supervisor", name=supervisor_name))
    return ids, text(loc, "scope.join").join(parts)


def _deferred(ctx: Context, org: Organisation):
    """When reminders may go out now (``now`` outside quiet hours) and the local time to mention if later."""
    when = next_allowed(ctx.now, ctx.quiet(org), ctx.tz(org))
    return when, (ctx.local(org, when).strftime("%H:%M") if when > ctx.now else None)


class Asked(NamedTuple):
    """What a month command asks about: the organisation, its language, the month (and a note on its
    year), the care recipients it covers (None: all) and how the narrowing is described."""

    org: Organisation
    locale: str
    month: Month
    note: str
    recipients: set[int] | None
    scope_text: str


async def _month_and_scope(ctx: Context, staff: Staff, command) -> Asked:
    """The prelude every month command shares; raises Refusal with the reply that says what to change."""
    org = await require_org(ctx, staff.org_id)
    loc = locale_of(org)
    month, note = _resolve_month(ctx, org, command.month)
    recipients, scope_text = await _scope(ctx, staff, command, loc)
    return Asked(org, loc, month, note, recipients, scope_text)


async def remind_all(ctx: Context, staff: Staff, command: cmd.RemindAll) -> list[Reply]:
    try:
        org, loc, month, note, recipients, scope_text = await _month_and_scope(ctx, staff, command)
    except Refusal as exc:
        return [exc.reply]
    await store.lock_org_for_round(ctx.session, org.id)
    candidates = await store.select_candidates(ctx.session, org.id, month, ctx.tz(org), recipient_ids=recipients)
    with_shifts = await store.count_with_shifts(ctx.session, org.id, month, ctx.tz(org), recipient_ids=recipients)
    due, counts = split(candidates, ctx.now, done=with_shifts - len(candidates))
    sent, segments, deferred = 0, 0, None
    if due:  # a round that can reach nobody is no round: nothing recorded, nothing told to the team
        rnd, sent, deferred = await _queue_round(ctx, org, staff, month, scope_text, due)
        segments = rnd.segments
        unreachable = len(due) - sent
        counts[Reason.DUE] -= unreachable
        counts[Reason.NO_MOBILE] += unreachable
        rnd.held_back = {r.value: n for r, n in counts.items() if r is not Reason.DUE and n}
    summary = RoundSummary(month=month, sent=sent, segments=segments, counts=dict(counts), scope=scope_text,
                           implicit_month=command.month is None, deferred_until=deferred, locale=loc,
                           month_note=note)
    if sent:
        await to_team(ctx, org, team_round_text(staff.name, summary), f"team-round:{rnd.id}")
    return [Reply(round_reply(summary), key="round", locale=loc)]


async def _queue_round(ctx: Context, org: Organisation, staff: Staff, month: Month, scope_text: str,
                       people: list) -> tuple:
    """Record a round and queue the reminder to each reachable person, with their history rows.

    Returns the round, how many were queued, and the local time they go out if quiet hours hold them.
    """
    not_before, deferred = _deferred(ctx, org)
    body = reminder_text(org.app_name, org.app_link, month, org.locale)
    rnd = await store.add_round(ctx.session, org_id=org.id, month=month.key, requested_by=staff.id, scope=scope_text,
                                created_at=ctx.now, sent=0, segments=0, held_back={})
    rows, history = [], []
    for person in people:
        key = f"reminder:{rnd.id}:{person.id}"
        row = person_row(ctx, person, body, kind="reminder", key=key, not_before=not_before)
        if row is None:
            continue
        rows.append(row)
        history.append({"org_id": org.id, "staff_id": person.id, "month": month.key, "sent_at": ctx.now,
                        "round_id": rnd.id, "idempotency_key": key})
    await ctx.enqueue(rows)
    await store.add_history(ctx.session, history)
    rnd.sent, rnd.segments = len(rows), count_segments(body).segments * len(rows)
    return rnd, len(rows), deferred


async def _find_person(ctx: Context, command: cmd.RemindOne, recipients: set[int] | None, month: Month,
                       org: Organisation) -> Staff:
    loc, region = locale_of(org), region_of(ctx, org)
    mobile = try_e164(command.who, region)
    if mobile:
        found = [s for s in await store.staff_by_mobile(ctx.session, mobile, include_deactivated=True)
                 if s.org_id == org.id]
    else:
        found = await store.find_by_name(ctx.session, Staff, org.id, command.who)
    active = [s for s in found if s.deactivated_at is None]
    if found and not active:  # the host system no longer has them: say so rather than "no one"
        raise Refusal(loc, "find.deactivated", name=found[0].name)
    found = active
    if recipients is not None and found:
        lo, hi = month.bounds_utc(ctx.tz(org))
        in_scope = await store.staff_ids_with_shifts(ctx.session, [s.id for s in found], lo, hi, recipients)
        found = [s for s in found if s.id in in_scope]
    who = command.who_written or command.who
    if not found:
        raise Refusal(loc, "find.no_person", who=who)
    if len(found) > 1:
        no_mobile = text(loc, "find.no_mobile")
        options = "; ".join(f"{s.name} ({display(s.mobile, region) if s.mobile else no_mobile})" for s in found[:5])
        raise Refusal(loc, "find.many_people", who=who, options=options)
    return found[0]


async def remind_one(ctx: Context, staff: Staff, command: cmd.RemindOne) -> list[Reply]:
    try:
        org, loc, month, note, recipients, _ = await _month_and_scope(ctx, staff, command)
        person = await _find_person(ctx, command, recipients, month, org)
    except Refusal as exc:
        return [exc.reply]
    label = month_label(month, loc)

    def reply(key: str, **values) -> list[Reply]:
        prefix = "" if command.month else implicit_month_note(month, loc) + "\n"
        body = render(loc, key, name=person.name, month=label, **values)
        return [Reply(prefix + body + (f"\n{note}" if note else ""), key=key, locale=loc)]

    found = await store.select_candidates(ctx.session, org.id, month, ctx.tz(org), recipient_ids=recipients,
                                          staff_ids={person.id})
    if not found:
        if await store.count_with_shifts(ctx.session, org.id, month, ctx.tz(org), recipients, {person.id}):
            return reply("one.nothing_to_report")
        return reply("one.no_shifts")
    reason = evaluate(found[0], ctx.now, apply_interval=False)
    if reason is not Reason.DUE:
        return reply(f"one.{reason.value}")
    scope = render(loc, "scope.person", name=person.name)
    _, sent, deferred = await _queue_round(ctx, org, staff, month, scope, [person])
    if not sent:
        return reply("one.no_mobile")
    where = f" ({display(person.mobile, region_of(ctx, org))})" if person.mobile else ""
    later = render(loc, "one.later", time=deferred) if deferred else ""
    return reply("one.sent", where=where, later=later)


# STATUS's states in the order they are counted and shown; each is a ``status.part.<key>`` in the
# catalogue. A new state is one more entry here and one more key there.
STATUS_STATES: tuple[tuple[str, frozenset[Reason]], ...] = (
    ("ready", frozenset({Reason.DUE})),
    ("recent", frozenset({Reason.REMINDED_RECENTLY})),
    # "Nyss påminda" counts reminders the provider took; one still queued (an outage, quiet hours) waits.
    ("waiting", frozenset({Reason.WAITING})),
    ("off", frozenset({Reason.REMINDERS_OFF, Reason.RECIPIENT_REMINDERS_OFF})),
    ("no_mobile", frozenset({Reason.NO_MOBILE})),
)
# Shown only when someone is in them.
STATUS_STATES_IF_ANY = frozenset({"waiting"})
# Which people each filter lists; "all" lists everyone with a shift, finished included.
STATUS_REASONS = {"ready": {Reason.DUE}, "off": {Reason.REMINDERS_OFF, Reason.RECIPIENT_REMINDERS_OFF},
                  "no_mobile": {Reason.NO_MOBILE}}


def _left(loc: str, to_report: int, to_sign: int) -> str:
    """``2 att registrera, 1 att signera``, or ``klar``."""
    parts = [render(loc, key, n=n) for key, n in (("status.left.report", to_report), ("status.left.sign", to_sign))
             if n]
    return text(loc, "list.join").join(parts) if parts else text(loc, "status.left.done")


async def status(ctx: Context, staff: Staff, command: cmd.Status) -> list[Reply]:
    try:
        org, loc, month, note, recipients, scope_text = await _month_and_scope(ctx, staff, command)
    except Refusal as exc:
        return [exc.reply]
    tz = ctx.tz(org)
    candidates = await store.select_candidates(ctx.session, org.id, month, tz, recipient_ids=recipients)
    with_shifts = await store.count_with_shifts(ctx.session, org.id, month, tz, recipient_ids=recipients)
    reasons = {c.staff_id: evaluate(c, ctx.now) for c in candidates}
    counted = [(key, sum(1 for r in reasons.values() if r in wanted)) for key, wanted in STATUS_STATES]
    parts = [render(loc, f"status.part.{key}", n=n) for key, n in counted if n or key not in STATUS_STATES_IF_ANY]
    parts.append(render(loc, "status.part.done", n=with_shifts - len(candidates)))
    prefix = implicit_month_note(month, loc) + "\n" if command.month is None else ""
    head = prefix + render(loc, "status.head", month=month_label(month, loc),
                           scope=f" ({scope_text})" if scope_text else "", parts=text(loc, "list.join").join(parts))
    if command.filter == "all":
        rows = await store.left_by_staff(ctx.session, org.id, month, tz, recipients)
        names = [render(loc, "status.person", name=name, left=_left(loc, to_report, to_sign))
                 for _, name, to_report, to_sign in rows]
        sep = "\n"
    else:
        names = [c.name for c in candidates if reasons[c.staff_id] in STATUS_REASONS[command.filter]]
        sep = text(loc, "list.join")
    tail = f"\n{note}" if note else ""
    # On a chat that has buttons, the month's status offers its filters and "remind everyone ready".
    answer = Reply("", key="status.head", locale=loc, intent=StatusFilters(month.key))
    if not names:
        return [answer.but(text=f"{head}\n{render(loc, f'status.empty.{command.filter}')}{tail}")]
    listed = render(loc, f"status.list.{command.filter}", n=len(names))
    return [answer.but(text=limit_list(f"{head}\n{listed}", names, sep=sep, locale=loc) + tail)]


async def suggestion(ctx: Context, staff: Staff, command: cmd.Unknown) -> str | None:
    """What to offer after a typo, in the organisation's language, with the person's own month
    (or last month's name when they wrote none)."""
    if command.suggestion_key is None:
        return command.suggestion
    org = await require_org(ctx, staff.org_id)
    loc = locale_of(org)
    month = command.suggestion_month or month_name(resolve_month(None, ctx.today(org)), loc)
    return render(loc, f"suggest.{command.suggestion_key}", month=month).strip()


# RAPPORT's stages in the order they are shown; each is a ``report.part.<stage>`` in the catalogue.
REPORT_STAGES = ("reminded", "delivered", "acknowledged", "unfinished_now")


def _funnel_parts(loc: str, counts: dict[str, int]) -> str:
    return text(loc, "list.join").join(render(loc, f"report.part.{stage}", n=counts[stage]) for stage in REPORT_STAGES)


async def report(ctx: Context, staff: Staff, command: cmd.Report) -> list[Reply]:
    """RAPPORT maj: the month's funnel for the sender's scope, for the month and per round, and the
    names of those still unfinished (the API has every name behind every number)."""
    try:
        org, loc, month, note, recipients, scope_text = await _month_and_scope(ctx, staff, command)
    except Refusal as exc:
        return [exc.reply]
    funnel = await store.month_funnel(ctx.session, org.id, month, ctx.tz(org), recipients)
    rounds = [r for r in funnel.rounds if r.people or recipients is None]
    prefix = implicit_month_note(month, loc) + "\n" if command.month is None else ""
    tail = f"\n{note}" if note else ""
    values = {"month": month_label(month, loc), "scope": f" ({scope_text})" if scope_text else ""}
    if not rounds:
        return [Reply(prefix + render(loc, "report.empty", **values) + tail, key="report.empty", locale=loc)]
    head = render(loc, "report.head", parts=render_plural(loc, "report.rounds", len(rounds)) + text(loc, "list.join")
                  + _funnel_parts(loc, funnel.counts()), **values)
    lines = [prefix + head]
    for i, rnd in enumerate(rounds, start=1):
        when = ctx.local(org, rnd.info.started_at).strftime("%d/%m %H:%M")
        lines.append(render(loc, "report.round", n=i, time=when, by=rnd.info.requested_by
                            or text(loc, "report.round.auto"), parts=_funnel_parts(loc, rnd.counts())))
    names = funnel.names("unfinished_now")
    if names:
        lines.append(render(loc, "report.list.unfinished_now", n=len(names)))
        return [Reply(limit_list("\n".join(lines[:-1]) + "\n" + lines[-1], names, sep=text(loc, "list.join"),
                                 locale=loc) + tail, key="report.head", locale=loc)]
    return [Reply("\n".join(lines) + tail, key="report.head", locale=loc)]
