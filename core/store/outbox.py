"""The outbox: queueing messages, claiming due rows under a lease, recording a send's outcome, validity
(the deadline after which a row expires) and provider status callbacks (which only move a row forward)."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Iterable, cast

from sqlalchemy import Row, and_, bindparam, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from core.models import Organisation, OutboxMessage
from core.store._common import affected_rows, bulk_insert

# Outbox statuses meaning the provider took the message ("unconfirmed": cut off mid-send on a
# provider that cannot be asked; it may have arrived, and is never resent on its own).
ACCEPTED_STATUSES = ("sent", "delivered", "read", "unconfirmed")
# Statuses of a message that may still go out.
WAITING_STATUSES = ("pending", "sending", "unknown")


async def backlog(conn: AsyncConnection, now: datetime) -> list[Row]:
    """The unsettled rows (WAITING_STATUSES) counted by channel and status, in one grouped query over the
    status index: ``channel, status, n`` and ``oldest`` (the creation of the oldest pending row that is late).

    A pending row is late once it is due or was tried: one deferred to the morning by quiet hours is not
    late, one being retried through an outage is. Takes a connection, not a session: the readiness probe
    reads on a bounded connection of its own.
    """
    o = OutboxMessage.__table__
    pending = o.c.status == "pending"
    late = and_(pending, or_(o.c.attempts > 0, o.c.not_before <= now))
    query = (select(o.c.channel, o.c.status, func.count().label("n"),
                    func.min(case((late, o.c.created_at))).label("oldest"))
             .where(o.c.status.in_(WAITING_STATUSES))
             .group_by(o.c.channel, o.c.status)
             .order_by(o.c.channel, o.c.status))
    return list(await conn.execute(query))


async def enqueue(session: AsyncSession, rows: list[dict]) -> None:
    """Insert outbox rows in bulk; each dict needs the non-default columns."""
    await bulk_insert(session, OutboxMessage.__table__, rows)


async def set_payload(session: AsyncSession, key: str, payload: dict) -> None:
    await session.execute(update(OutboxMessage).where(OutboxMessage.idempotency_key == key).values(payload=payload),
                          execution_options={"synchronize_session": False})


async def pending_team_message(session: AsyncSession, key_prefix: str, now: datetime) -> OutboxMessage | None:
    """An unsent gathered team message (e.g. acknowledgements) still open for more lines, or None.

    The caller adds to it or starts one, so transactions gathering under one ``key_prefix`` take turns
    until they commit: two at once would otherwise both find none open and start two. PostgreSQL: a
    transaction-scoped advisory lock on the prefix (taken before the look-up, so it sees what the
    previous holder committed); SQLite's transactions take turns anyway (BEGIN IMMEDIATE).
    """
    conn = await session.connection()
    if conn.dialect.name == "postgresql":
        await session.execute(select(func.pg_advisory_xact_lock(func.hashtext(key_prefix))))
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.idempotency_key.startswith(key_prefix), OutboxMessage.status == "pending",
               OutboxMessage.not_before > now)
        .order_by(OutboxMessage.id.desc()).limit(1)
        .with_for_update()
    )
    return await session.scalar(query)


async def orgs_with_key_prefix(session: AsyncSession, prefix: str) -> list[str]:
    """The organisations that have an outbox row whose key starts with ``prefix``."""
    o = OutboxMessage
    rows = await session.scalars(select(o.org_id).distinct().where(o.idempotency_key.startswith(prefix),
                                                                   o.org_id.is_not(None)))
    return sorted(cast(Iterable[str], rows))  # the WHERE leaves out NULL


async def outbox_by_key_prefixes(session: AsyncSession, org_id: str, prefixes: list[str]) -> list[OutboxMessage]:
    """Outbox rows whose idempotency key starts with one of ``prefixes`` (a reminder's due date)."""
    if not prefixes:
        return []
    return list(await session.scalars(
        select(OutboxMessage).where(OutboxMessage.org_id == org_id,
                                    or_(*[OutboxMessage.idempotency_key.startswith(p) for p in prefixes]))
        .order_by(OutboxMessage.id)))


async def expire_leases(session: AsyncSession, now: datetime, unaskable_channels: Iterable[str] = ()) -> int:
    """Rows left in ``sending`` by a dead process become ``unknown``: checked, never blindly resent.

    On a channel that cannot be asked later, a row whose provider call never started goes back
    to ``pending`` instead: it surely was not sent.
    """
    o = OutboxMessage
    never_called = o.channel.in_(list(unaskable_channels)) & o.sending_started_at.is_(None)
    result = await session.execute(
        update(o)
        .where(o.status == "sending", o.lease_until < now)
        .values(status=case((never_called, "pending"), else_="unknown"), updated_at=now, claimed_by=None),
        execution_options={"synchronize_session": False},
    )
    return affected_rows(result) or 0


async def mark_provider_call(session: AsyncSession, row_id: int, worker: str, now: datetime) -> bool:
    """Record that ``worker`` is about to call the provider for a row it still holds."""
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row_id, OutboxMessage.claimed_by == worker, OutboxMessage.status == "sending",
               OutboxMessage.lease_until > now)
        .values(sending_started_at=now),
        execution_options={"synchronize_session": False},
    )
    return affected_rows(result) == 1


