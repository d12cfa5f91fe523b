"""The database goes away in the middle of a round and comes back.

A private PostgreSQL cluster (initdb + pg_ctl, on a spare port, in a temporary directory) serves
`paminn serve --workers 2`. A round of 300 reminders goes to the fake Twilio; a third of the way
in, the cluster is stopped. While it is down, inbound texts are answered 5xx (nothing stored,
nothing answered falsely) within the inbound bound, and /readyz says 503. When it is back, every
reminder has reached the fake Twilio exactly once, and the texts Twilio retries are acted on once.
"""
from __future__ import annotations

import asyncio
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from core.months import Month
from tests.conftest import eventually, free_port
from tests.reliability.test_metrics_workers import serve_workers, stop, text, wait_ready

pytestmark = pytest.mark.reliability
ASSISTANTS = 300
COORD = "+46701112233"
OK_SENDERS = 12


def assistant(i: int) -> str:
    return f"+4670600{i:04d}"


def org_doc() -> dict:
    local = datetime.now(timezone.utc).astimezone(ZoneInfo("Europe/Stockholm"))
    start = f"{Month(local.year, local.month).shift(-1).key}-10T08:00:00+02:00"
    doc = {"organisation": {"id": "outage", "name": "Avbrott AB", "quiet_hours": "off"},
           "staff": [{"id": "c1", "name": "Karin Koordinator", "mobile": COORD, "roles": ["coordinator"]}],
           "care_recipients": [{"id": "r1", "name": "Rolf"}], "shifts": []}
    for i in range(ASSISTANTS):
        doc["staff"].append({"id": f"a{i}", "name": f"Assistent {i:04d}", "mobile": assistant(i)})
        doc["shifts"].append({"id": f"s{i}", "staff": f"a{i}", "care_recipient": "r1", "start": start,
                              "end": start.replace("T08", "T16")})
    return doc


