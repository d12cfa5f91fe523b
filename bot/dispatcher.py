"""The outbox dispatcher: claims due rows, hands each to its channel, stores what happened.

Claims are ``FOR UPDATE SKIP LOCKED`` with a lease, so several processes share the work
without double-sending. A row is marked ``sending`` (committed) before the provider is
called; if the process dies there, the lease runs out, the row becomes ``unknown`` and is
checked against the provider before anything is resent. A provider that cannot be asked
(Telegram) leaves the row ``unconfirmed``: reported to the team, never sent twice.

Outages (docs/outages.md): a transient failure is retried with capped backoff until the
message's validity runs out, then it is ``expired`` and named to the team. Enough transient
failures in a row mark the channel down in the database, for every worker: nothing is tried
there except one probe send at intervals, and the team hears once when it goes and once when
it is back (``bot.channel_health``). ``shutdown`` stops claiming, lets sends in flight finish within a grace, and hands
back at once what never left.
"""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable, Mapping

from bot.channel_health import ChannelHealth
from bot.pacing import Pacer
from core import store
from core.channels import CannotTell, Channel, Outgoing, SendResult
from core.models import OutboxMessage
from core.quiet import next_allowed
from core.retry import DEFAULT_MAX_BACKOFF, DEFAULT_VALIDITY, next_try, waits_for_quiet_hours
from handlers.context import Context
from handlers.team import delivery_failed, delivery_unconfirmed, reminders_expired

logger = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


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
    expired: int = 0
    outcomes: dict = field(default_factory=dict)


# Results are recorded at least this often while a batch is being sent. The time bound is what limits the
# sends left in doubt by a crash (checked against the provider, never resent blindly); the row bound only
# matters unpaced, where 200 rows are ~0.15 s of sending. Each recording is two transactions (the results,
# then the channel's health), so under the mixed load every 50 rows cost a third of the webhooks' p99.
STORE_EVERY_ROWS = 200
STORE_EVERY_SECONDS = 0.5
# Claimed batches held at once: one sending, the next claimed meanwhile (see Dispatcher._send_due).
HELD_BATCHES = 2

