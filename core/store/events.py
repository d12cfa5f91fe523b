"""Event notifications: the templates an event type sets off, and events stored once per host id."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import Event, NotificationTemplate
from core.store._common import conflict_insert


async def templates_for(session: AsyncSession, org_id: str, event_type: str) -> list[NotificationTemplate]:
    return list(await session.scalars(
        select(NotificationTemplate).where(NotificationTemplate.org_id == org_id,
                                           NotificationTemplate.event_type == event_type)
        .order_by(NotificationTemplate.id)))


async def claim_event(session: AsyncSession, row: dict) -> int | None:
    """Store the event once per host id: its new id, or None if it was received before."""
    dialect_insert = await conflict_insert(session)
    table = Event.__table__
    return await session.scalar(dialect_insert(table).values(**row)
                                .on_conflict_do_nothing(index_elements=["org_id", "external_id"])
                                .returning(table.c.id))


async def event_by_external_id(session: AsyncSession, org_id: str, external_id: str) -> Event | None:
    return await session.scalar(select(Event).where(Event.org_id == org_id, Event.external_id == external_id))
