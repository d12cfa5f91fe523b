"""Channel health shared by every worker: the failure streak, down and back up, whose turn it is to probe,
and what waits on a channel."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Row, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from core.models import ChannelState, OutboxMessage
from core.store._common import affected_rows, conflict_insert
from core.store.outbox import WAITING_STATUSES


async def channel_states(conn: AsyncConnection) -> list[Row]:
    """Every channel's shared state as the dispatchers keep it: ``channel, failures, failing_since,
    down_since``. Takes a connection: the readiness probe reads on a bounded connection of its own."""
    t = ChannelState.__table__
    return list(await conn.execute(select(t.c.channel, t.c.failures, t.c.failing_since, t.c.down_since)
                                   .order_by(t.c.channel)))


async def _channel_row(session: AsyncSession, channel: str) -> ChannelState:
    """The channel's state row, locked (created if missing). The INSERT comes first so that on SQLite
    the transaction holds the write lock before it reads."""
    dialect_insert = await conflict_insert(session)
    await session.execute(dialect_insert(ChannelState.__table__).values(channel=channel, failures=0)
                          .on_conflict_do_nothing(index_elements=["channel"]))
    # cast: the INSERT above made sure the row is there.
    return cast(ChannelState, await session.scalar(select(ChannelState).where(ChannelState.channel == channel)
                                .with_for_update().execution_options(populate_existing=True)))


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
    return affected_rows(result) == 1


async def waiting_by_org(session: AsyncSession, channel: str) -> dict[str, int]:
    """How many messages wait to go on ``channel``, per organisation."""
    o = OutboxMessage
    rows = await session.execute(select(o.org_id, func.count()).where(
        o.channel == channel, o.status.in_(WAITING_STATUSES), o.org_id.is_not(None)).group_by(o.org_id))
    return cast(dict[str, int], {org_id: n for org_id, n in rows})  # the WHERE leaves out NULL
