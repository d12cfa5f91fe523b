"""The phone simulator's view: its messages, whether it may text as a number, and simulated organisations."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import Customer, InboundMessage, Organisation, OutboxMessage, Staff


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


async def mark_simulated(session: AsyncSession, org_id: str, team_chat: str) -> None:
    """Mark an organisation and its staff simulated, with this team chat: only the demo data does (an import
    never does), so the simulator acts for that organisation alone."""
    await session.execute(update(Organisation).where(Organisation.id == org_id)
                          .values(team_chat=team_chat, simulated=True))
    await session.execute(update(Staff).where(Staff.org_id == org_id).values(simulated=True))
