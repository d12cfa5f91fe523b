"""`paminn serve --workers 2`: every /metrics scrape, whichever worker answers it, reports the
counters of both workers summed and the same backlog gauges (read from the database)."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from prometheus_client.mmap_dict import MmapedDict
from sqlalchemy import text as text_sql
from twilio.request_validator import RequestValidator

from tests.builders import ANNA, COORD, may_org
from tests.conftest import free_port
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN
from tests.integration.test_readiness import gauge

pytestmark = pytest.mark.reliability
TEXTS = 30


def quiet_around_now() -> str:
    """Quiet hours from two hours ago to three hours ahead (Stockholm): the round's reminders wait,
    so the backlog holds still while we scrape."""
    hour = datetime.now(timezone.utc).astimezone(ZoneInfo("Europe/Stockholm")).hour
    return f"{(hour - 2) % 24:02d}:00-{(hour + 3) % 24:02d}:00"


def serve_workers(db_url: str, port: int, tmp_path: Path, extra_env: dict | None = None) -> subprocess.Popen:
    env = {**os.environ, "PAMINN_DATABASE_URL": db_url, "PAMINN_PUBLIC_URL": f"http://127.0.0.1:{port}",
           "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "TWILIO_FROM_NUMBER": "+46766860000",
           # Nothing should be sent (quiet hours); should anything try, it meets a closed loopback port.
           "TWILIO_API_BASE": f"http://127.0.0.1:{free_port()}", "PAMINN_DISPATCH_INTERVAL": "0.5",
           **(extra_env or {})}
    env.pop("PAMINN_SIMULATOR", None)
    log = open(tmp_path / "serve.log", "ab")
    return subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--workers", "2"], env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


async def wait_ready(session: aiohttp.ClientSession, base: str, timeout: float = 120) -> None:
    """Until /readyz says ready. Two workers and their template processes start from cold imports: on a
    machine running other suites that took over a minute once, so the bound is generous; the last
    answer is kept to say why, should it pass."""
    deadline, last = time.monotonic() + timeout, "no answer"
    while time.monotonic() < deadline:
        try:
            async with session.get(f"{base}/readyz") as response:
                if response.status == 200:
                    return
                last = f"{response.status} {await response.text()}"
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            last = type(exc).__name__
        await asyncio.sleep(0.2)
    raise AssertionError(f"the workers did not come up within {timeout:.0f} s (last: {last})")


async def text(session, base: str, sender: str, body: str, sid: str) -> tuple[int, str]:
    url = f"{base}/webhooks/twilio/sms"
    params = {"MessageSid": sid, "From": sender, "To": "+46766860000", "Body": body, "AccountSid": ACCOUNT_SID}
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, params)
    async with session.post(url, data=urlencode(params), headers={
            "X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"}) as response:
        return response.status, await response.text()


def stop(server: subprocess.Popen) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def per_process_inbound(directory: Path) -> dict[str, float]:
    """Each worker's own count of new inbound SMS, from its counter file."""
    counts = {}
    for path in directory.glob("counter_*.db"):
        total = sum(value for key, value, _, _ in MmapedDict.read_all_values_from_file(str(path))
                    if '"paminn_inbound_total"' in key and '"new"' in key and '"sms"' in key)
        counts[path.stem.split("_", 1)[1]] = total
    return counts


async def test_every_scrape_sums_both_workers_and_reads_the_same_backlog(db_url, tmp_path):
    from bot.app import build_services, close_services
    from bot.config import Settings
    from bot.imports import run_import

    services = await build_services(Settings.from_env({"PAMINN_DATABASE_URL": db_url}))
    try:
        await run_import(services, may_org(quiet_hours=quiet_around_now()))
    finally:
        await close_services(services)
    port, directory = free_port(), tmp_path / "metrics"
    server = serve_workers(db_url, port, tmp_path, {"PROMETHEUS_MULTIPROC_DIR": str(directory)})
    base = f"http://127.0.0.1:{port}"
    # A new connection per request: SO_REUSEPORT spreads connections, not requests, over the workers.
    connector = aiohttp.TCPConnector(force_close=True)
    try:
        async with aiohttp.ClientSession(connector=connector) as session:
            await wait_ready(session, base)
            status, reply = await text(session, base, COORD, "PÅMINN ALLA maj", "SMround" + "0" * 27)
            assert status == 200 and "påminnelser" in reply
            sent = 1
            # Until both workers have taken texts: the second may still be starting (cold imports, a busy
            # machine), and the kernel gives every connection to the one listening until then.
            deadline, batch = time.monotonic() + 45, 0
            while True:
                batch += 1
                answers = await asyncio.gather(*(text(session, base, ANNA, "HJÄLP", f"SMhelp{batch:04d}{i:024d}")
                                                 for i in range(TEXTS)))
                assert all(status == 200 for status, _ in answers)
                sent += TEXTS
                per_worker = per_process_inbound(directory)
                if len([n for n in per_worker.values() if n > 0]) == 2 or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
            assert len([n for n in per_worker.values() if n > 0]) == 2, per_worker  # both took traffic
            assert sum(per_worker.values()) == sent
            scrapes = []
            for _ in range(12):
                async with session.get(f"{base}/metrics") as response:
                    assert response.status == 200
                    scrapes.append(await response.text())
        for scrape in scrapes:
            assert gauge(scrape, "paminn_inbound_total", channel="sms", outcome="new") == sent
            assert gauge(scrape, "paminn_request_seconds_count", route="sms") == sent
            assert gauge(scrape, "paminn_channels_down") == 0.0
            assert gauge(scrape, "paminn_database_up") == 1.0
    finally:
        stop(server)
    services = await build_services(Settings.from_env({"PAMINN_DATABASE_URL": db_url}), migrate=False)
    try:
        async with services.engine.connect() as conn:
            pending = (await conn.execute(text_sql("SELECT count(*) FROM outbox WHERE status = 'pending' "
                                                   "AND channel = 'sms'"))).scalar()
    finally:
        await close_services(services)
    assert pending >= 4 and {gauge(s, "paminn_outbox_backlog", channel="sms", status="pending")
                             for s in scrapes} == {float(pending)}
