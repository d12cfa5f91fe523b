"""The outbox dispatcher: claims due rows, hands each to its channel, stores what happened.

Claims are ``FOR UPDATE SKIP LOCKED`` with a lease, so several processes share the work
without double-sending. A row is marked ``sending`` (committed) before the provider is
called; if the process dies there, the lease runs out, the row becomes ``unknown`` and is
checked against the provider before anything is resent. A provider that cannot be asked
(Telegram) leaves the row ``unconfirmed``: reported to the team, never sent twice.
"""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

from sqlalchemy import bindparam, case, update

from bot.channels import CannotTell, Channel, Outgoing, SendResult
from core import store
from core.models import OutboxMessage
from handlers.context import Context
from handlers.team import delivery_failed, delivery_unconfirmed

logger = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Pacer:
    """At most ``rate`` starts per second (0 = unpaced), shared by all sends of one sender."""

    def __init__(self, rate: float):
        self._interval = 1.0 / rate if rate > 0 else 0.0
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        if not self._interval:
            return
        async with self._lock:
            now = time.monotonic()
            if self._next > now:
                await asyncio.sleep(self._next - now)
                now = self._next
            self._next = now + self._interval


@dataclass
class DispatchStats:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    unknown: int = 0
    reconciled: int = 0
    unconfirmed: int = 0
    resent_after_check: int = 0
    released: int = 0
    outcomes: dict = field(default_factory=dict)


# Results are recorded at least this often while a batch is being sent.
STORE_EVERY_ROWS = 50
STORE_EVERY_SECONDS = 0.5

# Status written after a send: only rows this worker still holds take it (a row whose lease ran
# out belongs to whoever checks it next), and only while in ``sending``, so a status callback
# that raced ahead of us (delivered) is never moved backwards.
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


