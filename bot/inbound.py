"""Inbound texts that arrive together are handled together: one transaction per batch.

A webhook request hands its text to the batcher and waits for the outcome; its reply is only
written after the batch's transaction committed, so an answered request is never lost. While a
batch is in the database, new arrivals queue up and form the next one: a lone text goes at once
(no timer, no added latency), a burst is handled a batch at a time at a handful of statements
per batch instead of per text.

A batch is acted on first and stored afterwards, with its replies, in one insert (a statement
fewer than storing first: ``handle_inbound_batch``'s ``act_first``). When that insert finds a text
stored before (a provider's retry), the transaction is rolled back and the batch handled again stored
first. So is a batch that fails acting first for any other reason: its twin in a batch beside it
(another process) may have got there first, and then it meets that twin's rows (a team message's key)
or, storing first, that twin's lock on the text (a deadlock PostgreSQL breaks after a second); stored
first, it waits for the twin and finds it. The batches of the next ``stored_first_for`` seconds go
stored first too, since retries come in runs (after an outage) and each would cost its batch twice.

If a batch fails storing first too, each of its texts is retried, stored first, in a transaction of
its own, so one bad text cannot take the others down with it (nor a repeat of a text handled before
be acted on).

The wait is bounded (``wait``, PAMINN_INBOUND_WAIT): Twilio gives up on a webhook after 15 s, so
a batch still in the database when its oldest text has waited that long is cancelled (its
transaction rolls back, nothing is stored) and its texts are answered "unavailable" (the webhook
says 503 with Retry-After, and Twilio's retry is acted on once, later). A batch that is merely slow
(a row lock held elsewhere) does not hold unrelated texts behind it: after ``overtake`` seconds the
next texts start a batch of their own beside it, up to ``lanes`` batches at a time.

Under steady load a batch spends most of its time waiting: on its handful of round trips to the
database, each behind whatever else the event loop is running. With ``pipeline`` set (PostgreSQL,
where two transactions write at once), the next texts start a second batch once the running one has
had ``pipeline`` seconds, so a text waits for at most part of the batch before it instead of all of
it (under the mixed load of docs/benchmarks.md the webhooks' p99 went from ~190 to ~150 ms).
SQLite has one writer at a time, so there a second batch would only queue for the lock.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Awaitable, Callable, Mapping

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from core.channels import Channel, plain_answer_rows
from handlers.router import Handled, InboundText, InboundUnavailable, SeenBefore, handle_inbound_batch

logger = logging.getLogger(__name__)

HandleBatch = Callable[[list[InboundText], bool], Awaitable[list[Handled]]]  # (texts, act_first)
DEFAULT_WAIT = 10.0  # seconds: well inside Twilio's 15-second webhook timeout
STORED_FIRST_FOR = 60.0  # seconds of storing first after a batch met a repeat


class InboundFailed(RuntimeError):
    """The text could not be handled (a bug, bad data): not stored, the provider may retry it."""


@dataclass
class _Waiting:
    text: InboundText
    future: asyncio.Future
    arrived: float = field(default_factory=time.monotonic)


class InboundBatcher:
    def __init__(self, handle_batch: HandleBatch, max_batch: int = 200, *, wait: float = DEFAULT_WAIT,
                 overtake: float = 1.0, lanes: int = 4, pipeline: float | None = None,
                 stored_first_for: float = STORED_FIRST_FOR) -> None:
        self._handle_batch = handle_batch
        self._max_batch = max_batch
        self._wait = wait
        self._overtake = overtake
        self._lanes = lanes
        self._pipeline = pipeline
        self._stored_first_for = stored_first_for
        self._stored_first_until = 0.0  # monotonic time until which batches are stored first
        self._waiting: list[_Waiting] = []
        self._running: dict[asyncio.Task, tuple[float, set[str]]] = {}  # batch -> (started, senders)
        self._pump: asyncio.Task | None = None
        self._wake = asyncio.Event()
        self._abandoned: set[asyncio.Task] = set()  # cancelled handlers still unwinding (a stuck driver)

    async def submit(self, text: InboundText) -> Handled:
        future = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(text, future))
        self._wake.set()
        if self._pump is None or self._pump.done():
            self._pump = asyncio.create_task(self._run())
        # If the request goes away the text is still handled: a cancelled wait must not cancel the batch.
        return await asyncio.shield(future)

    async def close(self) -> None:
        """Finish what was handed in (at shutdown); each batch is bounded by the wait."""
        while self._pump is not None and not self._pump.done():
            await asyncio.wait({self._pump})
        if self._abandoned:  # give cancelled handlers a moment to roll back before the engine closes
            await asyncio.wait(set(self._abandoned), timeout=2)

    async def _run(self) -> None:
        """Start batches: at once when none runs, beside the running ones when they all are slow."""
        while self._waiting or self._running:
            self._wake.clear()
            now = time.monotonic()
            self._expire_queued(now)
            batch = self._next_batch(now)
            if batch:
                task = asyncio.create_task(self._batch(batch))
                self._running[task] = (now, {item.text.sender for item in batch})
                task.add_done_callback(self._finished)
                continue
            await self._sleep(self._next_wakeup(now))

    def _next_batch(self, now: float) -> list[_Waiting]:
        """The next texts to start, in arrival order. Beside a slow batch, a sender's later texts wait
        for the batch holding their earlier one: a person's texts are still acted on in order."""
        if not self._waiting:
            return []
        if self._running and now < self._may_start_beside():
            return []
        busy = set().union(*(senders for _, senders in self._running.values()))
        batch, rest = [], []
        for item in self._waiting:
            if len(batch) < self._max_batch and item.text.sender not in busy:
                batch.append(item)
            else:
                busy.add(item.text.sender)  # keep this sender's later texts behind this one
                rest.append(item)
        self._waiting = rest
        return batch

    def _may_start_beside(self) -> float:
        """When a batch may start beside the running ones: once the newest has run ``overtake`` (they
        are slow), or ``pipeline`` when it runs alone; never while every lane is taken."""
        if len(self._running) >= self._lanes:
            return float("inf")
        newest = max(started for started, _ in self._running.values())
        if len(self._running) == 1 and self._pipeline is not None:
            return newest + min(self._pipeline, self._overtake)
        return newest + self._overtake

    def _finished(self, task: asyncio.Task) -> None:
        self._running.pop(task, None)
        self._wake.set()

    def _next_wakeup(self, now: float) -> float | None:
        """Until the oldest queued text runs out of time, or a batch may start beside the running ones."""
        if not self._waiting:
            return None  # a finished batch or a new text wakes us
        times = [self._waiting[0].arrived + self._wait]
        if self._running and (beside_at := self._may_start_beside()) > now and beside_at != float("inf"):
            times.append(beside_at)
        return max(0.0, min(times) - now)

    async def _sleep(self, timeout: float | None) -> None:
        try:
            await asyncio.wait_for(self._wake.wait(), timeout)
        except TimeoutError:
            pass

    def _expire_queued(self, now: float) -> None:
        """Texts that waited their whole bound in the queue (every lane stuck) are never started."""
        keep = []
        for item in self._waiting:
            if now - item.arrived >= self._wait:
                _settle(item.future, error=InboundUnavailable("the database did not answer in time"))
            else:
                keep.append(item)
        self._waiting = keep

    async def _batch(self, batch: list[_Waiting]) -> None:
        deadline = batch[0].arrived + self._wait
        texts = [w.text for w in batch]
        try:
            act_first = time.monotonic() >= self._stored_first_until
            try:
                outcomes = await self._bounded(texts, deadline, act_first=act_first)
            except InboundUnavailable:
                raise
            except Exception as exc:
                if not act_first:
                    raise
                self._stored_first_until = time.monotonic() + self._stored_first_for
                logger.info("a batch of %d inbound text(s) %s; handling it again, storing first", len(batch),
                            "met texts stored before" if isinstance(exc, SeenBefore)
                            else f"failed acting first ({type(exc).__name__})")
                outcomes = await self._bounded(texts, deadline, act_first=False)
        except InboundUnavailable as exc:
            for item in batch:
                _settle(item.future, error=exc)
            return
        except Exception:
            logger.warning("a batch of %d inbound text(s) failed; handling each on its own", len(batch))
            for item in batch:
                try:
                    (outcome,) = await self._bounded([item.text], deadline, act_first=False)
                except InboundUnavailable as exc:
                    _settle(item.future, error=exc)
                except Exception:
                    logger.exception("an inbound text could not be handled; the provider will retry it")
                    _settle(item.future, error=InboundFailed("inbound text not handled"))
                else:
                    _settle(item.future, outcome)
            return
        for item, outcome in zip(batch, outcomes):
            _settle(item.future, outcome)

    async def _bounded(self, texts: list[InboundText], deadline: float, *, act_first: bool) -> list[Handled]:
        """Handle ``texts`` unless ``deadline`` passes first: then cancel (roll back) and raise.

        The cancelled handler is not waited for: a driver blocked in a thread (SQLite's busy wait)
        finishes unwinding in the background, while the webhook is already answered.
        """
        task = asyncio.create_task(self._handle_batch(texts, act_first))
        done, _ = await asyncio.wait({task}, timeout=max(0.0, deadline - time.monotonic()))
        if not done:
            task.cancel()
            self._abandoned.add(task)
            task.add_done_callback(_forget(self._abandoned))
            logger.warning("%d inbound text(s) not handled within %.0f s; answered unavailable",
                           len(texts), self._wait)
            raise InboundUnavailable("the database did not answer in time")
        try:
            return task.result()
        except (DBAPIError, PoolTimeout, OSError, TimeoutError) as exc:
            if isinstance(exc, DBAPIError) and not _unavailable(exc):
                raise
            logger.warning("%d inbound text(s) not handled: the database is unavailable (%s); answered "
                           "unavailable", len(texts), type(exc).__name__)
            raise InboundUnavailable("the database is unavailable") from exc


