"""The integration buffer of visits: re-deciding waiting or ready, leasing ready visits to the host's poll,
acknowledging them, listing those held back."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.buffer import blocking_reasons, buffer_state
from core.models import Customer, Staff, Visit
from core.store.customers import customers_by_ids


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
        stored_reasons = reasons if state == "waiting" else None
        if (state, stored_reasons) != (r.buffer_state, r.reasons):
            changes.append({"id": r.id, "buffer_state": state, "reasons": stored_reasons})
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