async def claim_due(session: AsyncSession, now: datetime, worker: str, lease: timedelta, limit: int,
                    channels: Iterable[str], statuses: tuple[str, ...] = ("pending",),
                    validity: timedelta | None = None) -> list[OutboxMessage]:
    """Claim up to ``limit`` due rows for ``worker``: mark them ``sending`` with a lease.

    Fair between lanes (an organisation's messages of one kind: its round, its customer reminders,
    its team chat, the service's own): each lane's oldest come first, taken in turns, so one
    organisation's 20,000-SMS round delays another's messages by one batch, not by the whole round.

    With ``validity`` (the default; an organisation may set its own), a row claimed for the first
    time gets its deadline: retried until then, expired after.
    """
    channels = list(channels)
    if not channels:
        return []
    o = OutboxMessage
    due = (o.status.in_(statuses), o.not_before <= now, o.channel.in_(channels))
    # The turns, read without locks (a window function cannot be locked); the rows are then locked
    # by id, skipping those another worker holds. If it holds them all (it read the same turns), this
    # worker takes the oldest rows nobody holds instead: fairness never costs a second worker its share.
    turn = func.row_number().over(partition_by=(o.org_id, o.kind), order_by=(o.not_before, o.id)).label("turn")
    turns = select(o.id, o.not_before, turn).where(*due).subquery()
    picked = list(await session.scalars(select(turns.c.id).order_by(turns.c.turn, turns.c.not_before, turns.c.id)
                                        .limit(limit)))
    rows: list[OutboxMessage] = []
    if picked:
        rows = list(await session.scalars(select(o).where(o.id.in_(picked), *due).with_for_update(skip_locked=True)))
        place = {row_id: n for n, row_id in enumerate(picked)}
        rows.sort(key=lambda r: place[r.id])  # sent in turns too: a batch paced over seconds stays fair
    if not rows:
        rows = list(await session.scalars(select(o).where(*due).order_by(o.not_before, o.id).limit(limit)
                                          .with_for_update(skip_locked=True)))
    if rows:
        await session.execute(
            update(o).where(o.id.in_([r.id for r in rows]))
            # A fresh send starts with no provider call on record. A row claimed only to be checked (``unknown``)
            # keeps its record: if this claimer dies too, the row must stay in doubt, not look never-sent.
            .values(status="sending", lease_until=now + lease, claimed_by=worker,
                    sending_started_at=case((o.status == "pending", None), else_=o.sending_started_at),
                    attempts=o.attempts + 1, updated_at=now),
            execution_options={"synchronize_session": False},
        )
        # The UPDATE above wrote these: the loaded rows are told so without being marked changed, or the
        # session would write each one again, row by row, when the claim commits.
        for r in rows:
            _written(r, status="sending", attempts=r.attempts + 1, lease_until=now + lease, claimed_by=worker)
        if validity is not None:
            fresh = [r for r in rows if r.expires_at is None]
            deadlines = await start_validity(session, now, validity, [r.id for r in fresh], {r.org_id for r in fresh})
            for r in fresh:
                _written(r, expires_at=deadlines[r.org_id])
    return rows



def _written(row: OutboxMessage, **values) -> None:
    """Set attributes of a loaded row to what a bulk statement already stored."""
    for key, value in values.items():
        set_committed_value(row, key, value)


# A send's outcome: only rows this worker still holds take it (a row whose lease ran out belongs
# to whoever checks it next), and only while in ``sending``, so a status callback that raced
# ahead of us (delivered) is never moved backwards.
_FINISH = (
    update(OutboxMessage.__table__)
    .where(OutboxMessage.__table__.c.id == bindparam("b_id"),
           OutboxMessage.__table__.c.claimed_by == bindparam("b_worker"))
    .values(
        status=case((OutboxMessage.__table__.c.status == "sending", bindparam("b_status")),
                    else_=OutboxMessage.__table__.c.status),
        provider_id=bindparam("b_provider_id"),
        error_code=bindparam("b_error_code"),
        error_message=bindparam("b_error_message"),
        not_before=bindparam("b_not_before"),
        sent_at=bindparam("b_sent_at"),
        lease_until=None,
        claimed_by=None,
        updated_at=bindparam("b_now"),
    )
)


