"""The coordinator's conversation: PÅMINN ALLA, PÅMINN <name>, STATUS."""
from __future__ import annotations

from core import commands as cmd
from core import store
from core.eligibility import Reason, evaluate, split
from core.messages import (
    REASON_TEXT,
    STATUS_HEADINGS,
    RoundSummary,
    implicit_month_note,
    limit_list,
    reminder_text,
    round_reply,
    team_round_text,
)
from core.models import CareRecipient, Organisation, Staff
from core.months import Month, month_label, resolve_month
from core.phones import display, try_e164
from core.quiet import next_allowed
from core.segments import count_segments
from handlers.context import Context, has_full_scope
from handlers.outbound import person_row, to_team


class Refusal(Exception):
    """A command that cannot go ahead; the message says what to change."""


def _resolve_month(ctx: Context, org: Organisation, spec) -> Month:
    month = resolve_month(spec, ctx.today(org))
    current = Month(ctx.today(org).year, ctx.today(org).month)
    if month > current:
        raise Refusal(f"{month_label(month)} har inte börjat än. Välj en månad som har varit, t.ex. "
                      f"{month_label(current.shift(-1))}.")
    return month


async def _scope(ctx: Context, staff: Staff, command) -> tuple[set[int] | None, str]:
    """The care recipients the command covers (None: all) and how to describe the narrowing."""
    own = None if has_full_scope(staff) else await store.supervised_recipient_ids(ctx.session, staff.id)
    recipient = getattr(command, "recipient", None)
    supervisor = getattr(command, "supervisor", None)
    if recipient:
        found = await store.find_by_name(ctx.session, CareRecipient, staff.org_id, recipient)
        if own is not None:
            found = [r for r in found if r.id in own]
        if not found:
            raise Refusal(f"Hittar ingen brukare som heter '{recipient}' bland dina brukare.")
        if len(found) > 1:
            raise Refusal("Flera brukare matchar: " + ", ".join(r.name for r in found[:5])
                          + ". Skriv hela namnet.")
        return {found[0].id}, f"brukare {found[0].name}"
    if supervisor:
        found = [s for s in await store.find_by_name(ctx.session, Staff, staff.org_id, supervisor)
                 if "supervisor" in s.role_list() or "coordinator" in s.role_list()]
        if not found:
            raise Refusal(f"Hittar ingen arbetsledare som heter '{supervisor}'.")
        if len(found) > 1:
            raise Refusal("Flera arbetsledare matchar: " + ", ".join(s.name for s in found[:5])
                          + ". Skriv hela namnet.")
        ids = await store.supervised_recipient_ids(ctx.session, found[0].id)
        if own is not None:
            ids &= own
        return ids, f"arbetsledare {found[0].name}"
    return own, ""


def _deferred(ctx: Context, org: Organisation):
    """When reminders may go out now (``now`` outside quiet hours) and the local time to mention if later."""
    when = next_allowed(ctx.now, ctx.quiet(org), ctx.tz(org))
    return when, (ctx.local(org, when).strftime("%H:%M") if when > ctx.now else None)


async def remind_all(ctx: Context, staff: Staff, command: cmd.RemindAll) -> list[str]:
    org = await store.get_org(ctx.session, staff.org_id)
    try:
        month = _resolve_month(ctx, org, command.month)
        recipients, scope_text = await _scope(ctx, staff, command)
    except Refusal as exc:
        return [str(exc)]
    await store.lock_org_for_round(ctx.session, org.id)
    candidates = await store.select_candidates(ctx.session, org.id, month, ctx.tz(org), recipient_ids=recipients)
    with_shifts = await store.count_with_shifts(ctx.session, org.id, month, ctx.tz(org), recipient_ids=recipients)
    due, counts = split(candidates, ctx.now, done=with_shifts - len(candidates))
    rnd, sent, deferred = await _queue_round(ctx, org, staff, month, scope_text, due)
    unreachable = len(due) - sent
    counts[Reason.DUE] -= unreachable
    counts[Reason.NO_MOBILE] += unreachable
    rnd.held_back = {r.value: n for r, n in counts.items() if r is not Reason.DUE and n}
    summary = RoundSummary(month=month, sent=sent, segments=rnd.segments, counts=dict(counts), scope=scope_text,
                           implicit_month=command.month is None, deferred_until=deferred)
    await to_team(ctx, org, team_round_text(staff.name, summary), f"team-round:{rnd.id}")
    return [round_reply(summary)]


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
    await store.enqueue(ctx.session, rows)
    await store.add_history(ctx.session, history)
    rnd.sent, rnd.segments = len(rows), count_segments(body).segments * len(rows)
    return rnd, len(rows), deferred


