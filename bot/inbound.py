"""Inbound texts that arrive together are handled together: one transaction per batch.

A webhook request hands its text to the batcher and waits for the outcome; its reply is only
written after the batch's transaction committed, so an answered request is never lost. While a
batch is in the database, new arrivals queue up and form the next one: a lone text goes at once
(no timer, no added latency), a burst is handled a batch at a time at a handful of statements
per batch instead of per text.

If a batch fails, each of its texts is retried in a transaction of its own, so one bad text
cannot take the others down with it.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

from core import store
from handlers.router import Handled, InboundText, handle_inbound_batch

logger = logging.getLogger(__name__)

HandleBatch = Callable[[list[InboundText]], Awaitable[list[Handled]]]


class InboundBatcher:
    def __init__(self, handle_batch: HandleBatch, max_batch: int = 200) -> None:
        self._handle_batch = handle_batch
        self._max_batch = max_batch
        self._waiting: list[tuple[InboundText, asyncio.Future]] = []
        self._worker: asyncio.Task | None = None

    async def submit(self, text: InboundText) -> Handled:
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((text, future))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain())
        # If the request goes away the text is still handled: a cancelled wait must not cancel the batch.
        return await asyncio.shield(future)

    async def close(self) -> None:
        """Finish what was handed in (at shutdown)."""
        if self._worker is not None:
            await self._worker

    async def _drain(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[:self._max_batch], self._waiting[self._max_batch:]
            try:
                outcomes = await self._handle_batch([text for text, _ in batch])
            except Exception:
                logger.warning("a batch of %d inbound text(s) failed; handling each on its own", len(batch))
                for text, future in batch:
                    try:
                        (outcome,) = await self._handle_batch([text])
                    except Exception:
                        logger.exception("an inbound text could not be handled; the provider will retry it")
                        _settle(future, error=True)
                    else:
                        _settle(future, outcome)
                continue
            for (_, future), outcome in zip(batch, outcomes):
                _settle(future, outcome)


async def handle_in_transaction(services, texts: list[InboundText]) -> list[Handled]:
    """One batch, one transaction; outbound messages it queued go out at once."""
    async with services.sessions.begin() as session:
        handled = await handle_inbound_batch(services.context(session), texts)
        queued = session.info.pop(store.OUTBOX_QUEUED, False)
    if queued:
        services.kick()
    return handled


def _settle(future: asyncio.Future, outcome: Handled | None = None, error: bool = False) -> None:
    if future.done():
        return
    if error:
        future.set_exception(RuntimeError("inbound text not handled"))
    else:
        future.set_result(outcome)
