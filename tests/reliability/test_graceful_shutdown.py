"""Shutdown hands back at once what never left: another worker takes it immediately, not after the lease.

Four reminders, two sends at a time. At shutdown the first send is answered within the grace
(sent), the second hangs past it (cut off mid-call: in doubt, checked against Twilio, never sent
twice), and the other two never started: back to pending with no lease, and a second dispatcher
sends them at once, with the clock standing still (no lease has run out).
"""
from __future__ import annotations

import asyncio
import logging
import time

import pytest

from bot.dispatcher import Dispatcher
from tests.builders import ANNA, COORD, GUSTAV, IVAR, JONNA, load, may_org, reminder
from tests.fakes.twilio import Fault

pytestmark = pytest.mark.reliability


def worker(harness, name: str, concurrency: int) -> Dispatcher:
    s, services = harness.services.settings, harness.services
    return Dispatcher(services.sessions, services.channels, make_context=services.context, rate=0,
                      concurrency=concurrency, lease_seconds=60, clock=harness.clock, send_timeout=s.send_timeout,
                      worker_id=name)


async def statuses(harness) -> dict[str, tuple]:
    rows = await harness.rows("SELECT address, status, lease_until, claimed_by FROM outbox WHERE kind = 'reminder'")
    return {address: tuple(rest) for address, *rest in rows}


async def test_shutdown_hands_back_unsent_rows_at_once(harness, caplog):
    caplog.set_level(logging.INFO, logger="bot.dispatcher")
    await load(harness, may_org())
    await harness.sms(COORD, "PÅMINN ALLA maj")  # Anna, Gustav, Ivar, Jonna
    harness.fake.faults = [Fault(delay=0.3), Fault(hang_after_create=True)]
    first = worker(harness, "stopping", concurrency=2)
    running = asyncio.create_task(first.run_once())
    while harness.fake.requests < 2:  # both sends in flight, the other two waiting their turn
        await asyncio.sleep(0.01)
    started = time.monotonic()
    await first.shutdown(grace=1.0)
    took = time.monotonic() - started
    stats = await running
    assert 0.9 < took < 3, took  # the grace, not the 2 s send timeout nor the 60 s lease
    assert stats.sent == 1 and stats.released == 2 and stats.unknown == 1

    answered, hung = harness.fake.asked
    waiting = sorted({ANNA, GUSTAV, IVAR, JONNA} - {answered, hung})
    rows = await statuses(harness)
    assert rows[answered][0] == "sent"
    assert rows[hung][0] == "unknown"  # cut off after Twilio took it: checked, never resent blindly
    assert [rows[p] for p in waiting] == [("pending", None, None)] * 2
    stopped = [r.getMessage() for r in caplog.records if "stopped" in r.getMessage()]
    assert stopped == ["dispatcher stopping stopped: 2 unsent messages handed back, 1 cut off mid-send left to "
                       "be checked"]

    # Another worker, the clock standing still: the handed-back rows go at once.
    second = worker(harness, "other", concurrency=20)
    stats = await second.run_once()
    assert stats.sent == 2
    assert [harness.fake.to(p) for p in waiting] == [[reminder()]] * 2
    # The one in doubt is checked against Twilio's list once the check delay has passed, and found.
    harness.clock.advance(seconds=30)
    stats = await second.run_once()
    assert stats.reconciled == 1 and stats.sent == 0
    for person in (ANNA, GUSTAV, IVAR, JONNA):
        assert harness.fake.to(person) == [reminder()]
    assert {s for s, *_ in (await statuses(harness)).values()} == {"sent"}
    await first.shutdown(grace=1.0)  # a second call does nothing and logs nothing
    assert len([r for r in caplog.records if "stopped" in r.getMessage()]) == 1


async def test_a_stopped_dispatcher_claims_nothing(harness):
    await load(harness, may_org())
    await harness.sms(COORD, "PÅMINN ALLA maj")
    dispatcher = harness.services.dispatcher
    await dispatcher.shutdown(grace=0.1)
    stats = await dispatcher.run_once()
    assert stats.sent == 0 and harness.fake.messages == []
    assert {s for s, *_ in (await statuses(harness)).values()} == {"pending"}
