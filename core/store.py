"""Every database query the service makes, in one place, reached through functions.

Selection is set-based (one query per month and scope, whatever the organisation's size)
and writes are bulk. Functions take an AsyncSession and never commit: the caller owns the
transaction, so a decision and the messages it causes land together or not at all.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Iterable
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, Text, bindparam, and_, case, delete, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.eligibility import Candidate
from core.funnel import HistoryRow, MonthFunnel, RoundInfo
from core.funnel import build as build_funnel
from core.importer import COMPLETABLE, ImportPlan
from core.models import (
    ApiAudit,
    ApiKey,
    AutoRoundSlot,
    CareRecipient,
    ChannelState,
    Customer,
    CustomerReminder,
    Escalation,
    Event,
    NotificationTemplate,
    InboundMessage,
    Organisation,
    OutboxMessage,
    ReminderHistory,
    ReminderRound,
    Shift,
    Staff,
    Supervision,
    Visit,
)
from core.buffer import blocking_reasons, buffer_state
from core.months import Month
from core.recurrence import next_schedule
from core.text import fold

# ---------------------------------------------------------------- organisations and people


async def get_org(session: AsyncSession, org_id: str) -> Organisation | None:
    return await session.get(Organisation, org_id)


async def lock_org_for_round(session: AsyncSession, org_id: str) -> int:
    """Serialise reminder rounds per organisation and number them.

    The UPDATE takes PostgreSQL's row lock (and SQLite's write lock) before we read who is
    due, so two coordinators pressing at once cannot both pass the 2-hour rule.
    """
    result = await session.execute(
        update(Organisation).where(Organisation.id == org_id)
        .values(round_seq=Organisation.round_seq + 1).returning(Organisation.round_seq)
    )
    return result.scalar_one()


def _active_staff():
    """Staff the host still has: a deactivated person is no one we talk to."""
    return Staff.deactivated_at.is_(None)


async def staff_by_mobile(session: AsyncSession, e164: str, include_deactivated: bool = False) -> list[Staff]:
    query = select(Staff).where(Staff.mobile == e164).order_by(Staff.id)
    rows = await session.scalars(query if include_deactivated else query.where(_active_staff()))
    return list(rows)


async def staff_by_telegram(session: AsyncSession, user_id: int) -> list[Staff]:
    rows = await session.scalars(select(Staff).where(Staff.telegram_user_id == user_id, _active_staff())
                                 .order_by(Staff.id))
    return list(rows)


async def staff_by_addresses(session: AsyncSession, mobiles: Iterable[str], telegram_ids: Iterable[int]
                             ) -> tuple[dict[str, list[Staff]], dict[int, list[Staff]]]:
    """Everyone behind each mobile number and each Telegram account, in one query (ordered by id)."""
    mobiles, telegram_ids = sorted(set(mobiles)), sorted(set(telegram_ids))
    by_mobile: dict[str, list[Staff]] = {}
    by_telegram: dict[int, list[Staff]] = {}
    conditions = ([Staff.mobile.in_(mobiles)] if mobiles else []) + (
        [Staff.telegram_user_id.in_(telegram_ids)] if telegram_ids else [])
    if not conditions:
        return by_mobile, by_telegram
    wanted_mobiles, wanted_telegram = set(mobiles), set(telegram_ids)
    for staff in await session.scalars(select(Staff).where(or_(*conditions), _active_staff()).order_by(Staff.id)):
        if staff.mobile in wanted_mobiles:
            by_mobile.setdefault(staff.mobile, []).append(staff)
        if staff.telegram_user_id in wanted_telegram:
            by_telegram.setdefault(staff.telegram_user_id, []).append(staff)
    return by_mobile, by_telegram


async def orgs_by_ids(session: AsyncSession, org_ids: Iterable[str]) -> dict[str, Organisation]:
    ids = sorted(set(org_ids))
    if not ids:
        return {}
    return {org.id: org for org in await session.scalars(select(Organisation).where(Organisation.id.in_(ids)))}


async def list_staff(session: AsyncSession, org_id: str) -> list[Staff]:
    return list(await session.scalars(select(Staff).where(Staff.org_id == org_id).order_by(Staff.name)))


async def staff_by_ids(session: AsyncSession, ids: list[int]) -> list[Staff]:
    result: list[Staff] = []
    for start in range(0, len(ids), 5000):  # keep IN lists within every backend's limits
        result.extend(await session.scalars(select(Staff).where(Staff.id.in_(ids[start:start + 5000]))))
    return result


async def supervised_recipient_ids(session: AsyncSession, staff_id: int) -> set[int]:
    rows = await session.scalars(select(Supervision.care_recipient_id).where(Supervision.staff_id == staff_id))
    return set(rows)


async def find_by_name(session: AsyncSession, model, org_id: str, wanted: str, extra=None) -> list:
    """Rows of ``model`` whose folded name equals ``wanted``, else those it is a word-prefix of."""
    query = select(model).where(model.org_id == org_id)
    if extra is not None:
        query = query.where(extra)
    rows = list(await session.scalars(query))
    target = fold(wanted)
    exact = [r for r in rows if fold(r.name) == target]
    if exact:
        return exact
    words = target.split()
    return [r for r in rows if all(any(w.startswith(t) for w in fold(r.name).split()) for t in words)]


async def staff_ids_with_shifts(session: AsyncSession, staff_ids: list[int], lo: datetime, hi: datetime,
                                recipient_ids: set[int] | None) -> set[int]:
    """Which of ``staff_ids`` have a shift in [lo, hi) (at ``recipient_ids``, if given)."""
    query = select(Shift.staff_id).distinct().where(Shift.staff_id.in_(staff_ids), Shift.start_at >= lo,
                                                     Shift.start_at < hi)
    if recipient_ids is not None:
        query = query.where(Shift.care_recipient_id.in_(recipient_ids))
    return set(await session.scalars(query))


async def set_opt_out(session: AsyncSession, staff_ids: Iterable[int], at: datetime | None) -> None:
    await session.execute(update(Staff).where(Staff.id.in_(list(staff_ids))).values(opted_out_at=at))


async def mark_mobile_invalid(session: AsyncSession, staff_id: int) -> None:
    await session.execute(update(Staff).where(Staff.id == staff_id).values(mobile_invalid=True))


# ---------------------------------------------------------------- the month's candidates

# Outbox statuses meaning the provider took the message ("unconfirmed": cut off mid-send on a
# provider that cannot be asked; it may have arrived, and is never resent on its own).
ACCEPTED_STATUSES = ("sent", "delivered", "read", "unconfirmed")
# Statuses of a message that may still go out.
WAITING_STATUSES = ("pending", "sending", "unknown")


def _unfinished():
    # Spelled exactly as ix_shifts_unfinished's WHERE, so both backends use that partial index.
    return or_(Shift.reported == False, Shift.signed == False)  # noqa: E712


async def select_candidates(session: AsyncSession, org_id: str, month: Month, tz_name: str,
                            recipient_ids: set[int] | None = None,
                            staff_ids: set[int] | None = None) -> list[Candidate]:
    """Every assistant with an unfinished shift in ``month`` (within the scope), in one query.

    Reads only unfinished shifts (a partial index), so the cost follows what is left to do,
    not the size of the month.
    """
    lo, hi = month.bounds_utc(tz_name)
    per_staff = (
        select(
            Shift.staff_id.label("staff_id"),
            func.count().label("unfinished"),
            # A deactivated care recipient counts as one with reminders off (condition 5).
            func.sum(case(((CareRecipient.reminders_enabled == True)  # noqa: E712
                           & CareRecipient.deactivated_at.is_(None), 1), else_=0))
            .label("unfinished_enabled"),
        )
        .join(CareRecipient, CareRecipient.id == Shift.care_recipient_id)
        .where(Shift.org_id == org_id, Shift.start_at >= lo, Shift.start_at < hi, _unfinished())
        .group_by(Shift.staff_id)
    )
    if recipient_ids is not None:
        per_staff = per_staff.where(Shift.care_recipient_id.in_(recipient_ids))
    if staff_ids is not None:
        per_staff = per_staff.where(Shift.staff_id.in_(staff_ids))
    per_staff = per_staff.subquery()
    # Reminded means sent: a history row counts once the provider accepted its outbox row (imported
    # history has no row and counts as sent); a row still waiting holds the person as "waiting"
    # (not reminded, not queued twice); an expired or failed one counts for nothing.
    # The 2-hour rule reads the latest reminder of ANY month ("mer än 2 timmar sedan senaste
    # påminnelsen"): reminded for April an hour ago holds a May round back. Waiting is per month:
    # it is this month's reminder that must not be queued twice.
    h, o = ReminderHistory, OutboxMessage
    accepted = or_(h.idempotency_key.is_(None), o.id.is_(None), o.provider_id.is_not(None),
                   o.status.in_(ACCEPTED_STATUSES))
    last = (
        select(h.staff_id.label("staff_id"),
               func.max(case((accepted, func.coalesce(o.sent_at, h.sent_at)))).label("last_sent"),
               func.max(case((and_(h.month == month.key, o.status.in_(WAITING_STATUSES)), 1), else_=0))
               .label("waiting"))
        .select_from(h)
        .outerjoin(o, o.idempotency_key == h.idempotency_key)
        # Every month's history of the organisation (ix_history_org_month): a filter on the selection's own
        # people (an IN over the shift aggregate) made PostgreSQL re-plan it into a >10 s round for 604 people.
        .where(h.org_id == org_id)
        .group_by(h.staff_id)
        .subquery()
    )
    query = (
        select(
            Staff.id, Staff.org_id, Staff.name, Staff.mobile, Staff.mobile_invalid, Staff.reminders_enabled,
            Staff.opted_out_at, Staff.preferred_channel, Staff.simulated, Staff.telegram_user_id,
            per_staff.c.unfinished, per_staff.c.unfinished_enabled, last.c.last_sent, last.c.waiting,
        )
        .join(per_staff, per_staff.c.staff_id == Staff.id)
        .outerjoin(last, last.c.staff_id == Staff.id)
        .where(_active_staff())  # a deactivated assistant is neither reminded nor counted
        .order_by(Staff.name, Staff.id)
    )
    result = await session.execute(query)
    last_type = ReminderHistory.__table__.c.sent_at.type
    out = []
    for row in result:
        last_sent = row.last_sent
        if isinstance(last_sent, str):  # SQLite may hand MAX() back untyped
            last_sent = last_type.process_result_value(datetime.fromisoformat(last_sent), None)
        out.append(Candidate(
            staff_id=row.id, name=row.name,
            mobile=None if row.mobile_invalid else row.mobile,
            reminders_enabled=bool(row.reminders_enabled) and row.opted_out_at is None,
            unfinished_shifts=int(row.unfinished or 0),
            unfinished_at_enabled_recipient=int(row.unfinished_enabled or 0),
            last_reminded_at=last_sent,
            channel=row.preferred_channel, simulated=bool(row.simulated),
            org_id=row.org_id, telegram_user_id=row.telegram_user_id, waiting=bool(row.waiting),
        ))
    return out


async def count_with_shifts(session: AsyncSession, org_id: str, month: Month, tz_name: str,
                            recipient_ids: set[int] | None = None, staff_ids: set[int] | None = None) -> int:
    """How many people have any shift in ``month`` within the scope (one index seek each)."""
    lo, hi = month.bounds_utc(tz_name)
    any_shift = select(Shift.id).where(Shift.staff_id == Staff.id, Shift.start_at >= lo, Shift.start_at < hi)
    if recipient_ids is not None:
        any_shift = any_shift.where(Shift.care_recipient_id.in_(recipient_ids))
    query = select(func.count()).select_from(Staff).where(Staff.org_id == org_id, _active_staff(),
                                                          any_shift.exists())
    if staff_ids is not None:
        query = query.where(Staff.id.in_(staff_ids))
    return int(await session.scalar(query) or 0)


async def left_by_staff(session: AsyncSession, org_id: str, month: Month, tz_name: str,
                        recipient_ids: set[int] | None = None) -> list[tuple[int, str, int, int]]:
    """Everyone with a shift in ``month`` (within the scope), finished or not, in one grouped query:
    ``(staff id, name, shifts not reported, shifts not signed)``, by name."""
    lo, hi = month.bounds_utc(tz_name)
    query = (
        select(Staff.id, Staff.name,
               func.sum(case((Shift.reported == False, 1), else_=0)),  # noqa: E712
               func.sum(case((Shift.signed == False, 1), else_=0)))  # noqa: E712
        .join(Shift, Shift.staff_id == Staff.id)
        .where(Shift.org_id == org_id, Shift.start_at >= lo, Shift.start_at < hi)
        .group_by(Staff.id, Staff.name)
        .order_by(Staff.name, Staff.id)
    )
    if recipient_ids is not None:
        query = query.where(Shift.care_recipient_id.in_(recipient_ids))
    return [(row[0], row[1], int(row[2] or 0), int(row[3] or 0)) for row in await session.execute(query)]


async def month_has_unfinished(session: AsyncSession, org_id: str, month: Month, tz_name: str) -> bool:
    lo, hi = month.bounds_utc(tz_name)
    active_staff = select(Staff.id).where(Staff.id == Shift.staff_id, _active_staff()).exists()
    query = select(Shift.id).where(Shift.org_id == org_id, Shift.start_at >= lo, Shift.start_at < hi,
                                   _unfinished(), active_staff).limit(1)
    return (await session.scalar(query)) is not None


# ---------------------------------------------------------------- rounds, history, acknowledgements


async def add_round(session: AsyncSession, **values) -> ReminderRound:
    rnd = ReminderRound(**values)
    session.add(rnd)
    await session.flush()
    return rnd


COPY_THRESHOLD = 500


async def bulk_insert(session: AsyncSession, table, rows: list[dict]) -> None:
    """Insert many rows with the same keys, inside the session's transaction.

    On PostgreSQL large batches go through COPY (asyncpg's copy_records_to_table on the
    session's own connection); elsewhere a Core executemany, which skips the ORM's bulk layer.
    """
    if not rows:
        return
    conn = await session.connection()
    if conn.dialect.name != "postgresql" or len(rows) < COPY_THRESHOLD:
        await session.execute(insert(table), rows)
        return
    columns = list(rows[0])
    binders = [_json_text if isinstance(table.c[c].type, JSON) else getattr(table.c[c].type, "process_bind_param", None)
               for c in columns]
    records = [tuple(b(r[c], conn.dialect) if b else r[c] for c, b in zip(columns, binders)) for r in rows]
    raw = await conn.get_raw_connection()
    await raw.driver_connection.copy_records_to_table(table.name, records=records, columns=columns)


def _json_text(value, dialect) -> str | None:
    """COPY takes a JSON column as text."""
    return None if value is None else json.dumps(value)


async def add_history(session: AsyncSession, rows: list[dict]) -> None:
    await bulk_insert(session, ReminderHistory.__table__, rows)


async def copy_history(session: AsyncSession, from_key: str, to_key: str, at: datetime) -> None:
    """A history row for a resend under ``to_key`` (the same person, month and round as ``from_key``)."""
    h = ReminderHistory
    old = await session.scalar(select(h).where(h.idempotency_key == from_key))
    if old is not None:
        await add_history(session, [{"org_id": old.org_id, "staff_id": old.staff_id, "month": old.month,
                                     "sent_at": at, "round_id": old.round_id, "idempotency_key": to_key}])


async def latest_unacknowledged_by_staff(session: AsyncSession, staff_ids: Iterable[int]) -> dict[int, tuple]:
    """Each person's newest unacknowledged reminder as (sent_at, id, staff_id, month), in one query."""
    ids = sorted(set(staff_ids))
    if not ids:
        return {}
    h = ReminderHistory
    newest_first = func.row_number().over(partition_by=h.staff_id, order_by=(h.sent_at.desc(), h.id.desc()))
    ranked = (select(h.sent_at, h.id, h.staff_id, h.month, newest_first.label("rank"))
              .where(h.staff_id.in_(ids), h.acknowledged_at.is_(None)).subquery())
    rows = await session.execute(select(ranked.c.sent_at, ranked.c.id, ranked.c.staff_id, ranked.c.month)
                                 .where(ranked.c.rank == 1))
    return {row.staff_id: tuple(row) for row in rows}


async def acknowledge_reminders(session: AsyncSession, history_ids: list[int], at: datetime) -> None:
    if history_ids:
        await session.execute(update(ReminderHistory).where(ReminderHistory.id.in_(sorted(history_ids)))
                              .values(acknowledged_at=at))


async def rounds_awaiting_completion(session: AsyncSession, org_id: str) -> list[ReminderRound]:
    query = select(ReminderRound).where(ReminderRound.org_id == org_id, ReminderRound.completed_at.is_(None))
    return list(await session.scalars(query))


async def mark_rounds_complete(session: AsyncSession, org_id: str, month_key: str, at: datetime) -> None:
    await session.execute(
        update(ReminderRound).where(ReminderRound.org_id == org_id, ReminderRound.month == month_key,
                                    ReminderRound.completed_at.is_(None)).values(completed_at=at)
    )


async def month_funnel(session: AsyncSession, org_id: str, month: Month, tz_name: str,
                       recipient_ids: set[int] | None = None) -> MonthFunnel:
    """The month's funnel (core.funnel) in three set-based queries, whatever the number of people:
    the rounds, their history rows joined to the outbox, and who has unfinished shifts now."""
    rnd, asker = ReminderRound, Staff.__table__.alias("asker")
    rounds = [RoundInfo(id=row.id, started_at=row.created_at, requested_by=row.name, scope=row.scope or "")
              for row in await session.execute(
                  select(rnd.id, rnd.created_at, rnd.scope, asker.c.name)
                  .outerjoin(asker, asker.c.id == rnd.requested_by)
                  .where(rnd.org_id == org_id, rnd.month == month.key)
                  .order_by(rnd.created_at, rnd.id))]
    lo, hi = month.bounds_utc(tz_name)
    h, o = ReminderHistory, OutboxMessage
    # As select_candidates: reminded means the provider took it.
    accepted = or_(h.idempotency_key.is_(None), o.id.is_(None), o.provider_id.is_not(None),
                   o.status.in_(ACCEPTED_STATUSES))
    history = (
        select(h.round_id, h.staff_id, Staff.name, case((accepted, 1), else_=0).label("accepted"),
               func.coalesce(o.sent_at, h.sent_at).label("reminded_at"), o.status, h.acknowledged_at)
        .join(Staff, Staff.id == h.staff_id)
        .outerjoin(o, o.idempotency_key == h.idempotency_key)
        .where(h.org_id == org_id, h.month == month.key, h.round_id.is_not(None))
    )
    unfinished = (select(Shift.staff_id).where(Shift.org_id == org_id, Shift.start_at >= lo, Shift.start_at < hi,
                                               _unfinished()).group_by(Shift.staff_id))
    if recipient_ids is not None:  # a supervisor: the people working for their care recipients that month
        in_scope = select(Shift.staff_id).where(Shift.org_id == org_id, Shift.start_at >= lo, Shift.start_at < hi,
                                                Shift.care_recipient_id.in_(recipient_ids))
        history = history.where(h.staff_id.in_(in_scope))
        unfinished = unfinished.where(Shift.care_recipient_id.in_(recipient_ids))
    time_type = ReminderHistory.__table__.c.sent_at.type
    rows = []
    for row in await session.execute(history):
        at = row.reminded_at
        if isinstance(at, str):  # SQLite may hand COALESCE() back untyped
            at = time_type.process_result_value(datetime.fromisoformat(at), None)
        rows.append(HistoryRow(round_id=row.round_id, staff_id=row.staff_id, name=row.name,
                               accepted=bool(row.accepted), reminded_at=at, status=row.status,
                               acknowledged_at=row.acknowledged_at))
    unfinished_staff = set(await session.scalars(unfinished))
    return build_funnel(month.key, rounds, rows, unfinished_staff)


# ---------------------------------------------------------------- the outbox


async def enqueue(session: AsyncSession, rows: list[dict]) -> None:
    """Insert outbox rows in bulk; each dict needs the non-default columns."""
    await bulk_insert(session, OutboxMessage.__table__, rows)


async def set_payload(session: AsyncSession, key: str, payload: dict) -> None:
    await session.execute(update(OutboxMessage).where(OutboxMessage.idempotency_key == key).values(payload=payload),
                          execution_options={"synchronize_session": False})


async def pending_team_message(session: AsyncSession, key_prefix: str, now: datetime) -> OutboxMessage | None:
    """An unsent gathered team message (e.g. acknowledgements) still open for more lines."""
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.idempotency_key.startswith(key_prefix), OutboxMessage.status == "pending",
               OutboxMessage.not_before > now)
        .order_by(OutboxMessage.id.desc()).limit(1)
        .with_for_update()
    )
    return await session.scalar(query)


