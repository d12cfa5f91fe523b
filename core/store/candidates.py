"""The month's candidates: who has unfinished shifts, when they were last reminded (the 2-hour rule reads
the latest accepted reminder of any month), and what is left per person."""
from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.eligibility import Candidate
from core.models import CareRecipient, OutboxMessage, ReminderHistory, Shift, Staff, UTCDateTime
from core.months import Month
from core.store._common import active_staff, unfinished_shift
from core.store.outbox import ACCEPTED_STATUSES, WAITING_STATUSES


async def select_candidates(session: AsyncSession, org_id: str, month: Month, tz_name: str,
                            recipient_ids: set[int] | None = None,
                            staff_ids: set[int] | None = None) -> list[Candidate]:
    """Every assistant with an unfinished shift in ``month`` (within the scope), in one query.

    Reads only unfinished shifts (a partial index), so the cost follows what is left to do,
    not the size of the month.
    """
    lo, hi = month.bounds_utc(tz_name)
    per_staff_query = (
        select(
            Shift.staff_id.label("staff_id"),
            func.count().label("unfinished"),
            # A deactivated care recipient counts as one with reminders off (condition 5).
            func.sum(case(((CareRecipient.reminders_enabled == True)  # noqa: E712
                           & CareRecipient.deactivated_at.is_(None), 1), else_=0))
            .label("unfinished_enabled"),
        )
        .join(CareRecipient, CareRecipient.id == Shift.care_recipient_id)
        .where(Shift.org_id == org_id, Shift.start_at >= lo, Shift.start_at < hi, unfinished_shift())
        .group_by(Shift.staff_id)
    )
    if recipient_ids is not None:
        per_staff_query = per_staff_query.where(Shift.care_recipient_id.in_(recipient_ids))
    if staff_ids is not None:
        per_staff_query = per_staff_query.where(Shift.staff_id.in_(staff_ids))
    per_staff = per_staff_query.subquery()
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
        .where(active_staff())  # a deactivated assistant is neither reminded nor counted
        .order_by(Staff.name, Staff.id)
    )
    result = await session.execute(query)
    last_type = cast(UTCDateTime, ReminderHistory.__table__.c.sent_at.type)
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
    query = select(func.count()).select_from(Staff).where(Staff.org_id == org_id, active_staff(),
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
    worked_by_active_staff = select(Staff.id).where(Staff.id == Shift.staff_id, active_staff()).exists()
    query = select(Shift.id).where(Shift.org_id == org_id, Shift.start_at >= lo, Shift.start_at < hi,
                                   unfinished_shift(), worked_by_active_staff).limit(1)
    return (await session.scalar(query)) is not None
