"""What an operator needs to see in an outage, read from the database so every worker says the same.

- the database: does a ``SELECT 1`` come back, and how fast (bounded: a stalled database is "not
  ready", not a hung probe);
- the outbox backlog by channel and status, and the age of the oldest pending message;
- each outbound channel's state: ``up``, ``failing`` (transient failures, still retried) or ``down``.

Every read is bounded by a timeout and at most one probe per kind is in flight: while the
database is stalled, probes answer "stalled" at once instead of piling up connections.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Awaitable, Callable, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.db import READ_ONLY, _select_one
from core import store

logger = logging.getLogger(__name__)
T = TypeVar("T")

PROBE_TIMEOUT = 2.0  # seconds for one readiness or metrics read
# Where channel states come from: the dispatchers' shared ``channel_state`` table (reported in /health as
# ``channel_state_source``, kept for the clients that read it).
CHANNEL_STATE_SOURCE = "channel_state"


class Stalled(TimeoutError):
    """The database did not answer within the bound (or an earlier probe is still waiting for it)."""


@dataclass(frozen=True)
class DatabaseProbe:
    backend: str
    reachable: bool
    latency_ms: float | None = None
    error: str | None = None  # "stalled", "unreachable" (no secrets or addresses: only the kind)


@dataclass(frozen=True)
class Backlog:
    channel: str
    status: str
    count: int
    oldest_pending_seconds: float | None  # pending rows that are due or were tried; None for other statuses


@dataclass(frozen=True)
class ChannelState:
    channel: str
    state: str  # up | failing | down
    consecutive_failures: int
    since: datetime | None = None


@dataclass(frozen=True)
class Snapshot:
    backlog: list[Backlog]
    channels: dict[str, ChannelState]
    source: str  # where channel states came from: always "channel_state" (CHANNEL_STATE_SOURCE)
    seconds: float = 0.0

    def oldest_pending(self) -> dict[str, float]:
        oldest: dict[str, float] = {}
        for row in self.backlog:
            if row.oldest_pending_seconds is not None:
                oldest[row.channel] = max(oldest.get(row.channel, 0.0), row.oldest_pending_seconds)
        return oldest


@dataclass
class Readiness:
    """Bounded reads of the database's health and the outbox; one instance per process."""

    engine: AsyncEngine
    channels: tuple[str, ...]  # the configured outbound channels
    clock: Callable[[], datetime]
    timeout: float = PROBE_TIMEOUT
    _inflight: dict[str, asyncio.Task] = field(default_factory=dict)

    async def database(self, timeout: float | None = None) -> DatabaseProbe:
        backend = self.engine.dialect.name
        started = time.perf_counter()
        try:
            await self._bounded("ping", self._ping, timeout)
        except Stalled:
            return DatabaseProbe(backend, False, error="stalled")
        except Exception as exc:
            logger.warning("readiness: the database is unreachable (%s)", type(exc).__name__)
            return DatabaseProbe(backend, False, error="unreachable")
        return DatabaseProbe(backend, True, latency_ms=round((time.perf_counter() - started) * 1000, 2))

    async def snapshot(self, timeout: float | None = None) -> Snapshot | None:
        """Backlog and channel states, or None when the database did not answer in time."""
        started = time.perf_counter()
        try:
            snap = await self._bounded("snapshot", self._snapshot, timeout)
        except Stalled:
            return None
        except Exception as exc:
            logger.warning("readiness: reading the outbox failed (%s)", type(exc).__name__)
            return None
        return Snapshot(snap.backlog, snap.channels, snap.source, round(time.perf_counter() - started, 4))

    async def _bounded(self, kind: str, fn: Callable[[], Awaitable[T]], timeout: float | None) -> T:
        """Run ``fn`` in a task of its own and wait at most ``timeout``; never wait for its cleanup.

        A driver blocked in a thread (SQLite's busy wait) or on a dead socket does not answer a
        cancel at once; the probe answers "stalled" now and the task unwinds in the background.
        """
        running = self._inflight.get(kind)
        if running is not None and not running.done():
            raise Stalled(kind)
        task = asyncio.create_task(fn())
        self._inflight[kind] = task
        task.add_done_callback(_retrieve)
        done, _ = await asyncio.wait({task}, timeout=self.timeout if timeout is None else timeout)
        if not done:
            task.cancel()
            raise Stalled(kind)
        return task.result()

    async def _ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.run_sync(_select_one)  # outside a transaction: it waits for no writer

    async def _snapshot(self) -> Snapshot:
        now = self.clock()
        async with self.engine.connect() as conn:
            conn = await conn.execution_options(**{READ_ONLY: True})
            backlog = await read_backlog(conn, now)
            states, source = await read_channel_state_table(conn), CHANNEL_STATE_SOURCE
        channels = {name: states.get(name, ChannelState(name, "up", 0)) for name in sorted(self.channels)}
        channels.update({name: state for name, state in states.items() if name not in channels})
        return Snapshot(backlog, channels, source)


def _retrieve(task: asyncio.Task) -> None:
    if not task.cancelled():
        task.exception()  # retrieved: an abandoned probe's error is not "never retrieved"


async def read_backlog(conn: AsyncConnection, now: datetime) -> list[Backlog]:
    """The outbox backlog by channel and status, with how long the oldest late pending message has waited
    (``store.backlog`` says which pending messages are late)."""
    return [Backlog(row.channel, row.status, int(row.n),
                    None if row.oldest is None else round(max(0.0, (now - row.oldest).total_seconds()), 1))
            for row in await store.backlog(conn, now)]


async def read_channel_state_table(conn: AsyncConnection) -> dict[str, ChannelState]:
    """The dispatchers' shared record (``store.channel_states``): down while ``down_since`` is set, failing
    while failures count up, else up."""
    states = {}
    for channel, failures, failing_since, down_since in await store.channel_states(conn):
        if down_since is not None:
            state, since = "down", down_since
        elif failures:
            state, since = "failing", failing_since
        else:
            state, since = "up", None
        states[channel] = ChannelState(channel, state, int(failures or 0), since)
    return states