async def expire_leases(session: AsyncSession, now: datetime, unaskable_channels: Iterable[str] = ()) -> int:
    """Rows left in ``sending`` by a dead process become ``unknown``: checked, never blindly resent.

    On a channel that cannot be asked later, a row whose provider call never started goes back
    to ``pending`` instead: it surely was not sent.
    """
    o = OutboxMessage
    never_called = o.channel.in_(list(unaskable_channels)) & o.sending_started_at.is_(None)
    result = await session.execute(
        update(o)
        .where(o.status == "sending", o.lease_until < now)
        .values(status=case((never_called, "pending"), else_="unknown"), updated_at=now, claimed_by=None),
        execution_options={"synchronize_session": False},
    )
    return result.rowcount or 0


async def mark_provider_call(session: AsyncSession, row_id: int, worker: str, now: datetime) -> bool:
    """Record that ``worker`` is about to call the provider for a row it still holds."""
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row_id, OutboxMessage.claimed_by == worker, OutboxMessage.status == "sending",
               OutboxMessage.lease_until > now)
        .values(sending_started_at=now),
        execution_options={"synchronize_session": False},
    )
    return result.rowcount == 1


async def claim_due(session: AsyncSession, now: datetime, worker: str, lease: timedelta, limit: int,
                    channels: Iterable[str], statuses: tuple[str, ...] = ("pending",),
                    validity: timedelta | None = None) -> list[OutboxMessage]:
    """Claim up to ``limit`` due rows for ``worker``: mark them ``sending`` with a lease.

    With ``validity`` (the default; an organisation may set its own), a row claimed for the first
    time gets its deadline: retried until then, expired after.
    """
    channels = list(channels)
    if not channels:
        return []
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.status.in_(statuses), OutboxMessage.not_before <= now,
               OutboxMessage.channel.in_(list(channels)))
        .order_by(OutboxMessage.not_before, OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = list(await session.scalars(query))
    if rows:
        await session.execute(
            update(OutboxMessage).where(OutboxMessage.id.in_([r.id for r in rows]))
            # A fresh send starts with no provider call on record. A row claimed only to be checked (``unknown``)
            # keeps its record: if this claimer dies too, the row must stay in doubt, not look never-sent.
            .values(status="sending", lease_until=now + lease, claimed_by=worker,
                    sending_started_at=case((OutboxMessage.status == "pending", None),
                                            else_=OutboxMessage.sending_started_at),
                    attempts=OutboxMessage.attempts + 1, updated_at=now),
            execution_options={"synchronize_session": False},
        )
        for r in rows:
            r.status, r.attempts, r.lease_until, r.claimed_by = "sending", r.attempts + 1, now + lease, worker
        if validity is not None:
            fresh = [r for r in rows if r.expires_at is None]
            deadlines = await start_validity(session, now, validity, [r.id for r in fresh], {r.org_id for r in fresh})
            for r in fresh:
                r.expires_at = deadlines[r.org_id]
    return rows


async def start_validity(session: AsyncSession, now: datetime, default: timedelta, row_ids: list[int],
                         org_ids: set[str | None]) -> dict[str | None, datetime]:
    """Give the rows without a deadline one: ``now`` plus their organisation's validity (one UPDATE per
    distinct validity, few). Returns the deadline per organisation."""
    if not row_ids:
        return {}
    known = {org_id: seconds for org_id, seconds in await session.execute(
        select(Organisation.id, Organisation.message_validity)
        .where(Organisation.id.in_(sorted(o for o in org_ids if o is not None))))}
    deadlines = {org: now + (timedelta(seconds=known[org]) if known.get(org) else default) for org in org_ids}
    o = OutboxMessage
    for deadline in sorted(set(deadlines.values())):
        orgs = [org for org, d in deadlines.items() if d == deadline]
        org_match = or_(o.org_id.in_([x for x in orgs if x is not None]),
                        *([o.org_id.is_(None)] if None in orgs else []))
        for start in range(0, len(row_ids), 5000):
            await session.execute(
                update(o).where(o.id.in_(row_ids[start:start + 5000]), o.expires_at.is_(None), org_match)
                .values(expires_at=deadline), execution_options={"synchronize_session": False})
    return deadlines


async def expire_overdue(session: AsyncSession, now: datetime, channels: Iterable[str],
                         validity: timedelta) -> list[OutboxMessage]:
    """On channels that are down (nothing is tried there), due rows whose validity has run out become
    ``expired``; rows queued during the outage start their validity now. Returns the expired rows."""
    channels = list(channels)
    if not channels:
        return []
    o = OutboxMessage
    due = (o.status == "pending", o.channel.in_(channels), o.not_before <= now)
    unstarted = list(await session.execute(select(o.id, o.org_id).where(*due, o.expires_at.is_(None))))
    await start_validity(session, now, validity, [r.id for r in unstarted], {r.org_id for r in unstarted})
    ids = list(await session.scalars(select(o.id).where(*due, o.expires_at <= now).with_for_update(skip_locked=True)))
    if not ids:
        return []
    await session.execute(update(o).where(o.id.in_(ids)).values(status="expired", error_code="expired",
                                                                  error_message="validity ran out", updated_at=now),
                          execution_options={"synchronize_session": False})
    return list(await session.scalars(select(o).where(o.id.in_(ids)).order_by(o.id)))


# ---------------------------------------------------------------- channel health, shared by all workers


async def _channel_row(session: AsyncSession, channel: str) -> ChannelState:
    """The channel's state row, locked (created if missing). The INSERT comes first so that on SQLite
    the transaction holds the write lock before it reads."""
    conn = await session.connection()
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    await session.execute(dialect_insert(ChannelState.__table__).values(channel=channel, failures=0)
                          .on_conflict_do_nothing(index_elements=["channel"]))
    return await session.scalar(select(ChannelState).where(ChannelState.channel == channel)
                                .with_for_update().execution_options(populate_existing=True))


async def record_channel_health(session: AsyncSession, channel: str, now: datetime, *, successes: int,
                                failures: int, first_failure_at: datetime | None, down_after: int,
                                probe_interval: timedelta) -> tuple[str | None, datetime | None]:
    """Count a batch's outcomes on ``channel``: any success clears the streak (and brings a down channel
    back), consecutive outage failures add up until ``down_after`` marks it down.

    Returns ("down", since) or ("up", since) when this call changed the state (so exactly one worker
    announces it), else (None, None).
    """
    state = await _channel_row(session, channel)
    state.updated_at = now
    if successes:
        was_down = state.down_since
        state.failures, state.failing_since, state.down_since, state.probe_at = 0, None, None, None
        return ("up", was_down) if was_down is not None else (None, None)
    if failures:
        state.failures += failures
        state.failing_since = state.failing_since or first_failure_at or now
        if state.down_since is None and state.failures >= down_after:
            state.down_since, state.probe_at = state.failing_since, now + probe_interval
            return "down", state.down_since
    return None, None


async def channel_is_clean(session: AsyncSession, channel: str) -> bool:
    """True when ``channel`` is up with no failures counted: a success then has nothing to clear."""
    state = await session.get(ChannelState, channel, populate_existing=True)
    return state is None or (state.failures == 0 and state.down_since is None)


async def down_channels(session: AsyncSession) -> dict[str, ChannelState]:
    rows = await session.scalars(select(ChannelState).where(ChannelState.down_since.is_not(None)))
    return {r.channel: r for r in rows}


async def take_probe(session: AsyncSession, channel: str, now: datetime, interval: timedelta) -> bool:
    """True for the one worker whose turn it is to probe the down ``channel`` with one send."""
    c = ChannelState
    result = await session.execute(
        update(c).where(c.channel == channel, c.down_since.is_not(None), c.probe_at <= now)
        .values(probe_at=now + interval), execution_options={"synchronize_session": False})
    return result.rowcount == 1


async def waiting_by_org(session: AsyncSession, channel: str) -> dict[str, int]:
    """How many messages wait to go on ``channel``, per organisation."""
    o = OutboxMessage
    rows = await session.execute(select(o.org_id, func.count()).where(
        o.channel == channel, o.status.in_(WAITING_STATUSES), o.org_id.is_not(None)).group_by(o.org_id))
    return {org_id: n for org_id, n in rows}


async def orgs_with_key_prefix(session: AsyncSession, prefix: str) -> list[str]:
    """The organisations that have an outbox row whose key starts with ``prefix``."""
    o = OutboxMessage
    rows = await session.scalars(select(o.org_id).distinct().where(o.idempotency_key.startswith(prefix),
                                                                   o.org_id.is_not(None)))
    return sorted(rows)


async def expired_reminder_rounds(session: AsyncSession, keys: list[str]) -> list[tuple]:
    """For expired reminders' keys: (org id, round id, who started the round, the person's name, month)."""
    if not keys:
        return []
    h, r = ReminderHistory, ReminderRound
    rows = await session.execute(
        select(h.org_id, h.round_id, r.requested_by, Staff.name, h.month)
        .join(Staff, Staff.id == h.staff_id).outerjoin(r, r.id == h.round_id)
        .where(h.idempotency_key.in_(sorted(keys))).order_by(h.round_id, Staff.name))
    return [tuple(row) for row in rows]


STATUS_RANK = {
    "pending": 0, "sending": 1, "unknown": 1, "unconfirmed": 2, "queued": 2, "accepted": 2, "scheduled": 2, "sent": 3,
    "delivered": 5, "read": 6, "undelivered": 5, "failed": 5, "canceled": 5, "expired": 5,
    "cancelled": 5,  # ours: its reminder or template was deleted before it went
}


async def apply_status(session: AsyncSession, provider_id: str, status: str, error_code: str | None,
                       now: datetime, row_id: int | None = None) -> OutboxMessage | None:
    """Move a message's status forward (never backwards); return it when it changed.

    ``row_id`` (our id, carried in the callback URL) finds the row even before the send's
    own result, with the provider id, has been stored.
    """
    query = select(OutboxMessage).with_for_update()
    if row_id is not None:
        query = query.where(OutboxMessage.id == row_id,
                            or_(OutboxMessage.provider_id.is_(None), OutboxMessage.provider_id == provider_id))
    else:
        query = query.where(OutboxMessage.provider_id == provider_id)
    row = await session.scalar(query)
    if row is None:
        return None
    if row.provider_id is None:
        row.provider_id = provider_id
    if STATUS_RANK.get(status, -1) <= STATUS_RANK.get(row.status, 0):
        return None
    row.status = status
    row.updated_at = now
    if error_code:
        row.error_code = error_code
    return row




# ---------------------------------------------------------------- inbound


INBOUND_OPTIONAL = ("staff_id", "org_id", "command", "reply", "processed_at")


async def claim_inbound(session: AsyncSession, rows: list[dict]) -> tuple[dict[tuple[str, str], int], dict]:
    """Store inbound rows once per (channel, provider_id): return the ids of the new ones and,
    for ids seen before, the earlier row's ``reply`` and ``processed_at``.

    One ``INSERT … ON CONFLICT DO NOTHING RETURNING`` (both backends) for the lot, in key order so
    two processes inserting overlapping batches take the unique index's locks in the same order.
    A concurrent duplicate waits for the first writer's commit and then finds its row, reply included.
    """
    if not rows:
        return {}, {}
    rows = sorted(({**{k: None for k in INBOUND_OPTIONAL}, **r} for r in rows),
                  key=lambda r: (r["channel"], r["provider_id"]))
    conn = await session.connection()
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    table = InboundMessage.__table__
    # Passed as executemany parameters, not .values(rows): SQLAlchemy then compiles the statement
    # once and batches the rows itself ("insertmanyvalues"), instead of compiling a new statement
    # for every batch size.
    claim = (dialect_insert(table).on_conflict_do_nothing(index_elements=["channel", "provider_id"])
             .returning(table.c.channel, table.c.provider_id, table.c.id))
    new = {(r.channel, r.provider_id): r.id for r in await session.execute(claim, rows)}
    seen = [(r["channel"], r["provider_id"]) for r in rows if (r["channel"], r["provider_id"]) not in new]
    earlier = {}
    for channel in sorted({c for c, _ in seen}):
        ids = [p for c, p in seen if c == channel]
        for row in await session.execute(select(table.c.provider_id, table.c.reply, table.c.processed_at,
                                                table.c.attempts)
                                         .where(table.c.channel == channel, table.c.provider_id.in_(ids))):
            earlier[(channel, row.provider_id)] = row
    return new, earlier


async def set_inbound_replies(session: AsyncSession, replies: dict[int, str]) -> None:
    """Store the reply each new inbound row was given (one executemany)."""
    if replies:
        table = InboundMessage.__table__
        await session.execute(update(table).where(table.c.id == bindparam("row_id")).values(reply=bindparam("reply")),
                              [{"row_id": k, "reply": v} for k, v in sorted(replies.items())])


async def mark_update_processed(session: AsyncSession, provider_id: str, at: datetime) -> None:
    await session.execute(update(InboundMessage).where(InboundMessage.channel == "telegram-update",
                                                       InboundMessage.provider_id == provider_id)
                          .values(processed_at=at))


async def unprocessed_updates(session: AsyncSession, before: datetime, max_tries: int,
                              limit: int = 100) -> list[InboundMessage]:
    """Stored updates neither finished nor given up (``max_tries`` failed tries), received before ``before``."""
    return list(await session.scalars(
        select(InboundMessage).where(InboundMessage.channel == "telegram-update",
                                     InboundMessage.processed_at.is_(None), InboundMessage.attempts < max_tries,
                                     InboundMessage.received_at < before)
        .order_by(InboundMessage.id).limit(limit)))


async def count_update_failure(session: AsyncSession, provider_id: str) -> int:
    """One more failed try of a stored update; the tries so far (one statement, so concurrent tries count apart)."""
    table = InboundMessage.__table__
    tries = await session.scalar(
        update(table).where(table.c.channel == "telegram-update", table.c.provider_id == provider_id)
        .values(attempts=table.c.attempts + 1).returning(table.c.attempts))
    return tries or 0


# ---------------------------------------------------------------- customer reminders


async def claim_due_customer_reminders(session: AsyncSession, send_on_or_before: date, limit: int,
                                       skip_orgs: Iterable[str] = ()) -> list[CustomerReminder]:
    """Active reminders whose send day has come, locked so a tick in another process skips them.

    Reminders marked failed wait for an import to change them; ``skip_orgs`` have used their
    rendering time for this tick.
    """
    # A deactivated customer's reminders wait (their send day stays): reactivated, the newest due date goes.
    active_customer = select(Customer.id).where(Customer.id == CustomerReminder.customer_id,
                                                Customer.deactivated_at.is_(None)).exists()
    query = (
        select(CustomerReminder)
        .where(CustomerReminder.active.is_(True), CustomerReminder.send_on <= send_on_or_before,
               CustomerReminder.failed_reason.is_(None), active_customer)
        .order_by(CustomerReminder.send_on, CustomerReminder.id).limit(limit)
        .with_for_update(skip_locked=True)
    )
    if skip_orgs:
        query = query.where(CustomerReminder.org_id.not_in(sorted(set(skip_orgs))))
    return list(await session.scalars(query))


# What shows that a planned reminder was dealt with meanwhile (another process queued it, an import
# changed its schedule or turned it off): its plan is then dropped. A text changed by an import a
# moment after it was rendered is not looked for: that due date goes with the text it was planned with.
CUSTOMER_REMINDER_STATE = ("next_due", "send_on", "active", "failed_reason")


def customer_reminder_state(reminder: CustomerReminder) -> tuple:
    return tuple(getattr(reminder, c) for c in CUSTOMER_REMINDER_STATE)


async def lock_customer_reminders(session: AsyncSession, ids: Iterable[int]) -> dict[int, tuple]:
    """The reminders' state by id (``CUSTOMER_REMINDER_STATE``), locked for writing; ones another
    process holds are left out (it is on them)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    columns = [getattr(CustomerReminder, c) for c in CUSTOMER_REMINDER_STATE]
    rows = await session.execute(select(CustomerReminder.id, *columns).where(CustomerReminder.id.in_(wanted))
                                 .order_by(CustomerReminder.id).with_for_update(skip_locked=True))
    return {row[0]: tuple(row[1:]) for row in rows}


async def update_customer_reminders(session: AsyncSession, changes: list[dict]) -> None:
    """Write changes to reminders by id, in bulk (each dict: ``id`` and the columns it sets)."""
    for shape in {tuple(sorted(c)) for c in changes}:  # executemany needs one shape per batch
        await session.execute(update(CustomerReminder), [c for c in changes if tuple(sorted(c)) == shape])


async def customers_with_contact(session: AsyncSession, mobile: str) -> list[tuple[Customer, dict]]:
    """Customers listing ``mobile`` among their contacts, with that contact (ordered by customer id).

    The contacts are JSON, so this reads them as text; it runs only for texts from numbers that are
    not staff, which are few.
    """
    rows = await session.scalars(select(Customer).where(func.cast(Customer.contacts, Text).contains(f'"{mobile}"'))
                                 .order_by(Customer.id))
    return [(c, contact) for c in rows for contact in (c.contacts or []) if contact.get("mobile") == mobile][:20]


async def customers_by_ids(session: AsyncSession, ids: Iterable[int]) -> dict[int, Customer]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    return {c.id: c for c in await session.scalars(select(Customer).where(Customer.id.in_(wanted)))}


async def staff_with_roles(session: AsyncSession, org_ids: Iterable[str], roles: Iterable[str]) -> list[Staff]:
    """The organisations' staff holding any of ``roles`` (few people: admins, inspectors)."""
    wanted_orgs, wanted_roles = sorted(set(org_ids)), set(roles)
    if not wanted_orgs:
        return []
    rows = await session.scalars(select(Staff).where(Staff.org_id.in_(wanted_orgs), _active_staff(),
                                                     or_(*[Staff.roles.contains(r) for r in wanted_roles])))
    return [s for s in rows if wanted_roles & set(s.role_list())]


async def customer_reminder_rows(session: AsyncSession, org_id: str, customer_external_id: str | None,
                                 limit: int) -> list[tuple[CustomerReminder, str]]:
    """An organisation's customer reminders with their customer's host id, ordered by send day."""
    query = (select(CustomerReminder, Customer.external_id).join(Customer, Customer.id == CustomerReminder.customer_id)
             .where(CustomerReminder.org_id == org_id))
    if customer_external_id is not None:
        query = query.where(Customer.external_id == customer_external_id)
    query = query.order_by(CustomerReminder.send_on.is_(None), CustomerReminder.send_on, CustomerReminder.id)
    return [(row[0], row[1]) for row in await session.execute(query.limit(limit))]


async def outbox_by_key_prefixes(session: AsyncSession, org_id: str, prefixes: list[str]) -> list[OutboxMessage]:
    """Outbox rows whose idempotency key starts with one of ``prefixes`` (a reminder's due date)."""
    if not prefixes:
        return []
    return list(await session.scalars(
        select(OutboxMessage).where(OutboxMessage.org_id == org_id,
                                    or_(*[OutboxMessage.idempotency_key.startswith(p) for p in prefixes]))
        .order_by(OutboxMessage.id)))


# ---------------------------------------------------------------- event notifications


async def templates_for(session: AsyncSession, org_id: str, event_type: str) -> list[NotificationTemplate]:
    return list(await session.scalars(
        select(NotificationTemplate).where(NotificationTemplate.org_id == org_id,
                                           NotificationTemplate.event_type == event_type)
        .order_by(NotificationTemplate.id)))


async def customer_by_external_id(session: AsyncSession, org_id: str, external_id: str) -> Customer | None:
    return await session.scalar(select(Customer).where(Customer.org_id == org_id,
                                                       Customer.external_id == external_id))


async def staff_by_external_ids(session: AsyncSession, org_id: str, ids: Iterable[str]) -> dict[str, Staff]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    return {s.external_id: s for s in await session.scalars(
        select(Staff).where(Staff.org_id == org_id, Staff.external_id.in_(wanted), _active_staff()))}


async def claim_event(session: AsyncSession, row: dict) -> int | None:
    """Store the event once per host id: its new id, or None if it was received before."""
    conn = await session.connection()
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    table = Event.__table__
    return await session.scalar(dialect_insert(table).values(**row)
                                .on_conflict_do_nothing(index_elements=["org_id", "external_id"])
                                .returning(table.c.id))


async def event_by_external_id(session: AsyncSession, org_id: str, external_id: str) -> Event | None:
    return await session.scalar(select(Event).where(Event.org_id == org_id, Event.external_id == external_id))


# ---------------------------------------------------------------- the simulator's view


async def simulator_feed(session: AsyncSession, after_out: int, after_in: int, changed_since: datetime | None,
                         limit: int = 2000) -> tuple[list[OutboxMessage], list[InboundMessage]]:
    """Simulator messages the page has not seen: new rows, and outbound rows whose status moved."""
    cond = OutboxMessage.id > after_out
    if changed_since is not None:
        cond = or_(cond, OutboxMessage.updated_at >= changed_since)
    out = list(await session.scalars(
        select(OutboxMessage).where(OutboxMessage.channel == "simulator", cond).order_by(OutboxMessage.id)
        .limit(limit)))
    inbound = list(await session.scalars(
        select(InboundMessage).where(InboundMessage.channel == "simulator", InboundMessage.id > after_in)
        .order_by(InboundMessage.id).limit(limit)))
    return out, inbound


async def simulator_may_act_as(session: AsyncSession, mobile: str) -> bool:
    """Whether the phone simulator may text as ``mobile``.

    Only when the number is someone's (staff, or a customer's contact) in simulated organisations
    alone, and none of those could reach anyone real: no person there with a mobile who is not
    simulated, nobody with a linked chat account, no Telegram team chat. Whatever such a text sets
    off (a round, team messages) then stays on the page.
    """
    contacts = func.cast(Customer.contacts, Text)
    known = select(Staff.org_id).where(Staff.mobile == mobile).union(
        select(Customer.org_id).where(contacts.contains(f'"{mobile}"')))
    org_ids = sorted(set(await session.scalars(known)))
    if not org_ids:
        return False
    # A linked chat account is a real person's whatever the flag says: Telegram routes ignore it.
    someone_real = (select(Staff.id).where(Staff.org_id == Organisation.id, or_(
        Staff.telegram_user_id.is_not(None), (Staff.simulated.is_(False) & Staff.mobile.is_not(None))))
                    .exists())
    unsafe = await session.scalar(select(func.count()).select_from(Organisation).where(
        Organisation.id.in_(org_ids),
        or_(Organisation.simulated.is_(False), Organisation.team_chat.like("telegram:%"), someone_real)))
    return unsafe == 0


async def first_simulated_org(session: AsyncSession) -> Organisation | None:
    return await session.scalar(select(Organisation).where(Organisation.simulated.is_(True))
                                .order_by(Organisation.id).limit(1))


# ---------------------------------------------------------------- import


def _diff(existing: dict[str, dict], incoming: list[dict], fields: tuple[str, ...]):
    """Split ``incoming`` into rows to insert, rows to update (with id) and a count unchanged."""
    to_insert, to_update, unchanged = [], [], 0
    for rec in incoming:
        old = existing.get(rec["external_id"])
        if old is None:
            to_insert.append(rec)
        elif any(old[f] != rec[f] for f in fields):
            to_update.append({"id": old["id"], **{f: rec[f] for f in fields}})
        else:
            unchanged += 1
    return to_insert, to_update, unchanged


async def _existing(session: AsyncSession, model, org_id: str, fields: tuple[str, ...]) -> dict[str, dict]:
    cols = [model.id, model.external_id] + [getattr(model, f) for f in fields]
    rows = await session.execute(select(*cols).where(model.org_id == org_id))
    return {r.external_id: dict(r._mapping) for r in rows}


async def _upsert(session: AsyncSession, model, org_id: str, incoming: list[dict],
                  fields: tuple[str, ...], retire: Retirement | None = None) -> dict[str, int]:
    """Insert the new rows and update the changed ones, matched by host id; return the counts.

    With ``retire``, the stored rows ``incoming`` lacks are removed or deactivated as well.
    """
    existing = await _existing(session, model, org_id, fields)
    new, changed, same = _diff(existing, incoming, fields)
    if new:
        await session.execute(insert(model), [{"org_id": org_id, **r} for r in new])
    if changed:
        await session.execute(update(model), changed)
    counts = {"created": len(new), "updated": len(changed), "unchanged": same}
    await _retire(session, model, org_id, existing, incoming, changed, retire, counts)
    return counts


@dataclass(frozen=True)
class Retirement:
    """What becomes of stored rows a complete list (or a window) lacks: ``removed`` or ``deactivated``."""

    mode: str
    now: datetime
    within: tuple[datetime, datetime] | None = None  # only rows whose start_at falls in [lo, hi)
    cancels: str | None = None  # the outbox source whose unsent messages go with a removed row


CANCELS = {"customer_reminders": "customer", "notification_templates": "event"}


def _retirement(plan: ImportPlan, kind: str, now: datetime) -> Retirement | None:
    if kind in plan.complete:
        return Retirement(COMPLETABLE[kind], now, cancels=CANCELS.get(kind))
    if kind == "shifts" and plan.shifts_window is not None:
        return Retirement("removed", now, plan.shifts_window)
    return None


def _chunks(ids: list[int], size: int = 5000) -> Iterable[list[int]]:
    """Slices of ``ids`` that fit every backend's limit on bound parameters."""
    return (ids[start:start + size] for start in range(0, len(ids), size))


async def _retire(session: AsyncSession, model, org_id: str, existing: dict[str, dict], incoming: list[dict],
                  changed: list[dict], retire: Retirement | None, counts: dict[str, int]) -> list[int]:
    """Remove or deactivate the organisation's rows of ``model`` that ``incoming`` lacks (bulk, by id).

    Adds ``removed``/``deactivated`` to ``counts`` when retiring, and ``reactivated`` for deactivated rows
    the import brought back (they are also among the updated); returns the ids retired.
    """
    back = None
    if "deactivated_at" in model.__table__.c:
        by_id = {old["id"]: old for old in existing.values()}
        back = sum(1 for row in changed if by_id[row["id"]]["deactivated_at"] is not None)
    if retire is None:
        if back:
            counts["reactivated"] = back
        return []
    listed = {r["external_id"] for r in incoming}
    gone = [old["id"] for host_id, old in existing.items() if host_id not in listed
            and (retire.within is None or retire.within[0] <= old["start_at"] < retire.within[1])
            and (retire.mode == "removed" or old["deactivated_at"] is None)]
    for chunk in _chunks(gone):
        statement = delete(model) if retire.mode == "removed" else update(model).values(deactivated_at=retire.now)
        await session.execute(statement.where(model.org_id == org_id, model.id.in_(chunk)),
                              execution_options={"synchronize_session": False})
    counts[retire.mode] = len(gone)
    if back is not None:
        counts["reactivated"] = back
    if retire.cancels:
        await cancel_pending(session, org_id, retire.cancels, gone, retire.now)
    if model is Staff:  # what was queued for them (a round held by quiet hours) does not go either
        await cancel_pending_to_staff(session, org_id, gone, retire.now)
    if model is Customer and gone:
        reminders = [rid for chunk in _chunks(gone) for rid in await session.scalars(select(CustomerReminder.id)
                     .where(CustomerReminder.org_id == org_id, CustomerReminder.customer_id.in_(chunk)))]
        await cancel_pending(session, org_id, "customer", reminders, retire.now)
    return gone


async def _id_map(session: AsyncSession, model, org_id: str) -> dict[str, int]:
    """Host id → our id, for an organisation's rows of ``model``."""
    return {r.external_id: r.id for r in await session.execute(
        select(model.external_id, model.id).where(model.org_id == org_id))}


async def known_ids(session: AsyncSession, org_id: str) -> tuple[set[str], set[str], set[str]]:
    """The host ids stored for an organisation: staff, care recipients, customers."""
    staff = set(await session.scalars(select(Staff.external_id).where(Staff.org_id == org_id)))
    recipients = set(await session.scalars(select(CareRecipient.external_id).where(CareRecipient.org_id == org_id)))
    customers = set(await session.scalars(select(Customer.external_id).where(Customer.org_id == org_id)))
    return staff, recipients, customers


# deactivated_at is in the compared fields (always None in an import's records), so listing a
# deactivated record again reactivates it.
STAFF_FIELDS = ("name", "mobile", "email", "roles", "reminders_enabled", "personal_number", "sd_number",
                "area", "telegram_user_id", "deactivated_at")
CUSTOMER_FIELDS = ("name", "area", "contacts", "decision_from", "decision_to", "deactivated_at")
VISIT_FIELDS = ("staff_id", "customer_id", "start_at", "end_at", "confirmed")
TEMPLATE_FIELDS = ("event_type", "title", "text", "delivery", "staff_recipients", "contact_roles")
CUSTOMER_REMINDER_FIELDS = ("customer_id", "type", "title", "text", "first_due", "days_before", "recurrence",
                            "delivery", "recipients", "active")
SCHEDULE_FIELDS = ("first_due", "days_before", "recurrence")
RECIPIENT_FIELDS = ("name", "reminders_enabled", "deactivated_at")
SHIFT_FIELDS = ("staff_id", "care_recipient_id", "start_at", "end_at", "reported", "signed")


def _active(records: list[dict]) -> list[dict]:
    """An import's records as stored: whatever it lists is active."""
    return [{**r, "deactivated_at": None} for r in records]


async def apply_import(session: AsyncSession, plan: ImportPlan, now: datetime) -> dict[str, dict[str, int]]:
    """Upsert a validated plan; return counts per kind (created, updated, unchanged).

    Lists the plan declares complete (and shifts in its window) also retire what they lack:
    counted as ``removed`` or ``deactivated`` (``now`` is when).
    """
    counts: dict[str, dict[str, int]] = {}
    org_in = plan.organisation
    org = await session.get(Organisation, org_in["id"])
    org_values = {k: v for k, v in org_in.items() if k != "id"}
    if org is None:
        session.add(Organisation(id=org_in["id"], round_seq=0, **org_values))
        counts["organisation"] = {"created": 1, "updated": 0, "unchanged": 0}
    elif any(getattr(org, k) != v for k, v in org_values.items()):
        for k, v in org_values.items():
            setattr(org, k, v)
        counts["organisation"] = {"created": 0, "updated": 1, "unchanged": 0}
    else:
        counts["organisation"] = {"created": 0, "updated": 0, "unchanged": 1}
    await session.flush()
    org_id = org_in["id"]

    existing = await _existing(session, Staff, org_id, STAFF_FIELDS)
    incoming_staff = _active(plan.staff)
    new, changed, same = _diff(existing, incoming_staff, STAFF_FIELDS)
    old_mobiles = {old["id"]: old["mobile"] for old in existing.values()}
    for row in changed:  # a new number is worth trying again
        if row["mobile"] != old_mobiles[row["id"]]:
            row["mobile_invalid"] = False
    if new:
        await session.execute(insert(Staff), [{"org_id": org_id, **r} for r in new])
    if changed:
        await session.execute(update(Staff), changed)
    counts["staff"] = {"created": len(new), "updated": len(changed), "unchanged": same}
    await _retire(session, Staff, org_id, existing, incoming_staff, changed, _retirement(plan, "staff", now),
                  counts["staff"])
    staff_map = await _id_map(session, Staff, org_id)

    counts["care_recipients"] = await _upsert(session, CareRecipient, org_id, _active(plan.care_recipients),
                                              RECIPIENT_FIELDS, _retirement(plan, "care_recipients", now))
    recipient_map = await _id_map(session, CareRecipient, org_id)

    if plan.care_recipients:
        # The file states each listed recipient's supervisors in full.
        listed = [recipient_map[r["external_id"]] for r in plan.care_recipients]
        wanted = {(recipient_map[r], staff_map[s]) for r, s in plan.supervisions}
        have = {(r.care_recipient_id, r.staff_id) for r in await session.execute(
            select(Supervision.care_recipient_id, Supervision.staff_id)
            .where(Supervision.care_recipient_id.in_(listed)))}
        for rid, sid in have - wanted:
            await session.execute(delete(Supervision).where(Supervision.care_recipient_id == rid,
                                                            Supervision.staff_id == sid))
        if wanted - have:
            await session.execute(insert(Supervision), [{"care_recipient_id": r, "staff_id": s}
                                                        for r, s in wanted - have])

    shifts = [{
        "external_id": s["external_id"], "staff_id": staff_map[s["staff"]],
        "care_recipient_id": recipient_map[s["care_recipient"]], "start_at": s["start_at"], "end_at": s["end_at"],
        "reported": s["reported"], "signed": s["signed"],
    } for s in plan.shifts]
    counts["shifts"] = await _upsert(session, Shift, org_id, shifts, SHIFT_FIELDS, _retirement(plan, "shifts", now))

    have_history = {(r.staff_id, r.month, r.sent_at) for r in await session.execute(
        select(ReminderHistory.staff_id, ReminderHistory.month, ReminderHistory.sent_at)
        .where(ReminderHistory.org_id == org_id))}
    history = []
    for h in plan.history:
        key = (staff_map[h["staff"]], h["month"], h["sent_at"])
        if key not in have_history:
            have_history.add(key)
            history.append({"org_id": org_id, "staff_id": key[0], "month": key[1], "sent_at": key[2]})
    await add_history(session, history)
    counts["reminder_history"] = {"created": len(history), "updated": 0,
                                  "unchanged": len(plan.history) - len(history)}
    if plan.customers or plan.customer_reminders or {"customers", "customer_reminders"} & plan.complete:
        counts.update(await _apply_customers(session, org_id, plan, now))
    if plan.visits or "visits" in plan.complete:
        customer_map = await _id_map(session, Customer, org_id)
        visits = [{"external_id": v["external_id"], "staff_id": staff_map[v["staff"]],
                   "customer_id": customer_map[v["customer"]], "start_at": v["start_at"], "end_at": v["end_at"],
                   "confirmed": v["confirmed"]} for v in plan.visits]
        counts["visits"] = await _upsert(session, Visit, org_id, visits, VISIT_FIELDS, _retirement(plan, "visits", now))
    if plan.notification_templates or "notification_templates" in plan.complete:
        counts["notification_templates"] = await _upsert(session, NotificationTemplate, org_id,
                                                         plan.notification_templates, TEMPLATE_FIELDS,
                                                         _retirement(plan, "notification_templates", now))
    await refresh_buffer(session, org_id, plan.timezone)  # new data may free waiting visits, or hold ready ones
    return counts


async def refresh_buffer(session: AsyncSession, org_id: str, tz_name: str) -> None:
    """Re-decide every visit not out on a lease or delivered: waiting (with reasons) or ready."""
    tz = ZoneInfo(tz_name)
    rows = await session.execute(
        select(Visit.id, Visit.confirmed, Visit.buffer_state, Visit.reasons, Visit.start_at, Staff.personal_number,
               Staff.sd_number, Customer.decision_from, Customer.decision_to)
        .join(Staff, Staff.id == Visit.staff_id).join(Customer, Customer.id == Visit.customer_id)
        .where(Visit.org_id == org_id, or_(Visit.buffer_state.is_(None), Visit.buffer_state.in_(("waiting", "ready")))))
    changes = []
    for r in rows:
        reasons = blocking_reasons(r.personal_number, r.sd_number, r.decision_from, r.decision_to,
                                   r.start_at.astimezone(tz).date())
        state = buffer_state(r.confirmed, reasons)
        reasons = reasons if state == "waiting" else None
        if (state, reasons) != (r.buffer_state, r.reasons):
            changes.append({"id": r.id, "buffer_state": state, "reasons": reasons})
    if changes:
        await session.execute(update(Visit), changes)


async def lease_visits(session: AsyncSession, org_id: str, limit: int, token: str, now: datetime,
                       until: datetime) -> list[tuple[Visit, Staff, Customer]]:
    """Hand out up to ``limit`` ready visits (and ones whose earlier lease ran out) under ``token``.

    ``SKIP LOCKED``: two polls at once get different visits.
    """
    query = (
        select(Visit).where(Visit.org_id == org_id, or_(Visit.buffer_state == "ready",
                                                        (Visit.buffer_state == "leased") & (Visit.lease_until < now)))
        .order_by(Visit.start_at, Visit.id).limit(limit).with_for_update(skip_locked=True)
    )
    visits = list(await session.scalars(query))
    if not visits:
        return []
    await session.execute(update(Visit).where(Visit.id.in_([v.id for v in visits]))
                          .values(buffer_state="leased", lease_token=token, lease_until=until),
                          execution_options={"synchronize_session": False})
    staff = {s.id: s for s in await session.scalars(select(Staff).where(Staff.id.in_({v.staff_id for v in visits})))}
    customers = await customers_by_ids(session, [v.customer_id for v in visits])
    return [(v, staff[v.staff_id], customers[v.customer_id]) for v in visits]


async def acknowledge_visits(session: AsyncSession, org_id: str, token: str, external_ids: list[str],
                             now: datetime) -> list[str]:
    """Mark the visits of a lease delivered; return the ids that were acknowledged."""
    result = await session.execute(
        update(Visit).where(Visit.org_id == org_id, Visit.lease_token == token, Visit.buffer_state == "leased",
                            Visit.lease_until >= now, Visit.external_id.in_(external_ids))
        .values(buffer_state="delivered", delivered_at=now, lease_until=None)
        .returning(Visit.external_id), execution_options={"synchronize_session": False})
    return sorted(result.scalars())


async def waiting_visits(session: AsyncSession, org_id: str, limit: int = 1000) -> list[tuple[Visit, str, str]]:
    """Visits held back, with the staff's and customer's host ids, oldest first."""
    rows = await session.execute(
        select(Visit, Staff.external_id, Customer.external_id).join(Staff, Staff.id == Visit.staff_id)
        .join(Customer, Customer.id == Visit.customer_id)
        .where(Visit.org_id == org_id, Visit.buffer_state == "waiting").order_by(Visit.start_at, Visit.id)
        .limit(limit))
    return [(r[0], r[1], r[2]) for r in rows]


def _schedule(values: dict, after: date | None) -> dict:
    """next_due and send_on for a reminder's rule, counting from the last due date sent."""
    return next_schedule(values["first_due"], values["recurrence"], values["days_before"], after).columns()


async def _apply_customers(session: AsyncSession, org_id: str, plan: ImportPlan,
                           now: datetime) -> dict[str, dict[str, int]]:
    counts = {"customers": await _upsert(session, Customer, org_id, _active(plan.customers), CUSTOMER_FIELDS,
                                         _retirement(plan, "customers", now))}
    customer_map = await _id_map(session, Customer, org_id)

    incoming = [{**{k: v for k, v in r.items() if k != "customer"}, "customer_id": customer_map[r["customer"]]}
                for r in plan.customer_reminders]
    existing = await _existing(session, CustomerReminder, org_id, CUSTOMER_REMINDER_FIELDS + ("last_sent_due",))
    new, changed, same = _diff(existing, incoming, CUSTOMER_REMINDER_FIELDS)
    if new:
        await session.execute(insert(CustomerReminder), [{"org_id": org_id, **r, **_schedule(r, None)} for r in new])
    by_id = {o["id"]: o for o in existing.values()}
    for row in changed:  # a changed schedule starts again after the last due date already sent
        old = by_id[row["id"]]
        if any(old[f] != row[f] for f in SCHEDULE_FIELDS):
            row.update(_schedule(row, old["last_sent_due"]))
        row["failed_reason"] = None  # a changed reminder is tried again
    for fields in {tuple(sorted(row)) for row in changed}:  # executemany needs one shape per batch
        await session.execute(update(CustomerReminder), [r for r in changed if tuple(sorted(r)) == fields])
    counts["customer_reminders"] = {"created": len(new), "updated": len(changed), "unchanged": same}
    await _retire(session, CustomerReminder, org_id, existing, incoming, changed,
                  _retirement(plan, "customer_reminders", now), counts["customer_reminders"])
    return counts



# ---------------------------------------------------------------- API keys and audit


async def api_key_named(session: AsyncSession, org_id: str, name: str) -> ApiKey | None:
    return await session.scalar(select(ApiKey).where(ApiKey.org_id == org_id, ApiKey.name == name))


async def add_api_key(session: AsyncSession, org_id: str, name: str, key_hash: str, scopes: list[str],
                      now: datetime) -> ApiKey:
    key = ApiKey(org_id=org_id, name=name, key_hash=key_hash, scopes=",".join(scopes), created_at=now)
    session.add(key)
    await session.flush()
    return key


async def list_api_keys(session: AsyncSession, org_id: str | None = None) -> list[ApiKey]:
    query = select(ApiKey).order_by(ApiKey.org_id, ApiKey.name)
    if org_id is not None:
        query = query.where(ApiKey.org_id == org_id)
    return list(await session.scalars(query))


async def revoke_api_key(session: AsyncSession, org_id: str, name: str, now: datetime) -> ApiKey | None:
    """Revoke a key (from this statement on, it opens nothing); None when the organisation has no such key."""
    key = await api_key_named(session, org_id, name)
    if key is not None and key.revoked_at is None:
        key.revoked_at = now
        await session.flush()
    return key


async def active_api_key(session: AsyncSession, key_hash: str) -> ApiKey | None:
    return await session.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None)))


