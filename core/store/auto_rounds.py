"""Automatic rounds (claimed slots) and escalation to supervisors after repeated reminders."""
from __future__ import annotations

from datetime import datetime
from typing import Iterable

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import (
    AutoRoundSlot,
    Escalation,
    Organisation,
    OutboxMessage,
    ReminderHistory,
    ReminderRound,
    Shift,
    Supervision,
)
from core.months import Month
from core.store._common import conflict_insert, unfinished_shift
from core.store.outbox import ACCEPTED_STATUSES


async def orgs_with_auto_rounds(session: AsyncSession) -> list[Organisation]:
    """Organisations that set automatic round slots (few: a setting, not data)."""
    rows = await session.scalars(select(Organisation).where(Organisation.auto_rounds.is_not(None))
                                 .order_by(Organisation.id))
    return [org for org in rows if org.auto_rounds]  # a JSON null is no slots


async def claim_auto_round_slot(session: AsyncSession, org_id: str, slot_at: datetime, month_key: str,
                                now: datetime) -> int | None:
    """Claim an automatic round's slot: its id, or None when a process claimed it before.

    On PostgreSQL a second claimer waits on the unique key until the first commits, then gets
    nothing; SQLite serialises writers. Claimed in the transaction that queues the round, so a
    round that fails leaves its slot unclaimed for the next tick.
    """
    dialect_insert = await conflict_insert(session)
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
    dialect_insert = await conflict_insert(session)
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
             .where(Shift.org_id == org_id, Shift.start_at >= lo, Shift.start_at < hi, unfinished_shift(),
                    Shift.staff_id.in_(ids)))
    out: dict[int, set[int]] = {}
    for supervisor_id, assistant_id in await session.execute(query):
        out.setdefault(supervisor_id, set()).add(assistant_id)
    return out
