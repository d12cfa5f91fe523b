"""/healthz (liveness), /readyz (readiness) and /metrics' database gauges, as an operator sees them."""
from __future__ import annotations

import asyncio
import re
import sqlite3
import time

import pytest
from sqlalchemy import make_url, text

from bot.readiness import PROBE_TIMEOUT
from tests.builders import ANNA, COORD, GUSTAV, IVAR, JONNA, load, may_org, shift
from tests.conftest import start_harness
from tests.fakes.tcp_proxy import StallingProxy
from tests.fakes.twilio import Fault

KALLE = "+46701234579"


def gauge(text: str, name: str, **labels) -> float | None:
    """One sample's value from a Prometheus text exposition (None when the series is absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = "^" + re.escape(name) + (r"\{" + re.escape(wanted) + r"\}" if labels else "") + r" (\S+)$"
    match = re.search(pattern, text, re.MULTILINE)
    return float(match.group(1)) if match else None


async def readyz(h):
    response = await h.client.get("/readyz")
    return response.status, await response.json()


def may_org_with_five_due() -> dict:
    doc = may_org()
    doc["staff"].append({"id": "a11", "name": "Kalle Karlsson", "mobile": KALLE})
    doc["shifts"].append(shift("s11", "a11", "r1", "2026-05-13T08:00:00+02:00"))
    return doc


async def test_readyz_reports_backlog_oldest_pending_and_a_channel_going_down_and_back(harness):
    h = harness
    await load(h, may_org_with_five_due())
    await h.sms(COORD, "PÅMINN ALLA maj")
    status, body = await readyz(h)
    assert status == 200 and body["status"] == "ready"
    assert body["database"]["reachable"] is True and body["database"]["latency_ms"] >= 0
    assert {"channel": "sms", "status": "pending", "count": 5,
            "oldest_pending_seconds": 0.0} in body["outbox"]["backlog"]
    assert body["channels"]["sms"] == {"state": "up", "consecutive_failures": 0, "since": None}

    # Twilio answers 503 to every send: the reminders wait to be retried and SMS is down.
    h.clock.advance(seconds=90)
    h.fake.faults = [Fault(status=503)] * 5
    await h.dispatch()
    status, body = await readyz(h)
    assert status == 200  # a provider outage is reported, it does not take the worker out of service
    assert body["channels"]["sms"]["state"] == "down" and body["channels"]["sms"]["consecutive_failures"] == 5
    assert body["outbox"]["oldest_pending_seconds"] == {"sms": 90.0}
    metrics = await (await h.client.get("/metrics")).text()
    assert gauge(metrics, "paminn_database_up") == 1.0
    assert gauge(metrics, "paminn_outbox_backlog", channel="sms", status="pending") == 5.0
    assert gauge(metrics, "paminn_outbox_oldest_pending_seconds", channel="sms") == 90.0
    assert gauge(metrics, "paminn_channel_down", channel="sms") == 1.0
    assert gauge(metrics, "paminn_channel_down", channel="simulator") == 0.0
    assert gauge(metrics, "paminn_channels_down") == 1.0

    # Twilio is back: the retries go out (a down channel may be probed with one send first), the
    # backlog empties, SMS is up again.
    for _ in range(4):
        h.clock.advance(minutes=5)
        await h.dispatch()
    assert sorted(m.to for m in h.fake.messages) == sorted([ANNA, GUSTAV, IVAR, JONNA, KALLE])
    status, body = await readyz(h)
    assert body["channels"]["sms"]["state"] == "up" and body["outbox"]["backlog"] == []
    metrics = await (await h.client.get("/metrics")).text()
    assert gauge(metrics, "paminn_outbox_backlog", channel="sms", status="pending") == 0.0
    assert gauge(metrics, "paminn_channels_down") == 0.0
    assert gauge(metrics, "paminn_inbound_total", channel="sms", outcome="new") == 1.0


async def test_a_message_deferred_to_the_morning_is_not_counted_as_late(harness):
    h = harness
    await load(h, may_org())
    h.clock.advance(hours=11)  # 21:00 Stockholm: quiet hours, the round waits for 08:00
    await h.sms(COORD, "PÅMINN ALLA maj")
    h.clock.advance(hours=1)
    _, body = await readyz(h)
    queued = await h.scalar("SELECT count(*) FROM outbox WHERE channel = 'sms'")
    assert queued >= 4
    assert {b["status"]: b["count"] for b in body["outbox"]["backlog"] if b["channel"] == "sms"} == {"pending": queued}
    assert body["outbox"]["oldest_pending_seconds"] == {}


@pytest.fixture
async def proxied_harness(db_url, fake_twilio, clock):
    """The app reaching PostgreSQL through a proxy that can stall (a hung server, a partition)."""
    if db_url.startswith("sqlite"):
        pytest.skip("a SQLite file has no network path to stall; a held write lock does not stall reads")
    url = make_url(db_url)
    proxy = await StallingProxy(url.host, url.port or 5432).start()
    app_url = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    h = await start_harness(app_url, fake_twilio, clock)
    h.proxy = proxy
    yield h
    proxy.resume()
    await h.client.close()
    await proxy.close()


async def test_a_stalled_database_makes_readyz_503_within_the_bound_while_healthz_stays_200(proxied_harness):
    h = proxied_harness
    await load(h, may_org())
    await h.sms(COORD, "PÅMINN ALLA maj")
    h.proxy.stall()
    started = time.monotonic()
    health = await h.client.get("/healthz")
    assert health.status == 200 and (await health.json())["database"]["reachable"] is False
    assert time.monotonic() - started < 1.8
    started = time.monotonic()
    status, body = await readyz(h)
    assert status == 503 and body["status"] == "not_ready" and body["database"]["error"] == "stalled"
    assert time.monotonic() - started < 2.8
    started = time.monotonic()
    metrics = await (await h.client.get("/metrics")).text()
    assert time.monotonic() - started < 2.8
    assert gauge(metrics, "paminn_database_up") == 0.0
    assert gauge(metrics, "paminn_outbox_backlog", channel="sms", status="pending") is None  # unknown, not 0
    assert gauge(metrics, "paminn_inbound_total", channel="sms", outcome="new") == 1.0  # counters still there
    h.proxy.resume()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status, body = await readyz(h)
        if status == 200:
            break
        await asyncio.sleep(0.2)
    assert status == 200 and body["outbox"]["backlog"][0]["count"] == 4, (status, body)


async def test_a_long_write_elsewhere_does_not_slow_health_readiness_or_metrics(harness, db_url):
    """Reads wait for no writer: a SQLite write transaction held open, a PostgreSQL table locked
    against writes (an import, a long round in another process)."""
    h = harness
    await load(h, may_org())
    await h.sms(COORD, "PÅMINN ALLA maj")
    lock = None
    if db_url.startswith("sqlite"):
        lock = sqlite3.connect(make_url(db_url).database, isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")
    else:
        import asyncpg

        url = make_url(db_url)
        lock = await asyncpg.connect(host=url.host, port=url.port or 5432, user=url.username, database=url.database,
                                     server_settings={"search_path": url.query["search_path"]})
        await lock.execute("BEGIN")
        await lock.execute("LOCK TABLE outbox IN EXCLUSIVE MODE")
    try:
        started = time.monotonic()
        assert (await (await h.client.get("/healthz")).json())["database"]["reachable"] is True
        status, body = await readyz(h)
        metrics = await (await h.client.get("/metrics")).text()
        elapsed = time.monotonic() - started
    finally:
        if db_url.startswith("sqlite"):
            lock.execute("ROLLBACK")
            lock.close()
        else:
            await lock.execute("ROLLBACK")
            await lock.close()
    assert status == 200 and body["outbox"]["backlog"][0]["count"] == 4
    assert gauge(metrics, "paminn_outbox_backlog", channel="sms", status="pending") == 4.0
    # A read that waited for the writer would have hit the probe's bound and answered "stalled" (503, no
    # backlog, asserted above); the three reads together also stay under one bound on a busy machine.
    assert elapsed < PROBE_TIMEOUT, elapsed


async def test_channel_states_are_read_from_the_dispatchers_channel_state_table(harness):
    """The reader for the outage work's ``channel_state`` table (migration 0012), against its columns."""
    from datetime import datetime, timezone

    from bot.readiness import read_channel_state_table

    async with harness.services.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE IF NOT EXISTS channel_state (channel VARCHAR(16) PRIMARY KEY, "
                                "failures INTEGER NOT NULL, failing_since TIMESTAMP, down_since TIMESTAMP, "
                                "probe_at TIMESTAMP, updated_at TIMESTAMP)"))
        await conn.execute(text("INSERT INTO channel_state (channel, failures, failing_since, down_since) VALUES "
                                "('sms', 7, '2026-06-02 07:50:00', '2026-06-02 07:50:00'), "
                                "('email', 2, '2026-06-02 07:59:00', NULL), ('telegram', 0, NULL, NULL)"))
    async with harness.services.engine.connect() as conn:
        states = await read_channel_state_table(conn)
    since = datetime(2026, 6, 2, 7, 50, tzinfo=timezone.utc)
    assert {c: (s.state, s.consecutive_failures, s.since) for c, s in states.items()} == {
        "sms": ("down", 7, since), "email": ("failing", 2, datetime(2026, 6, 2, 7, 59, tzinfo=timezone.utc)),
        "telegram": ("up", 0, None)}
