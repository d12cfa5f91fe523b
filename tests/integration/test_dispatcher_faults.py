"""The outbox under provider faults: retried when safe, never sent twice, nothing lost."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from core import store
from tests.builders import ANNA, COORD, GUSTAV, IVAR, JONNA, load, may_org, reminder, set_team_chat, team_messages
from tests.conftest import eventually
from tests.fakes.twilio import Fault

DUE = {ANNA, GUSTAV, IVAR, JONNA}


async def statuses(harness) -> dict:
    rows = await harness.rows("SELECT address, status FROM outbox WHERE kind = 'reminder'")
    return {a: s for a, s in rows}


async def test_429_with_retry_after_then_success(harness):
    await load(harness, may_org())
    await harness.sms(COORD, "PÅMINN Anna maj")
    harness.fake.faults = [Fault(status=429, code=20429, retry_after=30)]
    stats = await harness.dispatch()
    assert stats.retried == 1 and harness.fake.messages == []
    harness.clock.advance(seconds=29)
    await harness.dispatch()
    assert harness.fake.messages == []  # Retry-After is honoured
    harness.clock.advance(seconds=1)
    await harness.dispatch()
    assert harness.fake.to(ANNA) == [reminder()]
    assert (await statuses(harness))[ANNA] == "sent"


async def test_500_is_retried_with_backoff_and_other_4xx_never(harness):
    await load(harness, may_org())
    await harness.sms(COORD, "PÅMINN ALLA maj")
    harness.fake.faults = [Fault(status=500), Fault(status=400, code=21602)]
    stats = await harness.dispatch()
    assert stats.sent == 2 and stats.retried == 1 and stats.failed == 1
    harness.clock.advance(minutes=5)
    await harness.dispatch()
    await harness.dispatch()
    assert len(harness.fake.messages) == 3  # the 500 went out later; the 400 never
    assert sorted((await statuses(harness)).values()) == ["failed", "sent", "sent", "sent"]


async def test_21610_turns_reminders_off_and_tells_the_team(harness):
    await load(harness, may_org())
    await set_team_chat(harness)
    await harness.sms(COORD, "PÅMINN Anna maj")
    harness.fake.faults = [Fault(status=400, code=21610)]
    await harness.dispatch()
    assert harness.fake.messages == []
    assert (await statuses(harness))[ANNA] == "failed"
    assert "Anna Andersson har avregistrerat sig från SMS" in (await team_messages(harness))[-1]
    harness.clock.advance(hours=3)
    assert await harness.sms(COORD, "PÅMINN Anna maj") == [
        "Ingen påminnelse skickad: Anna Andersson har påminnelser avstängda för maj 2026."]
    await harness.sms(ANNA, "START")
    assert (await harness.sms(COORD, "PÅMINN Anna maj"))[0].startswith("Påminnelse för maj 2026 skickad")


async def test_21211_marks_number_invalid(harness):
    await load(harness, may_org())
    await harness.sms(COORD, "PÅMINN Anna maj")
    harness.fake.faults = [Fault(status=400, code=21211)]
    await harness.dispatch()
    harness.clock.advance(hours=3)
    assert await harness.sms(COORD, "PÅMINN Anna maj") == [
        "Ingen påminnelse för maj 2026 skickad: Anna Andersson har inget mobilnummer."]
    # A corrected number from the host system is tried again.
    doc = may_org()
    doc["staff"][2]["mobile"] = "+46701234500"
    await load(harness, doc)
    assert (await harness.sms(COORD, "PÅMINN Anna maj"))[0].startswith("Påminnelse för maj 2026 skickad")


async def test_timeout_after_twilio_created_it_is_not_resent(impatient_harness):
    """201 then the connection hangs: the row goes unknown, the list shows it, no second SMS."""
    harness = impatient_harness  # a 2 s send timeout, so the cut-off send does not take 10 s
    await load(harness, may_org())
    await harness.sms(COORD, "PÅMINN Anna maj")
    harness.fake.faults = [Fault(hang_after_create=True)]
    stats = await harness.dispatch()
    assert stats.unknown == 1
    assert (await statuses(harness))[ANNA] == "unknown"
    stats = await harness.dispatch()
    assert stats.reconciled == 0  # not checked at once: the provider may still be creating it
    harness.clock.advance(seconds=30)
    stats = await harness.dispatch()
    assert stats.reconciled == 1
    assert harness.fake.to(ANNA) == [reminder()]
    assert (await statuses(harness))[ANNA] == "sent"


async def test_dropped_connection_before_create_is_sent_once_after_check(harness):
    await load(harness, may_org())
    await harness.sms(COORD, "PÅMINN Anna maj")
    harness.fake.faults = [Fault(drop=True)]
    stats = await harness.dispatch()
    assert stats.unknown == 1 and harness.fake.messages == []
    harness.clock.advance(seconds=30)
    stats = await harness.dispatch()
    assert stats.resent_after_check == 1 and stats.sent == 1
    assert harness.fake.to(ANNA) == [reminder()]


async def test_reply_slower_than_client_timeout_is_not_sent_twice(impatient_harness):
    """Twilio answers after our 2 s timeout but creates the message anyway."""
    harness = impatient_harness  # a 2 s send timeout, so the cut-off send does not take 10 s
    await load(harness, may_org())
    await harness.sms(COORD, "PÅMINN Anna maj")
    created = asyncio.Event()  # the provider creates it only after we gave up (however slow this machine is)
    harness.fake.faults = [Fault(create_when=created)]
    stats = await harness.dispatch()
    assert stats.unknown == 1 and harness.fake.messages == []
    created.set()  # meanwhile the slow provider finishes creating it
    await eventually(lambda: harness.fake.to(ANNA), what="the slow provider creating the message")
    assert harness.fake.to(ANNA) == [reminder()]
    harness.clock.advance(seconds=30)
    stats = await harness.dispatch()
    assert stats.reconciled == 1 and stats.sent == 0
    assert harness.fake.to(ANNA) == [reminder()]


async def test_500_then_success(harness):
    await load(harness, may_org())
    await harness.sms(COORD, "PÅMINN Anna maj")
    harness.fake.faults = [Fault(status=500), Fault(status=503)]
    await harness.dispatch()
    harness.clock.advance(seconds=2)
    await harness.dispatch()
    harness.clock.advance(seconds=4)
    await harness.dispatch()
    assert harness.fake.to(ANNA) == [reminder()]
    assert await harness.scalar("SELECT attempts FROM outbox WHERE kind = 'reminder'") == 3


async def crash_after_claim(harness, *, provider_got_it: bool) -> list:
    """Claim every due row as a process would, maybe let Twilio have them, then 'die'."""
    from core.channels import Outgoing

    async with harness.services.sessions.begin() as session:
        rows = await store.claim_due(session, harness.clock(), "doomed", timedelta(seconds=60), 100, ["sms"])
    if provider_got_it:
        channel = harness.services.channels["sms"]
        for row in rows:
            await channel.send(Outgoing(row.id, row.address, row.body, row.idempotency_key, row.created_at))
    return rows


async def test_crash_between_sending_and_response_never_sends_twice(harness):
    await load(harness, may_org())
    await harness.sms(COORD, "PÅMINN ALLA maj")
    await crash_after_claim(harness, provider_got_it=True)
    assert len(harness.fake.messages) == 4
    stats = await harness.dispatch()  # lease still running: nothing to do, nothing resent
    assert stats.sent == 0 and len(harness.fake.messages) == 4
    harness.clock.advance(seconds=61)
    stats = await harness.dispatch()
    assert stats.unknown == 4 and stats.reconciled == 4 and stats.sent == 0
    assert sorted(m.to for m in harness.fake.messages) == sorted(DUE)
    assert set((await statuses(harness)).values()) == {"sent"}


async def test_crash_before_the_provider_got_it_sends_once_after_check(harness):
    await load(harness, may_org())
    await harness.sms(COORD, "PÅMINN ALLA maj")
    await crash_after_claim(harness, provider_got_it=False)
    harness.clock.advance(seconds=61)
    stats = await harness.dispatch()
    assert stats.resent_after_check == 4 and stats.sent == 4
    assert sorted(m.to for m in harness.fake.messages) == sorted(DUE)
    await harness.dispatch()
    assert len(harness.fake.messages) == 4


async def test_send_due_command_dispatches_once(harness, monkeypatch, capsys):
    """`paminn send-due` against the same database: sends what is due, prints the counts."""
    await load(harness, may_org())
    await harness.sms(COORD, "PÅMINN ALLA maj")
    import asyncio

    from bot.app import build_services, close_services

    settings = harness.services.settings
    services = await build_services(settings, clock=harness.clock)
    try:
        stats = await services.dispatcher.run_once()
    finally:
        await close_services(services)
    assert stats.sent == 4
    assert sorted(m.to for m in harness.fake.messages) == sorted(DUE)
    del asyncio


async def test_send_never_starts_when_the_lease_could_run_out_mid_send(harness):
    """A claim about to expire is handed back unsent, so no other process can send the same row too."""
    await load(harness, may_org())
    await harness.sms(COORD, "PÅMINN Anna maj")
    dispatcher = harness.services.dispatcher
    async with harness.services.sessions.begin() as session:
        rows = await store.claim_due(session, harness.clock(), dispatcher.worker_id, timedelta(seconds=1), 10, ["sms"])
    results = [await dispatcher._send(row) for row in rows]
    assert [r.outcome for r in results] == ["released"]
    await dispatcher._store(list(zip(rows, results)), __import__("bot.dispatcher", fromlist=["x"]).DispatchStats())
    assert harness.fake.messages == []
    assert (await statuses(harness))[ANNA] == "pending"
    await harness.dispatch()  # a normal claim (60 s lease) sends it, once
    assert harness.fake.to(ANNA) == [reminder()]


async def test_lease_must_outlive_a_send():
    from bot.config import ConfigError, Settings

    with pytest.raises(ConfigError, match="PAMINN_LEASE_SECONDS"):
        Settings.from_env({"PAMINN_LEASE_SECONDS": "10", "PAMINN_SEND_TIMEOUT": "15"})


@pytest.mark.parametrize("raw", ["0", "2.5", "many"])
def test_dispatch_concurrency_must_be_a_whole_number_of_sends(raw):
    from bot.config import ConfigError, Settings

    with pytest.raises(ConfigError, match="PAMINN_DISPATCH_CONCURRENCY"):
        Settings.from_env({"PAMINN_DISPATCH_CONCURRENCY": raw})
    assert Settings.from_env({"PAMINN_DISPATCH_CONCURRENCY": "7"}).dispatch_concurrency == 7
