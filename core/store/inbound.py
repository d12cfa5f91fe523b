"""Inbound messages: stored once per (channel, provider id) with the reply they were given, and stored
Telegram updates retried until processed."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import InboundMessage
from core.store._common import array_of, on_postgresql, per_backend

INBOUND_REQUIRED = ("channel", "provider_id", "sender", "body", "received_at")
INBOUND_OPTIONAL = ("staff_id", "org_id", "command", "reply", "processed_at")
INBOUND_COLUMNS = INBOUND_REQUIRED + INBOUND_OPTIONAL


def _claim(pg: bool):
    """``INSERT … ON CONFLICT DO NOTHING RETURNING`` for a batch of inbound rows.

    On PostgreSQL the rows go as one array per column, unnested into rows by the INSERT: the statement's
    text is the same for every batch size, so it is prepared once per connection. On SQLite they go as
    executemany parameters, which SQLAlchemy batches into one multi-row INSERT ("insertmanyvalues")
    from one compiled form.
    """
    table = InboundMessage.__table__
    if pg:
        arrays = select(*(func.unnest(bindparam(c, type_=array_of(table.c[c].type))).label(c) for c in INBOUND_COLUMNS))
        claim: postgresql.Insert | sqlite.Insert = postgresql.insert(table).from_select(INBOUND_COLUMNS, arrays)
    else:
        claim = sqlite.insert(table)
    return (claim.on_conflict_do_nothing(index_elements=["channel", "provider_id"])
            .returning(table.c.channel, table.c.provider_id, table.c.id))


_CLAIM = per_backend(_claim)


async def claim_inbound(session: AsyncSession, rows: list[dict]) -> tuple[dict[tuple[str, str], int], dict]:
    """Store inbound rows once per (channel, provider_id): return the ids of the new ones and,
    for ids seen before, the earlier row's ``reply`` and ``processed_at``.

    One ``INSERT … ON CONFLICT DO NOTHING RETURNING`` (``_claim``) for the lot, in key order so two
    processes inserting overlapping batches take the unique index's locks in the same order.
    A concurrent duplicate waits for the first writer's commit and then finds its row, reply included.
    """
    if not rows:
        return {}, {}
    unknown = set().union(*rows) - set(INBOUND_COLUMNS)
    if unknown:  # PostgreSQL's arrays are built column by column: an unknown key would be dropped unseen
        raise ValueError(f"claim_inbound takes {', '.join(INBOUND_COLUMNS)}; not {sorted(unknown)}")
    rows = sorted(({**{k: None for k in INBOUND_OPTIONAL}, **r} for r in rows),
                  key=lambda r: (r["channel"], r["provider_id"]))
    table = InboundMessage.__table__
    pg = on_postgresql(session)
    params = {c: [r[c] for r in rows] for c in INBOUND_COLUMNS} if pg else rows
    new = {(r.channel, r.provider_id): r.id for r in await session.execute(_CLAIM[pg], params)}
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
