"""A process that dies while *checking* a Telegram send in doubt must not make it look never-sent.

Found by the kill test on a busy machine: a Telegram reminder reached the chat twice. The row was in doubt
(``unknown``: its provider call had started when a process died), another process claimed it to check it and was
killed too; the claim had wiped the record of the provider call, so the expired claim read as "never called" and
the row went back to ``pending`` — and was sent again.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from core import store
from core.models import OutboxMessage
from tests.builders import ANNA, COORD, load, may_org
from tests.conftest import start_harness
from tests.fakes.telegram import TOKEN, FakeTelegram

pytestmark = pytest.mark.reliability
LEASE = timedelta(seconds=60)
SECRET = "s3cret-token"


@pytest.fixture
async def fake_telegram():
    fake = await FakeTelegram().start()
    yield fake
    await fake.close()


async def test_a_checker_killed_midway_leaves_a_telegram_send_in_doubt(db_url, fake_twilio, fake_telegram, clock):
    h = await start_harness(db_url, fake_twilio, clock, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_WEBHOOK_SECRET=SECRET,
                            TELEGRAM_API_BASE=fake_telegram.api_base)
    try:
        await load(h, may_org())
        await h.sms(COORD, "PÅMINN Anna maj")
        sessions = h.services.sessions
        async with sessions.begin() as session:  # Anna's reminder goes by Telegram
            await session.execute(update(OutboxMessage).where(OutboxMessage.address == ANNA)
                                  .values(channel="telegram", address="900001"))
        # Process A claims it, records the provider call, and dies during the call.
        async with sessions.begin() as session:
            [row] = await store.claim_due(session, clock(), "worker-a", LEASE, 10, ["telegram"])
        async with sessions.begin() as session:
            assert await store.mark_provider_call(session, row.id, "worker-a", clock())
        clock.advance(seconds=61)
        async with sessions.begin() as session:
            assert await store.expire_leases(session, clock(), ["telegram"]) == 1
        # Process B claims the row to check it, and dies before finishing the check.
        async with sessions.begin() as session:
            [row] = await store.claim_due(session, clock(), "worker-b", LEASE, 10, ["telegram"],
                                          statuses=("unknown",))
        clock.advance(seconds=61)
        async with sessions.begin() as session:
            await store.expire_leases(session, clock(), ["telegram"])
        assert await h.scalar("SELECT status FROM outbox WHERE id = :id", id=row.id) == "unknown"
        # The next dispatcher finds it in doubt: reported as unconfirmed, never sent (again).
        await h.dispatch()
        assert await h.scalar("SELECT status FROM outbox WHERE id = :id", id=row.id) == "unconfirmed"
        assert fake_telegram.texts("900001") == []
    finally:
        await h.client.close()
