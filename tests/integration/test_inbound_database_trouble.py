"""Inbound texts while the database is locked: 503 with Retry-After inside Twilio's 15 s, nothing
stored or answered falsely, and Twilio's retry of the same MessageSid acted on once."""
from __future__ import annotations

import asyncio
import sqlite3
import time

import asyncpg
import pytest
from sqlalchemy import make_url

from tests.builders import ANNA, COORD, GUSTAV, load, may_org
from tests.conftest import start_harness, twiml_messages
from tests.fakes.twilio import ACCOUNT_SID

# PAMINN_INBOUND_WAIT for these tests (10 s by default): far enough above the batcher's 1 s overtaking delay
# that "answered once a lane opened" and "answered at the bound" stay apart on a busy machine.
WAIT = 4.0
THANKS = "Tack! Vi har noterat att du sett påminnelsen för maj 2026."


class TableLock:
    """Another connection holding a lock: PostgreSQL LOCK TABLE … ACCESS EXCLUSIVE, SQLite a write transaction."""

    def __init__(self, db_url: str):
        self.db_url = db_url
        self._pg = None
        self._sqlite = None

    async def take(self, pg_sql: str = "LOCK TABLE inbound IN ACCESS EXCLUSIVE MODE") -> None:
        if self.db_url.startswith("sqlite"):
            self._sqlite = sqlite3.connect(make_url(self.db_url).database, isolation_level=None)
            self._sqlite.execute("BEGIN IMMEDIATE")
            return
        url = make_url(self.db_url)
        schema = url.query["search_path"]
        self._pg = await asyncpg.connect(host=url.host, port=url.port or 5432, user=url.username,
                                         database=url.database, server_settings={"search_path": schema})
        await self._pg.execute("BEGIN")
        await self._pg.execute(pg_sql)

    async def release(self) -> None:
        if self._sqlite is not None:
            self._sqlite.execute("ROLLBACK")
            self._sqlite.close()
            self._sqlite = None
        if self._pg is not None:
            await self._pg.execute("ROLLBACK")
            await self._pg.close()
            self._pg = None


@pytest.fixture
async def locked(db_url, fake_twilio, clock):
    h = await start_harness(db_url, fake_twilio, clock, PAMINN_INBOUND_WAIT=str(WAIT))
    lock = TableLock(db_url)
    yield h, lock
    await lock.release()
    await h.client.close()


async def post_sms(h, sender: str, body: str, sid: str):
    params = {"MessageSid": sid, "From": sender, "To": "+46766860000", "Body": body, "AccountSid": ACCOUNT_SID}
    return await h.post_form("/webhooks/twilio/sms", params)


async def test_a_locked_table_gets_503_with_retry_after_within_the_bound_and_the_retry_is_acted_on_once(locked):
    h, lock = locked
    await load(h, may_org())
    await h.sms(COORD, "PÅMINN ALLA maj")
    await lock.take()
    started = time.monotonic()
    response = await post_sms(h, ANNA, "OK", "SMlocked000000000000000000000001")
    elapsed = time.monotonic() - started
    assert response.status == 503 and response.headers["Retry-After"].isdigit()
    assert WAIT <= elapsed < WAIT + 3, elapsed  # at the bound, not hung on the lock
    await lock.release()
    await asyncio.sleep(0.3)  # a cancelled batch that was still unwinding has finished
    assert await h.scalar("SELECT count(*) FROM inbound WHERE provider_id = 'SMlocked000000000000000000000001'") == 0
    assert await h.scalar("SELECT count(*) FROM reminder_history WHERE acknowledged_at IS NOT NULL") == 0

    # Twilio retries the same MessageSid (rp=5xx): acted on once, and a second retry changes nothing.
    for _ in range(2):
        response = await post_sms(h, ANNA, "OK", "SMlocked000000000000000000000001")
        assert response.status == 200 and twiml_messages(await response.text()) == [THANKS]
    assert await h.scalar("SELECT count(*) FROM inbound WHERE provider_id = 'SMlocked000000000000000000000001'") == 1
    assert await h.scalar("SELECT count(*) FROM reminder_history WHERE acknowledged_at IS NOT NULL") == 1
    metrics = await (await h.client.get("/metrics")).text()
    assert 'paminn_inbound_total{channel="sms",outcome="unavailable"} 1.0' in metrics


async def test_a_text_stuck_on_a_row_lock_does_not_hold_an_unrelated_text_behind_it(locked, db_url):
    """PostgreSQL locks rows: a round waiting on its organisation's row (held by another process)
    must not make an assistant's text wait for it; the round's text gets 503 at the bound."""
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite has one writer: every text waits for the same lock")
    h, lock = locked
    await load(h, may_org())
    await h.sms(COORD, "PÅMINN Anna maj")
    # What another process's round holds while it runs (the round_seq UPDATE's row lock).
    await lock.take("UPDATE organisations SET round_seq = round_seq WHERE id = 'org1'")
    round_ = asyncio.create_task(post_sms(h, COORD, "PÅMINN ALLA maj", "SMround00000000000000000000000001"))
    await asyncio.sleep(0.2)
    started = time.monotonic()
    response = await post_sms(h, ANNA, "OK", "SManna000000000000000000000000001")
    assert response.status == 200 and twiml_messages(await response.text()) == [THANKS]
    assert time.monotonic() - started < WAIT - 0.5  # the lane opened after 1 s, not at the stuck round's bound
    stuck = await round_
    assert stuck.status == 503
    await lock.release()
    assert await h.scalar("SELECT count(*) FROM outbox WHERE address = :a AND kind = 'reminder'", a=GUSTAV) == 0
    retry = await post_sms(h, COORD, "PÅMINN ALLA maj", "SMround00000000000000000000000001")
    assert retry.status == 200 and "påminnelser" in await retry.text()
    assert await h.scalar("SELECT count(*) FROM outbox WHERE address = :a AND kind = 'reminder'", a=GUSTAV) == 1
