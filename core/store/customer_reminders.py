"""Customer reminders: claiming the due ones, locking and updating their state, listing them."""
from __future__ import annotations

from datetime import date
from typing import Iterable

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import Customer, CustomerReminder


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
    table = CustomerReminder.__table__
    for shape in sorted({tuple(sorted(c)) for c in changes}):  # executemany needs one shape per batch
        # A Core executemany (the ORM's bulk-by-primary-key path costs several times the CPU per row);
        # the ``b_`` names keep the bound parameters apart from the columns'.
        statement = (update(table).where(table.c.id == bindparam("b_id"))
                     .values({column: bindparam(f"b_{column}") for column in shape if column != "id"}))
        await session.execute(statement, [{f"b_{k}": v for k, v in c.items()}
                                          for c in changes if tuple(sorted(c)) == shape])


async def customer_reminder_rows(session: AsyncSession, org_id: str, customer_external_id: str | None,
                                 limit: int) -> list[tuple[CustomerReminder, str]]:
    """An organisation's customer reminders with their customer's host id, ordered by send day."""
    query = (select(CustomerReminder, Customer.external_id).join(Customer, Customer.id == CustomerReminder.customer_id)
             .where(CustomerReminder.org_id == org_id))
    if customer_external_id is not None:
        query = query.where(Customer.external_id == customer_external_id)
    query = query.order_by(CustomerReminder.send_on.is_(None), CustomerReminder.send_on, CustomerReminder.id)
    return [(row[0], row[1]) for row in await session.execute(query.limit(limit))]