async def finish_claimed(session: AsyncSession, outcomes: list[dict]) -> None:
    """Write what became of rows a worker claimed, releasing them (one executemany).

    Each dict holds ``b_id``, ``b_worker`` (the claimer), ``b_status``, ``b_provider_id``, ``b_error_code``,
    ``b_error_message``, ``b_not_before``, ``b_sent_at`` and ``b_now``; the ``b_`` prefix keeps the bound
    names apart from the columns'.
    """
    await session.execute(_FINISH, outcomes)


async def start_validity(session: AsyncSession, now: datetime, default: timedelta, row_ids: list[int],
                         org_ids: set[str | None]) -> dict[str | None, datetime]:
    """Give the rows without a deadline one: ``now`` plus their organisation's validity (one UPDATE per
    distinct validity, few). Returns the deadline per organisation."""
    if not row_ids:
        return {}
    known: dict[str | None, int | None] = {org_id: seconds for org_id, seconds in await session.execute(
        select(Organisation.id, Organisation.message_validity)
        .where(Organisation.id.in_(sorted(o for o in org_ids if o is not None))))}
    deadlines = {org: now + (timedelta(seconds=seconds) if (seconds := known.get(org)) else default)
                 for org in org_ids}
    o = OutboxMessage
    for deadline in sorted(set(deadlines.values())):
        orgs = [org for org, d in deadlines.items() if d == deadline]
        org_match = or_(o.org_id.in_([x for x in orgs if x is not None]),
                        *([o.org_id.is_(None)] if None in orgs else []))
        for start in range(0, len(row_ids), 5000):
            await session.execute(
                update(o).where(o.id.in_(row_ids[start:start + 5000]), o.expires_at.is_(None), org_match)
                .values(expires_at=deadline), execution_options={"synchronize_session": False})
    return deadlines


async def expire_overdue(session: AsyncSession, now: datetime, channels: Iterable[str],
                         validity: timedelta) -> list[OutboxMessage]:
    """On channels that are down (nothing is tried there), due rows whose validity has run out become
    ``expired``; rows queued during the outage start their validity now. Returns the expired rows."""
    channels = list(channels)
    if not channels:
        return []
    o = OutboxMessage
    due = (o.status == "pending", o.channel.in_(channels), o.not_before <= now)
    unstarted = list(await session.execute(select(o.id, o.org_id).where(*due, o.expires_at.is_(None))))
    await start_validity(session, now, validity, [r.id for r in unstarted], {r.org_id for r in unstarted})
    ids = list(await session.scalars(select(o.id).where(*due, o.expires_at <= now).with_for_update(skip_locked=True)))
    if not ids:
        return []
    await session.execute(update(o).where(o.id.in_(ids)).values(status="expired", error_code="expired",
                                                                  error_message="validity ran out", updated_at=now),
                          execution_options={"synchronize_session": False})
    return list(await session.scalars(select(o).where(o.id.in_(ids)).order_by(o.id)))


STATUS_RANK = {
    "pending": 0, "sending": 1, "unknown": 1, "unconfirmed": 2, "queued": 2, "accepted": 2, "scheduled": 2, "sent": 3,
    "delivered": 5, "read": 6, "undelivered": 5, "failed": 5, "canceled": 5, "expired": 5,
    "cancelled": 5,  # ours: its reminder or template was deleted before it went
}


async def apply_status(session: AsyncSession, provider_id: str, status: str, error_code: str | None,
                       now: datetime, row_id: int | None = None) -> OutboxMessage | None:
    """Move a message's status forward (never backwards); return it when it changed.

    ``row_id`` (our id, carried in the callback URL) finds the row even before the send's
    own result, with the provider id, has been stored.
    """
    query = select(OutboxMessage).with_for_update()
    if row_id is not None:
        query = query.where(OutboxMessage.id == row_id,
                            or_(OutboxMessage.provider_id.is_(None), OutboxMessage.provider_id == provider_id))
    else:
        query = query.where(OutboxMessage.provider_id == provider_id)
    row = await session.scalar(query)
    if row is None:
        return None
    if row.provider_id is None:
        row.provider_id = provider_id
    if STATUS_RANK.get(status, -1) <= STATUS_RANK.get(row.status, 0):
        return None
    row.status = status
    row.updated_at = now
    if error_code:
        row.error_code = error_code
    return row
