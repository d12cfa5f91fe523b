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
from datetime import datetime

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
    assert 0.9 < took < 3, took  # the grace, not the 10 s send timeout nor the 60 s lease
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


async def test_sigterm_on_paminn_serve_hands_back_what_it_had_not_sent(harness, db_url, tmp_path):
    """The real process: SIGTERM mid-round (SMS paced at 2 a second) ends it within the grace; what it
    had not sent is pending with no claim, so another worker sends it at once; said in one log line."""
    import os
    import signal
    import sys

    from tests.conftest import free_port
    from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN
    from tests.reliability.test_provider_outage import ASSISTANTS, mobile, outage_org

    await load(harness, outage_org())
    await harness.sms(COORD, "PÅMINN ALLA maj")
    port = free_port()
    env = {**os.environ, "PAMINN_DATABASE_URL": db_url, "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
           "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "TWILIO_FROM_NUMBER": "+46766860000",
           "TWILIO_API_BASE": harness.fake.base_url, "PAMINN_SEND_RATE": "2", "PAMINN_DISPATCH_INTERVAL": "0.2",
           "PAMINN_SHUTDOWN_GRACE": "1", "PAMINN_QUIET_HOURS": "off",
           "PAMINN_LOG_LEVEL": "INFO"}  # the hand-back line is INFO; serve logs only warnings unless asked
    env.pop("PAMINN_SIMULATOR", None)
    log_path = tmp_path / "serve.log"
    with open(log_path, "w") as log:
        server = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", str(port), env=env,
            stdout=log, stderr=asyncio.subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while len(harness.fake.messages) < 3 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert len(harness.fake.messages) >= 3, log_path.read_text()
            server.send_signal(signal.SIGTERM)
            started, signalled_at = time.monotonic(), datetime.now()
            assert await asyncio.wait_for(server.wait(), timeout=30) == 0
            took = time.monotonic() - started
        finally:
            if server.returncode is None:
                server.kill()
                await server.wait()
    sent_by_server = len(harness.fake.messages)
    assert sent_by_server < ASSISTANTS and took < 30, (sent_by_server, took)  # not the 60 s lease
    left = await harness.rows("SELECT status, lease_until, claimed_by, count(*) FROM outbox "
                              "WHERE kind = 'reminder' AND status NOT IN ('sent', 'delivered') "
                              "GROUP BY status, lease_until, claimed_by")
    assert [tuple(r) for r in left] == [("pending", None, None, ASSISTANTS - sent_by_server)]
    stopped = [line for line in log_path.read_text().splitlines() if "dispatcher" in line and "stopped" in line]
    assert len(stopped) == 1 and f"{ASSISTANTS - sent_by_server} unsent messages handed back" in stopped[0], stopped
    # Handed back within the 1 s grace of the signal (plus slack for a loaded machine), not after the lease.
    stopped_at = datetime.strptime(stopped[0][:23], "%Y-%m-%d %H:%M:%S,%f")
    assert (stopped_at - signalled_at).total_seconds() < 5, (stopped_at, signalled_at)

    other = worker(harness, "other", concurrency=20)
    stats = await other.run_once()  # the clock has not moved: no lease ran out, yet every row was claimed
    # (On a loaded machine a send may outrun the send timeout: it is in doubt and checked below.)
    assert stats.sent + stats.unknown == ASSISTANTS - sent_by_server, stats
    harness.clock.advance(seconds=31)
    await other.run_once()
    for i in range(ASSISTANTS):
        assert harness.fake.to(mobile(i)) == [reminder()]
