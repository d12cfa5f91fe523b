"""Pacing: at most so many sends start per second, the rate a sender (an SMS number) may use."""
from __future__ import annotations

import asyncio
import time


class Pacer:
    """At most ``rate`` starts per second (0 = unpaced), shared by all sends of one sender."""

    def __init__(self, rate: float):
        self._interval = 1.0 / rate if rate > 0 else 0.0
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self, stop: asyncio.Event | None = None) -> None:
        """Wait for the next start; return early once ``stop`` is set (the caller then sends nothing)."""
        if not self._interval:
            return
        async with self._lock:
            now = time.monotonic()
            if self._next > now:
                if stop is None:
                    await asyncio.sleep(self._next - now)
                else:
                    try:
                        await asyncio.wait_for(stop.wait(), self._next - now)
                        return
                    except asyncio.TimeoutError:
                        pass
                now = self._next
            self._next = now + self._interval