async def any_active_api_key(session: AsyncSession) -> bool:
    return await session.scalar(select(select(ApiKey.id).where(ApiKey.revoked_at.is_(None)).exists())) or False


LAST_USED_GRAIN = timedelta(minutes=1)


async def touch_api_key(session: AsyncSession, key: ApiKey, now: datetime) -> None:
    """Note the key's use; at most once a minute, so a busy key does not write (and, on SQLite, take the
    database's write lock) on every request."""
    if key.last_used_at is not None and key.last_used_at >= now - LAST_USED_GRAIN:
        return
    await session.execute(update(ApiKey).where(
        ApiKey.id == key.id, or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < now - LAST_USED_GRAIN))
        .values(last_used_at=now))


async def add_audit(session: AsyncSession, **values) -> None:
    await session.execute(insert(ApiAudit).values(**values))


async def audit_rows(session: AsyncSession, org_id: str, limit: int) -> list[ApiAudit]:
    return list(await session.scalars(select(ApiAudit).where(ApiAudit.org_id == org_id)
                                      .order_by(ApiAudit.at.desc(), ApiAudit.id.desc()).limit(limit)))
# ---------------------------------------------------------------- deleting what a host no longer has


# The outbox key of a customer reminder's message is "customer:<reminder id>:<due>:<way>:<address>",
# of an event notification "event:<event id>:<template id>:<way>:<address>": which part names the source.
SOURCE_PART = {"customer": 1, "event": 2}


