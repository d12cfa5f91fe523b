"""Channel health as one dispatcher worker sees it: which channels are down (the shared state, read at each
claim) and the recording of its sends' outcomes into that state, which marks a channel down after enough
transient failures in a row and up again after a success (docs/outages.md). The team hears each change once.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Callable, Iterable

from core import store
from core.channels import SendResult
from core.models import OutboxMessage
from handlers.context import Context
from handlers.team import channel_down, channel_up

logger = logging.getLogger("bot.dispatcher")  # its findings read as the dispatcher's, as before


class ChannelHealth:
    def __init__(self, sessionmaker, channels: Iterable[str], make_context: Callable[..., Context], *,
                 down_after: int, probe_interval: timedelta):
        self._sessions = sessionmaker
        self._channels = set(channels)
        self._make_context = make_context
        self._down_after = max(1, down_after)
        self._probe_interval = probe_interval
        # Channels known to be down: their unsent rows are handed back, not tried, except the probe rows.
        self.down: set[str] = set()
        # Bumped whenever this worker finds a channel gone or back: a claim that read the shared state
        # before that (while a batch was sending) must not overwrite the newer finding.
        self.changes = 0

    async def refresh(self, session) -> None:
        """Read which channels are down, unless this worker found a change meanwhile (that one is newer)."""
        changes = self.changes
        down = set(await store.down_channels(session)) & self._channels
        if changes == self.changes:
            self.down = down

    async def record(self, pairs: list[tuple[OutboxMessage, SendResult]], now: datetime) -> None:
        """Count successes and outage failures per channel in the shared state; announce a change once.

        Kept apart from the results' transaction: a race on the state row must never cost a result.
        """
        for name in sorted({row.channel for row, _ in pairs}):
            results = [result for row, result in pairs if row.channel == name]
            successes = sum(1 for r in results if r.outcome == "sent")
            failures = sum(1 for r in results if r.outage)
            if not successes and not failures:
                continue
            try:
                if not failures:  # the common case: a plain read, no write, no lock
                    async with self._sessions.begin() as session:
                        if await store.channel_is_clean(session, name):
                            continue
                async with self._sessions.begin() as session:
                    change, since = await store.record_channel_health(
                        session, name, now, successes=successes, failures=failures, first_failure_at=now,
                        down_after=self._down_after, probe_interval=self._probe_interval)
                    if change in ("down", "up"):
                        self.changes += 1
                    if change == "down":
                        self.down.add(name)
                        waiting = await channel_down(self._make_context(session, now), name, since)
                        logger.warning("channel %s is down: %d transient failures in a row since %s; %d messages "
                                       "waiting; probing every %ds", name, self._down_after, since.isoformat(),
                                       sum(waiting.values()), self._probe_interval.total_seconds())
                    elif change == "up":
                        self.down.discard(name)
                        waiting = await channel_up(self._make_context(session, now), name, since)
                        logger.info("channel %s is back after %ds down; %d messages waiting to go", name,
                                    (now - since).total_seconds(), sum(waiting.values()))
            except Exception:
                logger.exception("could not record the health of channel %s; the next batch tries again", name)