async def _find_person(ctx: Context, staff: Staff, who: str, recipients: set[int] | None, month: Month,
                       org: Organisation) -> Staff:
    mobile = try_e164(who)
    if mobile:
        found = [s for s in await store.staff_by_mobile(ctx.session, mobile) if s.org_id == org.id]
    else:
        found = await store.find_by_name(ctx.session, Staff, org.id, who)
    if recipients is not None and found:
        lo, hi = month.bounds_utc(ctx.tz(org))
        in_scope = await store.staff_ids_with_shifts(ctx.session, [s.id for s in found], lo, hi, recipients)
        found = [s for s in found if s.id in in_scope]
    if not found:
        raise Refusal(f"Hittar ingen som heter eller har numret '{who}' bland dina assistenter.")
    if len(found) > 1:
        options = "; ".join(f"{s.name} ({display(s.mobile) if s.mobile else 'ingen mobil'})" for s in found[:5])
        raise Refusal(f"Flera matchar '{who}': {options}. Skriv hela namnet eller mobilnumret.")
    return found[0]


async def remind_one(ctx: Context, staff: Staff, command: cmd.RemindOne) -> list[str]:
    org = await store.get_org(ctx.session, staff.org_id)
    try:
        month = _resolve_month(ctx, org, command.month)
        recipients, _ = await _scope(ctx, staff, command)
        person = await _find_person(ctx, staff, command.who, recipients, month, org)
    except Refusal as exc:
        return [str(exc)]
    prefix = "" if command.month else implicit_month_note(month) + "\n"
    found = await store.select_candidates(ctx.session, org.id, month, ctx.tz(org), recipient_ids=recipients,
                                          staff_ids={person.id})
    if not found:
        if await store.count_with_shifts(ctx.session, org.id, month, ctx.tz(org), recipients, {person.id}):
            reason_text = REASON_TEXT[Reason.NOTHING_TO_REPORT]
            return [f"{prefix}Ingen påminnelse skickad: {person.name} {reason_text} för {month_label(month)}."]
        return [f"{prefix}{person.name} har inga pass i {month_label(month)}."]
    reason = evaluate(found[0], ctx.now, apply_interval=False)
    if reason is not Reason.DUE:
        return [f"{prefix}Ingen påminnelse skickad: {person.name} {REASON_TEXT[reason]} för {month_label(month)}."]
    _, sent, deferred = await _queue_round(ctx, org, staff, month, f"person {person.name}", [person])
    if not sent:
        return [f"{prefix}Ingen påminnelse skickad: {person.name} {REASON_TEXT[Reason.NO_MOBILE]}."]
    where = f" ({display(person.mobile)})" if person.mobile else ""
    later = f" Den går ut kl {deferred} (tysta timmar)." if deferred else ""
    return [f"{prefix}Påminnelse för {month_label(month)} skickad till {person.name}{where}.{later}"]


STATUS_REASONS = {
    "ready": {Reason.DUE},
    "off": {Reason.REMINDERS_OFF, Reason.RECIPIENT_REMINDERS_OFF},
    "no_mobile": {Reason.NO_MOBILE},
    "all": {Reason.DUE, Reason.REMINDERS_OFF, Reason.RECIPIENT_REMINDERS_OFF, Reason.NO_MOBILE,
            Reason.REMINDED_RECENTLY, Reason.WAITING},
}


async def status(ctx: Context, staff: Staff, command: cmd.Status) -> list[str]:
    org = await store.get_org(ctx.session, staff.org_id)
    try:
        month = _resolve_month(ctx, org, command.month)
        recipients, _ = await _scope(ctx, staff, command)
    except Refusal as exc:
        return [str(exc)]
    candidates = await store.select_candidates(ctx.session, org.id, month, ctx.tz(org), recipient_ids=recipients)
    with_shifts = await store.count_with_shifts(ctx.session, org.id, month, ctx.tz(org), recipient_ids=recipients)
    reasons = {c.staff_id: evaluate(c, ctx.now) for c in candidates}
    wanted = STATUS_REASONS[command.filter]
    names = [c.name for c in candidates if reasons[c.staff_id] in wanted]
    counts = {r: sum(1 for x in reasons.values() if x is r) for r in Reason}
    counts[Reason.NOTHING_TO_REPORT] = with_shifts - len(candidates)
    prefix = implicit_month_note(month) + "\n" if command.month is None else ""
    # "Nyss påminda" counts reminders the provider took; one still queued (an outage, quiet hours) waits.
    waiting = f"{counts[Reason.WAITING]} väntar på att skickas, " if counts[Reason.WAITING] else ""
    summary = (f"{prefix}Status {month_label(month)}: {counts[Reason.DUE]} redo, "
               f"{counts[Reason.REMINDED_RECENTLY]} nyss påminda, {waiting}"
               f"{counts[Reason.REMINDERS_OFF] + counts[Reason.RECIPIENT_REMINDERS_OFF]} avstängda, "
               f"{counts[Reason.NO_MOBILE]} saknar mobil, {counts[Reason.NOTHING_TO_REPORT]} klara.")
    if not names:
        return [f"{summary}\nIngen {STATUS_HEADINGS[command.filter]}."]
    return [limit_list(f"{summary}\n{STATUS_HEADINGS[command.filter].capitalize()} ({len(names)}):", names)]