async def cancel_pending(session: AsyncSession, org_id: str, source: str, ids: Iterable[int],
                         now: datetime) -> int:
    """Mark the messages not yet sent for these customer reminders ("customer") or notification templates
    ("event") ``cancelled``, which the dispatcher never claims; return how many.

    Only ``pending`` rows: one a dispatcher holds (``sending``) is already on its way.
    """
    wanted = {str(i) for i in ids}
    if not wanted:
        return 0
    o = OutboxMessage
    rows = await session.execute(select(o.id, o.idempotency_key).where(
        o.org_id == org_id, o.status == "pending", o.idempotency_key.startswith(f"{source}:")))
    part = SOURCE_PART[source]
    doomed = [r.id for r in rows if (parts := r.idempotency_key.split(":")) and len(parts) > part
              and parts[part] in wanted]
    cancelled = 0
    for chunk in _chunks(doomed):
        result = await session.execute(
            update(o).where(o.id.in_(chunk), o.status == "pending").values(status="cancelled", updated_at=now),
            execution_options={"synchronize_session": False})
        cancelled += result.rowcount or 0
    return cancelled


async def cancel_pending_to_staff(session: AsyncSession, org_id: str, staff_ids: list[int], now: datetime) -> None:
    """Mark the messages not yet sent to these people ``cancelled``."""
    o = OutboxMessage
    for chunk in _chunks(staff_ids):
        await session.execute(update(o).where(o.org_id == org_id, o.status == "pending", o.staff_id.in_(chunk))
                              .values(status="cancelled", updated_at=now),
                              execution_options={"synchronize_session": False})


