"""Reminder rounds and their history: adding them, acknowledgements, completion, the month's funnel,
and which rounds an expired reminder belonged to."""
from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import bindparam, case, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.funnel import HistoryRow, MonthFunnel, RoundInfo
from core.funnel import build as build_funnel
from core.models import OutboxMessage, ReminderHistory, ReminderRound, Shift, Staff, UTCDateTime
from core.months import Month
from core.store._common import bulk_insert, on_postgresql, unfinished_shift
from core.store.outbox import ACCEPTED_STATUSES


async def add_round(session: AsyncSession, **values) -> ReminderRound:
    rnd = ReminderRound(**values)
    session.add(rnd)
    await session.flush()
    return rnd


async def add_history(session: AsyncSession, rows: list[dict]) -> None:
    await bulk_insert(session, ReminderHistory.__table__, rows)


async def copy_history(session: AsyncSession, from_key: str, to_key: str, at: datetime) -> None:
    """A history row for a resend under ``to_key`` (the same person, month and round as ``from_key``)."""
    h = ReminderHistory
    old = await session.scalar(select(h).where(h.idempotency_key == from_key))
    if old is not None:
        await add_history(session, [{"org_id": old.org_id, "staff_id": old.staff_id, "month": old.month,
                                     "sent_at": at, "round_id": old.round_id, "idempotency_key": to_key}])


async def acknowledge_newest(session: AsyncSession, senders: list[list[int]], at: datetime) -> list[tuple | None]:
    """For each sender (given as the staff ids they are), acknowledge the newest unacknowledged reminder
    of any of them; return it as (sent_at, id, staff_id, month), or None when there was none.

    Senders that share a person choose the same reminder (acknowledged once). On PostgreSQL one
    ``UPDATE … RETURNING`` picks and acknowledges (every OK batch runs it, and a round trip waits behind
    the webhooks the loop is answering). It first locks the people's unacknowledged reminders in id order,
    so batches side by side cannot deadlock on them, and chooses among what the lock returns: a batch that
    waited for another's lock sees that batch's acknowledgement (READ COMMITTED re-reads a locked row and
    drops it when no longer unacknowledged), so one person's OKs by SMS and by Telegram at the same moment
    acknowledge two reminders, never one twice. Elsewhere (SQLite, one writer at a time: BEGIN IMMEDIATE)
    a query picks and an UPDATE acknowledges.
    """
    if not any(senders):
        return [None] * len(senders)
    pg = on_postgresql(session)
    if pg:
        pairs = [(n, staff_id) for n, ids in enumerate(senders) for staff_id in sorted(set(ids))]
        rows = await session.execute(_ACKNOWLEDGE_NEWEST_PG, {"senders": [n for n, _ in pairs],
                                                              "staff_ids": [i for _, i in pairs], "at": at})
    else:
        rows = await session.execute(_LATEST_UNACKNOWLEDGED, {"staff_ids": sorted({i for ids in senders for i in ids})})
    # Each row is its person's newest (on PostgreSQL: some sender chose it as the newest of theirs), so a
    # sender's choice is the newest of the rows among its people.
    newest = {row.staff_id: tuple(row) for row in rows}
    chosen = [max((newest[i] for i in ids if i in newest), default=None) for ids in senders]
    acknowledged = sorted(c[1] for c in chosen if c is not None)
    if not pg and acknowledged:
        await session.execute(_ACKNOWLEDGE, {"history_ids": acknowledged, "at": at})
    return chosen


def _latest_unacknowledged():
    h = ReminderHistory
    newest_first = func.row_number().over(partition_by=h.staff_id, order_by=(h.sent_at.desc(), h.id.desc()))
    ranked = (select(h.sent_at, h.id, h.staff_id, h.month, newest_first.label("rank"))
              .where(h.staff_id.in_(bindparam("staff_ids", expanding=True)), h.acknowledged_at.is_(None)).subquery())
    return select(ranked.c.sent_at, ranked.c.id, ranked.c.staff_id, ranked.c.month).where(ranked.c.rank == 1)


# Built once (every OK batch runs them): see core.store.organisations on why. SQLite runs the first two,
# PostgreSQL the third. The UPDATE is on the table, not the mapped class: nothing in the session holds
# history rows to keep in step, and the ORM's bulk-update path costs more than the statement.
_LATEST_UNACKNOWLEDGED = _latest_unacknowledged()
_HISTORY = ReminderHistory.__table__
_ACKNOWLEDGE = (update(_HISTORY).where(_HISTORY.c.id.in_(bindparam("history_ids", expanding=True)))
                .values(acknowledged_at=bindparam("at")))
_ACKNOWLEDGE_NEWEST_PG = text("""
    WITH locked AS (SELECT id, staff_id, sent_at FROM reminder_history
                    WHERE staff_id = ANY(CAST(:staff_ids AS bigint[])) AND acknowledged_at IS NULL
                    ORDER BY id FOR UPDATE),
         chosen AS (SELECT DISTINCT ON (s.sender) l.id
                    FROM unnest(CAST(:senders AS integer[]), CAST(:staff_ids AS bigint[])) AS s (sender, staff_id)
                    JOIN locked l ON l.staff_id = s.staff_id
                    ORDER BY s.sender, l.sent_at DESC, l.id DESC)
    UPDATE reminder_history SET acknowledged_at = :at
    WHERE id IN (SELECT id FROM chosen) AND acknowledged_at IS NULL
    RETURNING sent_at, id, staff_id, month
""").bindparams(bindparam("at", type_=UTCDateTime())).columns(
    _HISTORY.c.sent_at, _HISTORY.c.id, _HISTORY.c.staff_id, _HISTORY.c.month)


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
                                               unfinished_shift()).group_by(Shift.staff_id))
    if recipient_ids is not None:  # a supervisor: the people working for their care recipients that month
        in_scope = select(Shift.staff_id).where(Shift.org_id == org_id, Shift.start_at >= lo, Shift.start_at < hi,
                                                Shift.care_recipient_id.in_(recipient_ids))
        history = history.where(h.staff_id.in_(in_scope))
        unfinished = unfinished.where(Shift.care_recipient_id.in_(recipient_ids))
    time_type = cast(UTCDateTime, ReminderHistory.__table__.c.sent_at.type)
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
