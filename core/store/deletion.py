"""Deleting what a host no longer has, and cancelling the messages it had queued and not yet sent."""
from __future__ import annotations

from datetime import datetime
from typing import Iterable

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import CustomerReminder, NotificationTemplate, OutboxMessage, Visit
from core.store._common import affected_rows, chunks

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
    for chunk in chunks(doomed):
        result = await session.execute(
            update(o).where(o.id.in_(chunk), o.status == "pending").values(status="cancelled", updated_at=now),
            execution_options={"synchronize_session": False})
        cancelled += affected_rows(result) or 0
    return cancelled


async def cancel_pending_to_staff(session: AsyncSession, org_id: str, staff_ids: list[int], now: datetime) -> None:
    """Mark the messages not yet sent to these people ``cancelled``."""
    o = OutboxMessage
    for chunk in chunks(staff_ids):
        await session.execute(update(o).where(o.org_id == org_id, o.status == "pending", o.staff_id.in_(chunk))
                              .values(status="cancelled", updated_at=now),
                              execution_options={"synchronize_session": False})


# By kind: the model, and the source its outbox keys name (None: it queues no messages of its own).
DELETABLE: dict[str, tuple[type[CustomerReminder] | type[NotificationTemplate] | type[Visit], str | None]] = {
    "customer_reminder": (CustomerReminder, "customer"), "notification_template": (NotificationTemplate, "event"),
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