DELETABLE = {"customer_reminder": (CustomerReminder, "customer"), "notification_template": (NotificationTemplate, "event"),
             "visit": (Visit, None)}


async def delete_record(session: AsyncSession, kind: str, org_id: str, external_id: str,
                        now: datetime) -> int | None:
    """Delete one of the organisation's customer reminders, notification templates or visits by host id,
    cancelling the messages it has not sent yet; how many were cancelled, or None when there is no such row."""
    model, source = DELETABLE[kind]
    our_id = await session.scalar(delete(model).where(model.org_id == org_id, model.external_id == external_id)
                                  .returning(model.id), execution_options={"synchronize_session": False})
    if our_id is None:
        return None
    return await cancel_pending(session, org_id, source, [our_id], now) if source else 0



# ---------------------------------------------------------------- automatic rounds and escalation


async def orgs_with_auto_rounds(session: AsyncSession) -> list[Organisation]:
    """Organisations that set automatic round slots (few: a setting, not data)."""
    rows = await session.scalars(select(Organisation).where(Organisation.auto_rounds.is_not(None))
                                 .order_by(Organisation.id))
    return [org for org in rows if org.auto_rounds]  # a JSON null is no slots


async def all_orgs(session: AsyncSession) -> list[Organisation]:
    """Every organisation (few rows): escalation looks at each one's months through an index."""
    return list(await session.scalars(select(Organisation).order_by(Organisation.id)))