class Dispatcher:
    def __init__(self, sessionmaker, channels: dict[str, Channel], *, make_context: Callable[..., Context],
                 rate: float = 10.0, concurrency: int = 20, batch: int = 200, lease_seconds: float = 60.0,
                 max_attempts: int = 8, clock: Callable[[], datetime] = utcnow, worker_id: str | None = None,
                 check_after_seconds: float = 30.0, send_timeout: float = 15.0):
        self._sessions = sessionmaker
        self._channels = channels
        self._make_context = make_context
        # SMS at the configured rate (the number's throughput); others at their provider's own limit.
        self._pacers = {name: Pacer(rate if name == "sms" else getattr(channel, "max_rate", 0))
                        for name, channel in channels.items()}
        self._unaskable = [name for name, channel in channels.items() if not getattr(channel, "askable", True)]
        self._semaphore = asyncio.Semaphore(concurrency)
        self._lease = timedelta(seconds=lease_seconds)
        # A send may start only while the lease still covers its whole timeout ...
        self._send_window = timedelta(seconds=send_timeout)
        # ... and a batch must fit in the lease at the paced rate, or its tail would outlive it.
        paced = int(rate * max(lease_seconds - send_timeout, 1) * 0.8) if rate > 0 else batch
        self._batch = max(1, min(batch, paced))
        self._max_attempts = max_attempts
        # A send that ended in doubt is checked against the provider only after this long: a
        # provider that answers late may still be creating the message when we give up.
        self._check_after = timedelta(seconds=check_after_seconds)
        self._clock = clock
        self.worker_id = worker_id or f"w-{uuid.uuid4().hex[:8]}"
        self._running = asyncio.Lock()

    async def run_once(self) -> DispatchStats:
        """Send everything due now; return what happened. Concurrent calls in one process queue up."""
        async with self._running:
            stats = DispatchStats()
            async with self._sessions.begin() as session:
                stats.unknown += await store.expire_leases(session, self._clock(), self._unaskable)
            await self._reconcile(stats)
            while True:
                async with self._sessions.begin() as session:
                    rows = await store.claim_due(session, self._clock(), self.worker_id, self._lease, self._batch,
                                                 self._channels)
                if not rows:
                    return stats
                await self._send_and_store(rows, stats)

    async def _send_and_store(self, rows: list[OutboxMessage], stats: DispatchStats) -> None:
        """Send the claimed rows concurrently; record results as they come, a small group at a time.

        A batch paced over seconds must not hold finished sends unrecorded until its last one:
        if the process dies, a recorded send is safe, an unrecorded one is in doubt (SMS is then
        checked against Twilio; Telegram cannot be, so its results are recorded one by one).
        """
        async def send(row: OutboxMessage) -> tuple[OutboxMessage, SendResult]:
            return row, await self._send(row)

        finished: list[tuple[OutboxMessage, SendResult]] = []
        last_store = time.monotonic()
        for next_done in asyncio.as_completed([send(row) for row in rows]):
            row, result = await next_done
            finished.append((row, result))
            # A send on a channel that cannot be asked later is recorded at once: until then it is in doubt.
            if (len(finished) >= STORE_EVERY_ROWS or time.monotonic() - last_store >= STORE_EVERY_SECONDS
                    or row.channel in self._unaskable):
                await self._store(finished, stats)
                finished, last_store = [], time.monotonic()
        if finished:
            await self._store(finished, stats)

    async def _send(self, row: OutboxMessage) -> SendResult:
        channel = self._channels[row.channel]
        async with self._semaphore:
            await self._pacers[row.channel].wait()
            pace = getattr(channel, "pace", None)
            if pace is not None:
                await pace(_outgoing(row))
            if row.lease_until is not None and self._clock() + self._send_window >= row.lease_until:
                # Our claim could run out mid-send and another process take the row: hand it back unsent.
                return SendResult("released")
            if not getattr(channel, "askable", True):
                # The provider cannot be asked later: record durably that the call starts now, so a
                # crash before this point is known to have sent nothing.
                async with self._sessions.begin() as session:
                    if not await store.mark_provider_call(session, row.id, self.worker_id, self._clock()):
                        return SendResult("released")
            try:
                return await channel.send(_outgoing(row))
            except Exception as exc:  # an adapter bug must not lose the row
                logger.exception("channel %s failed on outbox row %s", row.channel, row.id)
                return SendResult("unknown", error_code="adapter", error_message=type(exc).__name__)

    async def _store(self, pairs: list[tuple[OutboxMessage, SendResult]], stats: DispatchStats) -> None:
        now = self._clock()
        params, failures = [], []
        for row, result in pairs:
            status, not_before, sent_at = result.outcome, row.not_before, None
            if result.outcome == "sent":
                status, sent_at = (result.status if result.status in ("delivered", "sent") else "sent"), now
                stats.sent += 1
            elif result.outcome == "retry":
                if row.attempts >= self._max_attempts:
                    status = "failed"
                    stats.failed += 1
                else:
                    status = "pending"
                    backoff = result.retry_after if result.retry_after is not None else min(300, 2 ** row.attempts)
                    not_before = now + timedelta(seconds=backoff)
                    stats.retried += 1
            elif result.outcome == "failed":
                stats.failed += 1
                failures.append((row, result))
            elif result.outcome == "released":
                status = "pending"
                stats.released += 1
            else:
                stats.unknown += 1
                not_before = now + self._check_after
            params.append({"b_id": row.id, "b_worker": self.worker_id, "b_status": status,
                           "b_provider_id": result.provider_id,
                           "b_error_code": result.error_code, "b_error_message": result.error_message,
                           "b_not_before": not_before, "b_sent_at": sent_at, "b_now": now})
            stats.outcomes[result.outcome] = stats.outcomes.get(result.outcome, 0) + 1
        async with self._sessions.begin() as session:
            await session.execute(_FINISH, params)
            if failures:
                ctx = self._make_context(session, now)
                for row, result in failures:
                    await delivery_failed(ctx, row, result.error_message or result.error_code or "failed")
        logger.info("dispatched %d rows: %s", len(pairs), stats.outcomes)

    async def _reconcile(self, stats: DispatchStats) -> None:
        """Check rows in ``unknown`` against the provider: found means sent, absent means send again,
        and where the provider cannot tell, the row is ``unconfirmed``: never resent, and reported."""
        while True:
            async with self._sessions.begin() as session:
                rows = await store.claim_due(session, self._clock(), self.worker_id, self._lease, self._batch,
                                             self._channels, statuses=("unknown",))
            if not rows:
                return
            now, params, unconfirmed = self._clock(), [], []
            for row in rows:
                status, provider_id, error, not_before, sent_at = "pending", None, (None, None), now, None
                try:
                    found = await self._channels[row.channel].find_sent(_outgoing(row))
                except CannotTell:
                    status, error, not_before = "unconfirmed", ("unverifiable", "provider cannot tell"), row.not_before
                    unconfirmed.append(row)
                    stats.unconfirmed += 1
                    stats.outcomes["unconfirmed"] = stats.outcomes.get("unconfirmed", 0) + 1
                except Exception as exc:
                    logger.warning("could not check outbox row %s against %s: %s", row.id, row.channel,
                                   type(exc).__name__)
                    status, error, not_before = "unknown", ("check_failed", type(exc).__name__), now + timedelta(
                        seconds=30)
                else:
                    if found:
                        status, provider_id, not_before, sent_at = "sent", found, row.not_before, now
                        stats.reconciled += 1
                    else:
                        stats.resent_after_check += 1
                params.append({"b_id": row.id, "b_worker": self.worker_id, "b_status": status,
                               "b_provider_id": provider_id, "b_error_code": error[0], "b_error_message": error[1],
                               "b_not_before": not_before, "b_sent_at": sent_at, "b_now": now})
            async with self._sessions.begin() as session:
                await session.execute(_FINISH, params)
                ctx = self._make_context(session, now)
                for row in unconfirmed:
                    logger.warning("outbox row %s (%s) is unconfirmed: not resent, reported", row.id, row.channel)
                    await delivery_unconfirmed(ctx, row)


def _outgoing(row: OutboxMessage) -> Outgoing:
    return Outgoing(id=row.id, address=row.address, body=row.body, idempotency_key=row.idempotency_key,
                    created_at=row.created_at, payload=row.payload)