def _unavailable(exc: DBAPIError) -> bool:
    """A lost or refused connection, a lock or statement timeout: the database, not the text."""
    return exc.connection_invalidated or isinstance(exc, (OperationalError, InterfaceError))


def _forget(tasks: set[asyncio.Task]):
    def done(task: asyncio.Task) -> None:
        tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.debug("a cancelled inbound batch ended with %s", type(task.exception()).__name__)
    return done


async def handle_in_transaction(services, texts: list[InboundText], act_first: bool = False) -> list[Handled]:
    """One batch, one transaction, the same for every channel: the router acts on the texts, and the
    replies of channels that answer through the outbox (Telegram, the simulator) are queued in the
    same transaction (an SMS is answered by its webhook). What it queued goes out at once.
    Acting first, a text stored before raises SeenBefore, with everything rolled back."""
    async with services.sessions.begin() as session:
        ctx = services.context(session)
        handled = await handle_inbound_batch(ctx, texts, act_first=act_first)
        by_shape: dict[tuple[str, ...], list[dict]] = {}  # rows inserted together have the same columns
        for text, outcome in zip(texts, handled):
            for row in reply_rows(services.channels, text, outcome, ctx.now):
                by_shape.setdefault(tuple(row), []).append(row)
        for rows in by_shape.values():
            await ctx.enqueue(rows)
    if ctx.queued:
        services.kick()
    return handled


def reply_rows(channels: Mapping[str, Channel], text: InboundText, handled: Handled, now: datetime) -> list[dict]:
    """The outbox rows that answer ``text``, rendered by its channel (``Channel.answer_rows``): none when
    it is answered inline (``reply_to`` None: an SMS, whose TwiML is webhooks.twilio's) or was a repeat
    (answered the first time). A reply goes back the way the text came, whatever the person's usual route."""
    if text.reply_to is None or not handled.new:
        return []
    people = handled.people
    who = {"org_id": people[0].org_id, "staff_id": people[0].id} if people else {}
    channel = channels.get(text.channel)
    if channel is None:  # a channel that sends nothing of its own answers in plain text
        return plain_answer_rows(text.channel, text.provider_id, text.reply_to, handled.replies, now, **who)
    return channel.answer_rows(text.provider_id, text.reply_to, handled.replies, now, **who)


def _settle(future: asyncio.Future, outcome: Handled | None = None, error: Exception | None = None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(outcome)