async def claim_auto_round_slot(session: AsyncSession, org_id: str, slot_at: datetime, month_key: str,
                                now: datetime) -> int | None:
    """Claim an automatic round's slot: its id, or None when a process claimed it before.

    On PostgreSQL a second claimer waits on the unique key until the first commits, then gets
    nothing; SQLite serialises writers. Claimed in the transaction that queues the round, so a
    round that fails leaves its slot unclaimed for the next tick.
    """
    conn = await session.connection()
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    table = AutoRoundSlot.__table__
    return await session.scalar(
        dialect_insert(table).values(org_id=org_id, slot_at=slot_at, month=month_key, claimed_at=now)
        .on_conflict_do_nothing(index_elements=["org_id", "slot_at"]).returning(table.c.id))


async def link_slot_round(session: AsyncSession, slot_id: int, org_id: str, month_key: str, now: datetime) -> None:
    """Record which round a slot made (the round the automatic run just added, if it reached anyone)."""
    round_id = (select(func.max(ReminderRound.id))
                .where(ReminderRound.org_id == org_id, ReminderRound.month == month_key,
                       ReminderRound.requested_by.is_(None), ReminderRound.created_at == now)
                .scalar_subquery())
    await session.execute(update(AutoRoundSlot).where(AutoRoundSlot.id == slot_id).values(round_id=round_id),
                          execution_options={"synchronize_session": False})