class Dispatcher:
    def __init__(self, sessionmaker, channels: Mapping[str, Channel], *, make_context: Callable[..., Context],
                 rate: float = 10.0, concurrency: int = 20, batch: int = 200, lease_seconds: float = 60.0,
                 clock: Callable[[], datetime] = utcnow, worker_id: str | None = None,
                 check_after_seconds: float = 30.0, send_timeout: float = 15.0,
                 validity_seconds: float = DEFAULT_VALIDITY, max_backoff: float = DEFAULT_MAX_BACKOFF,
                 down_after: int = 5, probe_interval: float = 30.0):
        self._sessions = sessionmaker
        self._channels = channels
        self._make_context = make_context
        # SMS at the configured rate (the number's throughput); others at their provider's own limit.
        self._pacers = {name: Pacer(rate if name == "sms" else channel.max_rate)
                        for name, channel in channels.items()}
        self._unaskable = [name for name, channel in channels.items() if not channel.askable]
        self._semaphore = asyncio.Semaphore(concurrency)
        # A channel with a limit of its own takes a slot of it first, then a shared one: its sends
        # waiting for their channel's slot hold none of the shared slots other channels need.
        self._channel_slots = {name: asyncio.Semaphore(channel.max_in_flight)
                               for name, channel in channels.items() if channel.max_in_flight > 0}
        self._lease = timedelta(seconds=lease_seconds)
        # A send may start only while the lease still covers its whole timeout ...
        self._send_window = timedelta(seconds=send_timeout)
        # ... and the batches held at once must fit in the lease at the paced rate, or a tail would outlive it.
        paced = int(rate * max(lease_seconds - send_timeout, 1) * 0.8 / HELD_BATCHES) if rate > 0 else batch
        self._batch = max(1, min(batch, paced))
        # A send that ended in doubt is checked against the provider only after this long: a
        # provider that answers late may still be creating the message when we give up.
        self._check_after = timedelta(seconds=check_after_seconds)
        self._validity = timedelta(seconds=validity_seconds)
        self._max_backoff = max_backoff
        self._probe_interval = timedelta(seconds=probe_interval)
        self._health = ChannelHealth(sessionmaker, channels, make_context, down_after=down_after,
                                     probe_interval=self._probe_interval)
        self._clock = clock
        self.worker_id = worker_id or f"w-{uuid.uuid4().hex[:8]}"
        self._running = asyncio.Lock()
        self._probes: set[int] = set()
        self._stopping = asyncio.Event()
        self._in_flight: set[asyncio.Task] = set()
        self._handed_back = 0
        self._in_doubt = 0

    async def run_once(self) -> DispatchStats:
        """Send everything due now; return what happened. Concurrent calls in one process queue up."""
        async with self._running:
            stats = DispatchStats()
            if self._stopping.is_set():
                return stats
            async with self._sessions.begin() as session:
                stats.unknown += await store.expire_leases(session, self._clock(), self._unaskable)
            await self._reconcile(stats)
            await self._send_due(stats)
            # After the sends: a probe that found the channel back has saved its backlog from expiring.
            if not self._stopping.is_set():
                await self._expire_on_down_channels(stats)
            return stats

    async def _send_due(self, stats: DispatchStats) -> None:
        """Claim and send batch after batch until nothing is due.

        The next batch is claimed while the last one is sending, so the sends never stand still for a
        claim (under load a claim takes as long as sending a batch). At most two batches are held at
        once; the later one's rows queue behind the earlier one's for the send slots, in claim order.
        """
        sending: set[asyncio.Task] = set()
        try:
            while not self._stopping.is_set():
                async with self._sessions.begin() as session:
                    claimed = await self._claim(session)
                if not claimed:
                    break
                rows = await self._hold_for_quiet_hours(claimed)
                if rows:
                    sending.add(asyncio.create_task(self._send_and_store(rows, stats)))
                if len(sending) >= HELD_BATCHES:
                    done, sending = await asyncio.wait(sending, return_when=asyncio.FIRST_COMPLETED)
                    for task in done:
                        task.result()  # a batch that could not record its results stops the run, as before
        finally:
            # Every batch started is seen through: its results are recorded (or its rows handed back).
            if sending:
                await asyncio.wait(sending)
                for task in sending:
                    task.result()

    async def _hold_for_quiet_hours(self, rows: list[OutboxMessage]) -> list[OutboxMessage]:
        """Hand back, until quiet hours end, claimed rows that may not go in them: a backlog that comes
        due late (after an outage, a long retry) must not reach people at night. The rest go now."""
        bound = [r for r in rows if r.org_id and waits_for_quiet_hours(r.kind, r.channel)]
        if not bound:
            return rows
        now, held, params = self._clock(), set(), []
        async with self._sessions.begin() as session:
            ctx = self._make_context(session, now)
            orgs = await store.orgs_by_ids(session, {r.org_id for r in bound})
            for row in bound:
                org = orgs.get(row.org_id)
                until = next_allowed(now, ctx.quiet(org), ctx.tz(org)) if org is not None else now
                if until > now:
                    held.add(row.id)
                    params.append({"b_id": row.id, "b_worker": self.worker_id, "b_status": "pending",
                                   "b_provider_id": None, "b_error_code": None, "b_error_message": None,
                                   "b_not_before": until, "b_sent_at": None, "b_now": now})
            if params:
                await store.finish_claimed(session, params)
        if held:
            logger.info("held %d messages until quiet hours end", len(held))
            self._probes.difference_update(held)
        return [r for r in rows if r.id not in held]

    async def _claim(self, session) -> list[OutboxMessage]:
        """The next batch: due rows on channels that are up, and one probe row per down channel whose
        turn to be probed has come (one worker gets it)."""
        now = self._clock()
        await self._health.refresh(session)
        up = [name for name in self._channels if name not in self._health.down]
        rows = await store.claim_due(session, now, self.worker_id, self._lease, self._batch, up,
                                     validity=self._validity)
        for name in sorted(self._health.down):
            if await store.take_probe(session, name, now, self._probe_interval):
                probe = await store.claim_due(session, now, self.worker_id, self._lease, 1, [name],
                                              validity=self._validity)
                self._probes.update(r.id for r in probe)
                rows += probe
        return rows

    async def shutdown(self, grace: float = 5.0) -> None:
        """Stop claiming; let sends in flight finish within ``grace`` seconds; hand back at once what
        never left. A send cut off after its provider call began is in doubt: checked, not resent."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        in_flight = set(self._in_flight)
        if in_flight:
            await asyncio.wait(in_flight, timeout=grace)
        for task in self._in_flight:
            task.cancel()  # its row is recorded as in doubt by _send
        try:
            await asyncio.wait_for(self._running.acquire(), timeout=max(grace, 1.0) + 5.0)
        except asyncio.TimeoutError:
            logger.warning("dispatcher %s stopped with a batch still being recorded; its rows wait for their lease",
                           self.worker_id)
            return
        self._running.release()
        logger.info("dispatcher %s stopped: %d unsent messages handed back, %d cut off mid-send left to be checked",
                    self.worker_id, self._handed_back, self._in_doubt)

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
        async with self._channel_slots.get(row.channel) or nullcontext():
            async with self._semaphore:
                if self._handing_back(row):
                    return SendResult("released")
                await self._pacers[row.channel].wait(self._stopping)
                if channel.paced and not await self._unless_stopping(channel.pace(_outgoing(row))):
                    return SendResult("released")
                if self._handing_back(row):
                    return SendResult("released")
                if row.lease_until is not None and self._clock() + self._send_window >= row.lease_until:
                    # Our claim could run out mid-send and another process take the row: hand it back unsent.
                    return SendResult("released")
                if not channel.askable:
                    # The provider cannot be asked later: record durably that the call starts now, so a
                    # crash before this point is known to have sent nothing.
                    async with self._sessions.begin() as session:
                        if not await store.mark_provider_call(session, row.id, self.worker_id, self._clock()):
                            return SendResult("released")
                call = asyncio.ensure_future(channel.send(_outgoing(row)))
                self._in_flight.add(call)
                try:
                    await asyncio.wait({call})
                finally:
                    self._in_flight.discard(call)
                if call.cancelled():  # cut off by shutdown after the call began: in doubt
                    return SendResult("unknown", error_code="shutdown", error_message="cut off by shutdown")
                exc = call.exception()
                if exc is not None:  # an adapter bug must not lose the row
                    logger.error("channel %s failed on outbox row %s", row.channel, row.id, exc_info=exc)
                    return SendResult("unknown", error_code="adapter", error_message=type(exc).__name__)
                return call.result()

    def _handing_back(self, row: OutboxMessage) -> bool:
        """Not worth starting: we are shutting down, or the channel went down (the probe still goes)."""
        return self._stopping.is_set() or (row.channel in self._health.down and row.id not in self._probes)

    async def _unless_stopping(self, waiting) -> bool:
        """Await ``waiting`` unless shutdown comes first; True when it finished."""
        task = asyncio.ensure_future(waiting)
        stop = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if not task.done():
            task.cancel()
            return False
        task.result()
        return True

    async def _store(self, pairs: list[tuple[OutboxMessage, SendResult]], stats: DispatchStats) -> None:
        now = self._clock()
        params, failures, expired = [], [], []
        async with self._sessions.begin() as session:
            ctx = self._make_context(session, now)
            retried_orgs = {row.org_id for row, result in pairs if result.outcome == "retry" and row.org_id}
            orgs = await store.orgs_by_ids(session, retried_orgs)
            for row, result in pairs:
                status, not_before, sent_at = result.outcome, row.not_before, None
                outcome = result.outcome
                if result.outcome == "sent":
                    status, sent_at = (result.status if result.status in ("delivered", "sent") else "sent"), now
                    stats.sent += 1
                elif result.outcome == "retry":
                    at = self._next_try(ctx, orgs.get(row.org_id), row, result, now)
                    if at is None:
                        status = outcome = "expired"
                        stats.expired += 1
                        expired.append(row)
                    else:
                        status, not_before = "pending", at
                        stats.retried += 1
                elif result.outcome == "failed":
                    stats.failed += 1
                    failures.append((row, result))
                elif result.outcome == "released":
                    status = "pending"
                    stats.released += 1
                    self._handed_back += self._stopping.is_set()
                else:
                    stats.unknown += 1
                    not_before = now + self._check_after
                    self._in_doubt += result.error_code == "shutdown"
                params.append({"b_id": row.id, "b_worker": self.worker_id, "b_status": status,
                               "b_provider_id": result.provider_id,
                               "b_error_code": result.error_code, "b_error_message": result.error_message,
                               "b_not_before": not_before, "b_sent_at": sent_at, "b_now": now})
                stats.outcomes[outcome] = stats.outcomes.get(outcome, 0) + 1
            await store.finish_claimed(session, params)
            for row, result in failures:
                await delivery_failed(ctx, row, result.error_message or result.error_code or "failed")
            await self._report_expired(ctx, expired)
        logger.info("dispatched %d rows: %s", len(pairs), stats.outcomes)
        self._probes.difference_update(row.id for row, _ in pairs)
        await self._health.record(pairs, now)

    def _next_try(self, ctx: Context, org, row: OutboxMessage, result: SendResult, now: datetime):
        """When to try a transiently failed row again, or None when its validity has run out."""
        quiet = ctx.quiet(org) if org is not None and waits_for_quiet_hours(row.kind, row.channel) else None
        return next_try(now, attempts=row.attempts, retry_after=result.retry_after, expires_at=row.expires_at,
                        cap=self._max_backoff, quiet=quiet, tz_name=ctx.tz(org) if org is not None else "UTC")

    async def _report_expired(self, ctx: Context, rows: list[OutboxMessage]) -> None:
        if not rows:
            return
        logger.warning("%d outbox messages expired unsent (validity ran out): %s", len(rows),
                       ", ".join(f"{r.id}/{r.channel}/{r.kind}" for r in rows[:20]))
        await reminders_expired(ctx, rows)

    async def _expire_on_down_channels(self, stats: DispatchStats) -> None:
        """Nothing is tried on a down channel, so its rows whose validity ran out are expired here."""
        async with self._sessions.begin() as session:
            down = set(await store.down_channels(session)) & set(self._channels)
            rows = await store.expire_overdue(session, self._clock(), sorted(down), self._validity)
            if rows:
                stats.expired += len(rows)
                stats.outcomes["expired"] = stats.outcomes.get("expired", 0) + len(rows)
                await self._report_expired(self._make_context(session, self._clock()), rows)

    async def _reconcile(self, stats: DispatchStats) -> None:
        """Check rows in ``unknown`` against the provider: found means sent, absent means send again,
        and where the provider cannot tell, the row is ``unconfirmed``: never resent, and reported.
        A down channel is not asked (it would not answer); its rows are checked once it is back."""
        while not self._stopping.is_set():
            async with self._sessions.begin() as session:
                down = set(await store.down_channels(session))
                rows = await store.claim_due(session, self._clock(), self.worker_id, self._lease, self._batch,
                                             [c for c in self._channels if c not in down], statuses=("unknown",))
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
                await store.finish_claimed(session, params)
                ctx = self._make_context(session, now)
                for row in unconfirmed:
                    logger.warning("outbox row %s (%s) is unconfirmed: not resent, reported", row.id, row.channel)
                    await delivery_unconfirmed(ctx, row)


def _outgoing(row: OutboxMessage) -> Outgoing:
    return Outgoing(id=row.id, address=row.address, body=row.body, idempotency_key=row.idempotency_key,
                    created_at=row.created_at, payload=row.payload)