class Cluster:
    """A PostgreSQL cluster of this test's own, run as the postgres user (we may be root)."""

    def __init__(self, bindir: str):
        self.bindir = bindir
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="paminn-pg-")
        self.data = os.path.join(self.dir, "data")
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = [os.path.join(self.bindir, args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, timeout=120)

    def init(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run("initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")

    def start(self) -> None:
        self._run("pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "log"), "-w", "-t", "60",
                  "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")  # clients cut off mid-transaction

    def remove(self) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def cluster():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found or not shutil.which("runuser"):
        if os.environ.get("CI"):
            pytest.fail("CI must run the database outage test: install PostgreSQL's server binaries")
        pytest.skip("needs PostgreSQL's initdb and pg_ctl (/usr/lib/postgresql/*/bin)")
    c = Cluster(os.path.dirname(found[-1]))
    c.init()
    c.start()
    yield c
    c.remove()


async def nothing_waiting(url: str) -> bool:
    """No reminder is still pending, being sent or in doubt."""
    from sqlalchemy import text as sql

    from bot.db import make_engine

    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return not (await conn.execute(sql(
                "SELECT count(*) FROM outbox WHERE kind = 'reminder' AND status IN ('pending', 'sending', 'unknown')"
            ))).scalar()
    finally:
        await engine.dispose()


async def fake_messages(session, fake_port: int) -> list[dict]:
    async with session.get(f"http://127.0.0.1:{fake_port}/_messages") as response:
        return await response.json()


async def test_a_database_outage_mid_round_loses_nothing_and_sends_nothing_twice(cluster, tmp_path):
    from sqlalchemy import text as sql

    from bot.app import build_services, close_services
    from bot.config import Settings
    from bot.imports import run_import

    services = await build_services(Settings.from_env({"PAMINN_DATABASE_URL": cluster.url}))
    try:
        await run_import(services, org_doc())
    finally:
        await close_services(services)
    fake = subprocess.Popen([sys.executable, "-m", "tests.fakes.twilio", "--port", "0"], stdout=subprocess.PIPE,
                            text=True)
    fake_port = int(fake.stdout.readline().split()[1])
    port = free_port()
    server = serve_workers(cluster.url, port, tmp_path, {
        "TWILIO_API_BASE": f"http://127.0.0.1:{fake_port}", "PAMINN_SEND_RATE": "40",
        "PAMINN_DISPATCH_INTERVAL": "0.2", "PAMINN_LEASE_SECONDS": "6", "PAMINN_SEND_TIMEOUT": "2",
        "PAMINN_INBOUND_WAIT": "5"})
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
            await wait_ready(session, base)
            status, reply = await text(session, base, COORD, "PÅMINN ALLA", "SMround" + "0" * 27)
            assert status == 200 and f"{ASSISTANTS} påminnelser" in reply
            while len(await fake_messages(session, fake_port)) < ASSISTANTS // 3:
                await asyncio.sleep(0.05)
            cluster.stop()
            stopped_at = time.monotonic()
            reached = sorted({m["to"] for m in await fake_messages(session, fake_port)})
            senders = reached[:OK_SENDERS]

            # Down: every inbound text is refused with a 5xx, quickly, and /readyz says not ready.
            started = time.monotonic()
            during = await asyncio.gather(*(text(session, base, s, "OK", f"SMok{i:030d}")
                                            for i, s in enumerate(senders)))
            assert all(status == 503 for status, _ in during), during
            refused_in = time.monotonic() - started
            assert refused_in < 5 + 2
            async with session.get(f"{base}/readyz") as response:
                assert response.status == 503
            async with session.get(f"{base}/healthz") as response:
                assert response.status == 200  # alive: restarting it would not bring the database back
            await asyncio.sleep(max(0.0, 3 - (time.monotonic() - stopped_at)))
            cluster.start()
            await wait_ready(session, base)

            # Twilio retries each refused text (rc=3, rp=5xx): each is acted on once, a second retry changes nothing.
            replies = {}
            for i, sender in enumerate(senders):
                for _ in range(4):  # a pooled connection broken by the restart fails once, then is replaced
                    status, reply = await text(session, base, sender, "OK", f"SMok{i:030d}")
                    if status == 200:
                        break
                    await asyncio.sleep(0.5)
                assert status == 200, (status, reply)
                replies[sender] = reply
                assert (await text(session, base, sender, "OK", f"SMok{i:030d}")) == (200, reply)
            assert all("Tack!" in reply for reply in replies.values()), replies

            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                if len({m["to"] for m in await fake_messages(session, fake_port)}) >= ASSISTANTS:
                    break
                await asyncio.sleep(0.5)
            await asyncio.sleep(2)  # anything that would go twice has had its chance
            # A send whose result could not be recorded (the outage, or a pooled connection it broke, cut the
            # recording off) leaves its row in doubt until its lease runs out (6 s here) and the row is checked
            # against Twilio's list: wait for every row's outcome to be recorded, then look at what was sent.
            await eventually(lambda: nothing_waiting(cluster.url), timeout=60, what="every reminder's outcome recorded")
            received = await fake_messages(session, fake_port)
    finally:
        stop(server)
        fake.terminate()
        fake.wait()
    per_number: dict[str, int] = {}
    for m in received:
        per_number[m["to"]] = per_number.get(m["to"], 0) + 1
    assert {n: c for n, c in per_number.items() if c > 1} == {}, "sent twice"
    assert set(per_number) == {assistant(i) for i in range(ASSISTANTS)}, "lost"

    services = await build_services(Settings.from_env({"PAMINN_DATABASE_URL": cluster.url}), migrate=False)
    try:
        async with services.engine.connect() as conn:
            statuses = dict((await conn.execute(sql(
                "SELECT status, count(*) FROM outbox WHERE kind = 'reminder' GROUP BY status"))).all())
            inbound = (await conn.execute(sql("SELECT count(*) FROM inbound WHERE provider_id LIKE 'SMok%'"))).scalar()
            acknowledged = (await conn.execute(sql(
                "SELECT count(*) FROM reminder_history WHERE acknowledged_at IS NOT NULL"))).scalar()
            interrupted = (await conn.execute(sql(
                "SELECT count(*) FROM outbox WHERE kind = 'reminder' AND attempts > 1"))).scalar()
    finally:
        await close_services(services)
    print(f"reached before the stop: {len(reached)} of {ASSISTANTS}; {OK_SENDERS} texts refused in "
          f"{refused_in:.2f} s; reminders claimed more than once (the outage cut a claim off): {interrupted}")
    assert statuses == {"sent": ASSISTANTS}, statuses
    assert inbound == OK_SENDERS and acknowledged == OK_SENDERS