async def accepted_reminder_counts(session: AsyncSession, org_id: str, month_key: str) -> dict[int, int]:
    """Per assistant, the month's reminders the provider took (as ``select_candidates`` counts them:
    imported history counts as sent; one waiting, expired or failed does not)."""
    h, o = ReminderHistory, OutboxMessage
    accepted = or_(h.idempotency_key.is_(None), o.id.is_(None), o.provider_id.is_not(None),
                   o.status.in_(ACCEPTED_STATUSES))
    query = (select(h.staff_id, func.count()).select_from(h)
             .outerjoin(o, o.idempotency_key == h.idempotency_key)
             .where(h.org_id == org_id, h.month == month_key, accepted)
             .group_by(h.staff_id))
    return {staff_id: int(n) for staff_id, n in await session.execute(query)}


async def claim_escalations(session: AsyncSession, org_id: str, month_key: str, counts: dict[int, int],
                            now: datetime) -> set[int]:
    """Escalate these assistants for the month, once each: the ones not escalated before (one statement)."""
    if not counts:
        return set()
    conn = await session.connection()
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    table = Escalation.__table__
    rows = [{"org_id": org_id, "staff_id": staff_id, "month": month_key, "reminders": n, "created_at": now}
            for staff_id, n in sorted(counts.items())]
    result = await session.execute(
        dialect_insert(table).values(rows)
        .on_conflict_do_nothing(index_elements=["org_id", "staff_id", "month"]).returning(table.c.staff_id))
    return {row[0] for row in result}


async def supervisors_of_unfinished(session: AsyncSession, org_id: str, month: Month, tz_name: str,
                                    staff_ids: Iterable[int]) -> dict[int, set[int]]:
    """Supervisor staff id → the given assistants who have an unfinished shift in ``month`` at a care
    recipient that supervisor supervises (one grouped query)."""
    ids = sorted(set(staff_ids))
    if not ids:
        return {}
    lo, hi = month.bounds_utc(tz_name)
    query = (select(Supervision.staff_id, Shift.staff_id).distinct()
             .join(Supervision, Supervision.care_recipient_id == Shift.care_recipient_id)
             .where(Shift.org_id == org_id, Shift.start_at >= lo, Shift.start_at < hi, _unfinished(),
                    Shift.staff_id.in_(ids)))
    out: dict[int, set[int]] = {}
    for supervisor_id, assistant_id in await session.execute(query):
        out.setdefault(supervisor_id, set()).add(assistant_id)
    return out
