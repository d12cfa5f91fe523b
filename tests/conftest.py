"""Shared fixtures: databases (SQLite always, PostgreSQL when configured), the fake Twilio, the app."""
from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import uuid
from datetime import datetime, timezone
from urllib.parse import urlencode

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text
from twilio.request_validator import RequestValidator

from bot.app import create_app
from bot.config import Settings
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio
from webhooks.keys import SERVICES

PG_URL = os.environ.get("PAMINN_TEST_DATABASE_URL")
BACKENDS = ["sqlite", "postgresql"]


# ---------------------------------------------------------------- no traffic beyond loopback

_real_connect = socket.socket.connect


def _loopback_only(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            raise AssertionError(f"test tried to reach non-loopback address {host!r}")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def _network_guard(monkeypatch):
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)


# ---------------------------------------------------------------- databases


@contextlib.asynccontextmanager
async def pg_schema(prefix: str = "t"):
    """A PostgreSQL URL on a new schema of its own, dropped afterwards; skips (fails under CI) without one."""
    if not PG_URL:
        if os.environ.get("CI"):
            pytest.fail("PAMINN_TEST_DATABASE_URL is not set; CI must run the PostgreSQL tests")
        pytest.skip("PostgreSQL tests need PAMINN_TEST_DATABASE_URL")
    import asyncpg

    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    plain = PG_URL.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(plain)
    await conn.execute(f'CREATE SCHEMA "{schema}"')
    await conn.close()
    try:
        yield f"{PG_URL}{'&' if '?' in PG_URL else '?'}search_path={schema}"
    finally:
        conn = await asyncpg.connect(plain)
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await conn.close()


@pytest.fixture(params=BACKENDS)
async def db_url(request, tmp_path):
    """A fresh database: a SQLite file, or a new PostgreSQL schema dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/paminn.db"
        return
    async with pg_schema() as url:
        yield url


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs) -> None:
        from datetime import timedelta

        self.now += timedelta(**kwargs)


@pytest.fixture
def clock():
    # Tuesday 2 June 2026, 10:00 Stockholm: May is "last month", outside quiet hours.
    return Clock(datetime(2026, 6, 2, 8, 0, tzinfo=timezone.utc))


@pytest.fixture
async def fake_twilio():
    fake = await FakeTwilio().start()
    yield fake
    await fake.close()


# Long enough that a loopback send on a busy CI machine is never cut off (a 2 s bound did cut some off, and
# the row then went "unknown" instead of "sent"); the tests of a send that hangs or answers too late use
# ``impatient_harness`` (FAULT_SEND_TIMEOUT) so they do not wait this long.
SEND_TIMEOUT = "10"
FAULT_SEND_TIMEOUT = "2"


def make_settings(db_url: str, fake: FakeTwilio | None, **overrides) -> Settings:
    env = {
        "PAMINN_DATABASE_URL": db_url,
        "PAMINN_QUIET_HOURS": "21:00-08:00",
        "PAMINN_SEND_RATE": "0",
        "PAMINN_TEAM_ACK_WINDOW": "60",
    }
    if fake is not None:
        env.update({"TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
                    "TWILIO_FROM_NUMBER": "+46766860000", "TWILIO_API_BASE": fake.base_url,
                    "PAMINN_SEND_TIMEOUT": SEND_TIMEOUT})
    env.update(overrides)
    return Settings.from_env(env)


class Harness:
    """The real app on a loopback port, with helpers that act as Twilio and as people would."""

    def __init__(self, client: TestClient, fake: FakeTwilio | None, clock: Clock):
        self.client = client
        self.fake = fake
        self.clock = clock
        self._sid = 0

    @property
    def services(self):
        return self.client.server.app[SERVICES]

    @property
    def base(self) -> str:
        return str(self.client.server.make_url("")).rstrip("/")

    def sign(self, path: str, params: dict) -> str:
        return RequestValidator(AUTH_TOKEN).compute_signature(self.base + path, params)

    async def post_form(self, path: str, params: dict, signature: str | None = "sign", **kw):
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if signature == "sign":
            signature = self.sign(path, params)
        if signature is not None:
            headers["X-Twilio-Signature"] = signature
        return await self.client.post(path, data=urlencode(params), headers=headers, **kw)

    async def sms(self, sender: str, body: str, sid: str | None = None) -> list[str]:
        """Text the service as ``sender``; return the reply texts from the TwiML."""
        if sid is None:
            self._sid += 1
            sid = f"SMin{self._sid:030d}"
        params = {"MessageSid": sid, "From": sender, "To": "+46766860000", "Body": body, "AccountSid": ACCOUNT_SID}
        response = await self.post_form("/webhooks/twilio/sms", params)
        assert response.status == 200, await response.text()
        return twiml_messages(await response.text())

    async def dispatch(self):
        return await self.services.dispatcher.run_once()

    async def scalar(self, sql: str, **params):
        async with self.services.engine.connect() as conn:
            return (await conn.execute(text(sql), params)).scalar()

    async def rows(self, sql: str, **params):
        async with self.services.engine.connect() as conn:
            return (await conn.execute(text(sql), params)).all()


async def eventually(condition, timeout: float = 30, what: str = "the condition"):
    """Wait until ``condition()`` (sync or async) is truthy and return it; fail after ``timeout`` seconds.

    For waits on another task or process: a fixed sleep is either too short on a busy machine or needlessly long.
    """
    import asyncio
    import inspect
    import time

    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        await asyncio.sleep(0.02)


def twiml_messages(xml: str) -> list[str]:
    import xml.etree.ElementTree as ET

    root = ET.fromstring(xml)
    assert root.tag == "Response"
    return [m.text or "" for m in root.findall("Message")]


def free_port() -> int:
    """A port that was free a moment ago (only for fakes that bind at once; servers use ``reserved_port``)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ReservedPort:
    """A loopback port held for a ``paminn serve --reuse-port`` child for as long as the test runs.

    The reservation is a bound, never-listening SO_REUSEPORT socket: the child (same user, same option) binds the
    same port beside it, and the kernel hands connections only to listening sockets, so the reservation takes no
    traffic. Other programs cannot take the port meanwhile, not even while a killed child is being restarted.
    """

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]

    def close(self) -> None:
        self._sock.close()


