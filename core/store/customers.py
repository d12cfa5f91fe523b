"""Customers (of home-care organisations) and their contacts."""
from __future__ import annotations

from typing import Iterable

from sqlalchemy import Text, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import Customer


async def customers_by_ids(session: AsyncSession, ids: Iterable[int]) -> dict[int, Customer]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    return {c.id: c for c in await session.scalars(select(Customer).where(Customer.id.in_(wanted)))}


async def customer_by_external_id(session: AsyncSession, org_id: str, external_id: str) -> Customer | None:
    return await session.scalar(select(Customer).where(Customer.org_id == org_id,
                                                       Customer.external_id == external_id))


async def customers_with_contact(session: AsyncSession, mobile: str) -> list[tuple[Customer, dict]]:
    """Customers listing ``mobile`` among their contacts, with that contact (ordered by customer id).

    The contacts are JSON, so this reads them as text; it runs only for texts from numbers that are
    not staff, which are few.
    """
    rows = await session.scalars(select(Customer).where(func.cast(Customer.contacts, Text).contains(f'"{mobile}"'))
                                 .order_by(Customer.id))
    return [(c, contact) for c in rows for contact in (c.contacts or []) if contact.get("mobile") == mobile][:20]
