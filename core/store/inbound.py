"""Inbound messages: stored once per (channel, provider id) with the reply they were given, and stored
Telegram updates retried until processed."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import InboundMessage
from core.store._common import conflict_insert

INBOUND_OPTIONAL = ("staff_id", "org_id", "command", "reply", "processed_at")
_CLAIMS: dict = {}  # the backend's INSERT construct -> the claim statement built with it


async def claim_inbound(session: AsyncSession, rows: list[dict]) -> tuple[dict[tuple[str, str], int], dict]:
    """Store inbound rows once per (channel, provider_id): return the ids of the new ones and,
    for ids seen before, the earlier row's ``reply`` and ``processed_at``.

    One ``INSERT … ON CONFLICT DO NOTHING RETURNING`` (both backends) for the lot, in key order so
    two processes inserting overlapping batches take the unique index's locks in the same order.
    A concurrent duplicate waits for the first writer's commit and then finds its row, reply included.
    """
    if not rows:
        return {}, {}
    rows = sorted(({**{k: None for k in INBOUND_OPTIONAL}, **r} for r in rows),
                  key=lambda r: (r["channel"], r["provider_id"]))
    table = InboundMessage.__table__
    # Passed as executemany parameters, not .values(rows): SQLAlchemy then compiles the statement
    # once and batches the rows itself ("insertmanyvalues"), instead of compiling a new statement
    # for every batch size.
    dialect_insert = await conflict_insert(session)
    claim = _CLAIMS.get(dialect_insert)
    if claim is None:  # built once per backend (every inbound batch runs it)
        claim = _CLAIMS[dialect_insert] = (
            dialect_insert(table).on_conflict_do_nothing(index_elements=["channel", "provider_id"])
            .returning(table.c.channel, table.c.provider_id, table.c.id))
    new = {(r.channel, r.provider_id): r.id for r in await session.execute(claim, rows)}
    seen = [(r["channel"], r["provider_id"]) for r in rows if (r["channel"], r["provider_id"]) not in new]
    earlier = {}
    for channel in sorted({c for c, _ in seen}):
        ids = [p for c, p in seen if c == channel]
        for row in await session.execute(select(table.c.provider_id, table.c.reply, table.c.processed_at,
                                                table.c.attempts)
                                         .where(table.c.channel == channel, table.c.provider_id.in_(ids))):
            earlier[(channel, row.provider_id)] = row
    return new, earlier


_SET_REPLY = (update(InboundMessage.__table__).where(InboundMessage.__table__.c.id == bindparam("row_id"))
              .values(reply=bindparam("reply")))


async def set_inbound_replies(session: AsyncSession, replies: dict[int, str]) -> None:
    """Store the reply each new inbound row was given (one executemany)."""
    if replies:
        await session.execute(_SET_REPLY, [{"row_id": k, "reply": v} for k, v in sorted(replies.items())])


async def mark_update_processed(session: AsyncSession, provider_id: str, at: datetime) -> None:
    await session.execute(update(InboundMessage).where(InboundMessage.channel == "telegram-update",
                                                       InboundMessage.provider_id == provider_id)
                          .values(processed_at=at))


async def unprocessed_updates(session: AsyncSession, before: datetime, max_tries: int,
                              limit: int = 100) -> list[InboundMessage]:
    """Stored updates neither finished nor given up (``max_tries`` failed tries), received before ``before``."""
    return list(await session.scalars(
        select(InboundMessage).where(InboundMessage.channel == "telegram-update",
                                     InboundMessage.processed_at.is_(None), InboundMessage.attempts < max_tries,
                                     InboundMessage.received_at < before)
        .order_by(InboundMessage.id).limit(limit)))


async def count_update_failure(session: AsyncSession, provider_id: str) -> int:
    """One more failed try of a stored update; the tries so far (one statement, so concurrent tries count apart)."""
    table = InboundMessage.__table__
    tries = await session.scalar(
        update(table).where(table.c.channel == "telegram-update", table.c.provider_id == provider_id)
        .values(attempts=table.c.attempts + 1).returning(table.c.attempts))
    return tries or 0