@pytest.fixture
def reserved_ports():
    """``reserved_ports(n)`` → n ReservedPort, released after the test."""
    held: list[ReservedPort] = []

    def reserve(n: int = 1) -> list[ReservedPort]:
        ports = [ReservedPort() for _ in range(n)]
        held.extend(ports)
        return ports

    yield reserve
    for port in held:
        port.close()


def bound_socket() -> socket.socket:
    """A listening-ready socket on a free loopback port, held from the start.

    Choosing a port and binding it later (``free_port``) leaves a gap in which another program on the machine can
    take it; a server that must know its URL before it starts (``PAMINN_PUBLIC_URL``) gets this socket instead.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


async def start_harness(db_url, fake, clock, telegram_polling: bool = False, **overrides) -> Harness:
    sock = bound_socket()
    port = sock.getsockname()[1]
    overrides.setdefault("PAMINN_PUBLIC_URL", f"http://127.0.0.1:{port}")
    settings = make_settings(db_url, fake, **overrides)
    app = create_app(settings, clock=clock, scheduler=False, telegram_polling=telegram_polling)
    server = TestServer(app, host="127.0.0.1", port=port, socket_factory=lambda host, port, family: sock)
    client = TestClient(server)
    await client.start_server()
    return Harness(client, fake, clock)


@pytest.fixture
async def harness(db_url, fake_twilio, clock):
    h = await start_harness(db_url, fake_twilio, clock)
    yield h
    await h.client.close()


@pytest.fixture
async def impatient_harness(db_url, fake_twilio, clock):
    """The harness with a short send timeout, for tests of a provider that hangs or answers too late."""
    h = await start_harness(db_url, fake_twilio, clock, PAMINN_SEND_TIMEOUT=FAULT_SEND_TIMEOUT)
    yield h
    await h.client.close()


@pytest.fixture
def utc():
    return timezone.utc
