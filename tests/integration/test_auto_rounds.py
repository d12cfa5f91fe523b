"""Automatic rounds (exactly once per slot across processes and restarts, never in quiet hours) and
escalation (once per month per assistant, to the right supervisors and the coordinators).

Real SMS webhooks, a real database (SQLite and PostgreSQL) and the fake Twilio; two services on one
database stand for two processes, a new services instance for a restart.
"""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest

from bot.app import build_services, close_services
from core.importer import ImportError_
from handlers.auto_rounds import run_auto_rounds
from tests.builders import (
    ANNA,
    COORD,
    FIA,
    GUSTAV,
    IVAR,
    JONNA,
    MAY_HELD,
    MAY_ROUND_REPLY,
    SUPERVISOR,
    load,
    may_org,
    reminder,
    set_team_chat,
    team_messages,
)
from tests.conftest import make_settings

SUMMARY = "Automatisk påminnelserunda enligt schemat:\n" + MAY_ROUND_REPLY


async def test_a_slot_runs_exactly_once_across_two_processes_and_a_restart(harness, fake_twilio, clock):
    # The clock stands at 10:00 Stockholm on 2 June; the slot was 09:30 that day.
    await load(harness, may_org(auto_rounds=[{"day": 2, "time": "09:30"}, {"day": -1, "time": "09:00"}]))
    await set_team_chat(harness)
    settings = make_settings(harness.services.settings.database_url, fake_twilio)
    other = await build_services(settings, clock=clock, migrate=False)
    try:
        runs = await asyncio.gather(run_auto_rounds(harness.services), run_auto_rounds(other),
                                    run_auto_rounds(harness.services))
        assert sum(r.rounds for r in runs) == 1
        assert sum(r.summaries for r in runs) == 1
    finally:
        await close_services(other)
    # A restart inside the slot (a new process, ten minutes on): the slot is taken.
    clock.advance(minutes=10)
    restarted = await build_services(settings, clock=clock, migrate=False)
    try:
        assert (await run_auto_rounds(restarted)).rounds == 0
    finally:
        await close_services(restarted)
    assert (await run_auto_rounds(harness.services)).rounds == 0

    await harness.dispatch()
    assert {n: fake_twilio.to(n) for n in (ANNA, GUSTAV, IVAR, JONNA)} == {n: [reminder()] for n in
                                                                           (ANNA, GUSTAV, IVAR, JONNA)}
    assert len([m for m in fake_twilio.messages if m.body == reminder()]) == 4
    # The coordinator reads what she would have read had she asked; the supervisor gets no summary.
    assert fake_twilio.to(COORD) == [SUMMARY]
    assert fake_twilio.to(SUPERVISOR) == []
    assert await team_messages(harness) == [
        f"Den automatiska rundan skickade påminnelser för maj 2026: 4 skickade. Inte skickade: {MAY_HELD}."]
    assert await harness.scalar("SELECT count(*) FROM auto_round_slots") == 1
    assert await harness.scalar("SELECT month FROM auto_round_slots") == "2026-05"
    assert await harness.scalar("SELECT count(*) FROM auto_round_slots WHERE round_id IS NOT NULL") == 1
    assert await harness.scalar("SELECT count(*) FROM reminder_rounds WHERE requested_by IS NULL") == 1


async def test_an_organisation_whose_round_fails_holds_up_no_other(harness, fake_twilio):
    from sqlalchemy import update

    from core.models import Organisation

    await load(harness, {"organisation": {"id": "org0", "name": "Trasig AB",
                                          "auto_rounds": [{"day": 2, "time": "09:30"}]}})
    await load(harness, may_org(auto_rounds=[{"day": 2, "time": "09:30"}]))
    async with harness.services.sessions.begin() as session:  # a stored value this version cannot read
        await session.execute(update(Organisation).where(Organisation.id == "org0")
                              .values(auto_rounds=[{"day": 2, "time": "late"}]))
    run = await run_auto_rounds(harness.services)
    assert (run.rounds, run.failed_orgs) == (1, ["org0"])
    await harness.dispatch()
    assert fake_twilio.to(COORD) == [SUMMARY]


async def test_a_slot_missed_into_quiet_hours_runs_when_they_end_within_twelve_hours(harness, fake_twilio, clock):
    await load(harness, may_org(auto_rounds=[{"day": 2, "time": "20:30"}]))
    clock.now = datetime(2026, 6, 2, 18, 0, tzinfo=timezone.utc)  # 20:00: before the slot
    assert (await run_auto_rounds(harness.services)).rounds == 0
    clock.now = datetime(2026, 6, 2, 19, 30, tzinfo=timezone.utc)  # 21:30: down at 20:30, back in quiet hours
    assert (await run_auto_rounds(harness.services)).rounds == 0
    clock.now = datetime(2026, 6, 3, 6, 5, tzinfo=timezone.utc)  # 08:05: quiet hours over, 11 h 35 min on
    assert (await run_auto_rounds(harness.services)).rounds == 1
    await harness.dispatch()
    # The next morning Fia's reminder of 09:00 the day before no longer holds her back.
    assert fake_twilio.to(COORD) == [
        "Automatisk påminnelserunda enligt schemat:\n5 påminnelser för maj 2026 skickade (5 SMS-delar).\n"
        "Inte skickade: 1 har påminnelser avstängda, 1 arbetar hos brukare med påminnelser avstängda, "
        "1 saknar mobilnummer.\n1 har redan rapporterat allt."]
    assert fake_twilio.to(ANNA) == fake_twilio.to(FIA) == [reminder()]


async def test_a_slot_older_than_twelve_hours_is_passed_over(harness, clock):
    await load(harness, may_org(auto_rounds=[{"day": 1, "time": "09:00"}, {"day": 1, "time": "19:00"}]))
    # 2 June 10:00: 1 June 09:00 is 25 h ago and 19:00 is 15 h ago.
    assert (await run_auto_rounds(harness.services)).rounds == 0
    assert await harness.scalar("SELECT count(*) FROM outbox") == 0


async def test_import_refuses_slots_in_quiet_hours_bad_days_and_unknown_keys(harness):
    doc = may_org(quiet_hours="21:00-07:00", escalate_after=0, auto_rounds=[
        {"day": 1, "time": "22:00"}, {"day": 31, "time": "09:00"}, {"day": 3, "tme": "09:00"},
        {"day": 4, "time": "9"}])
    with pytest.raises(ImportError_) as refused:
        await load(harness, doc)
    assert refused.value.problems == [
        "organisation: auto_rounds[0]: 'time' 22:00 is inside the quiet hours 21:00-07:00; choose a time outside "
        "them",
        "organisation: auto_rounds[1]: 'day' 31 must be a day of the month from 1 to 28, or -1 for the last day",
        "organisation: auto_rounds[2]: unknown field 'tme' — did you mean 'time'?",
        "organisation: auto_rounds[2]: 'time' None must be a local time like '09:00'",
        "organisation: auto_rounds[3]: 'time' '9' must be a local time like '09:00'",
        "organisation: 'escalate_after' 0 must be a number of reminders from 1 to 50 (default 3)",
    ]
    assert await harness.scalar("SELECT count(*) FROM organisations") == 0
    # Without quiet hours of its own the organisation has the service's (21:00-08:00 here).
    with pytest.raises(ImportError_, match=r"auto_rounds\[0\]: 'time' 07:30 is inside the quiet hours 21:00-08:00"):
        await load(harness, may_org(auto_rounds=[{"day": 2, "time": "07:30"}]))
    with pytest.raises(ImportError_, match="unknown field 'auto_round' — did you mean 'auto_rounds'"):
        await load(harness, may_org(auto_round=[{"day": 2, "time": "09:30"}]))


async def _round(harness) -> None:
    assert (await harness.sms(COORD, "PÅMINN ALLA maj"))[0].split(" ")[1] in ("påminnelse", "påminnelser")


async def test_escalation_once_after_the_third_accepted_reminder_to_the_right_supervisors(harness, clock):
    # Imported history: Jonna was reminded at 07:00 (counts as sent), Fia at 09:00.
    await load(harness, may_org())
    await _round(harness)  # 10:00: Anna, Gustav, Ivar, Jonna (her 2nd)
    await harness.dispatch()
    clock.advance(hours=2, minutes=1)
    await _round(harness)  # 12:01: the same and Fia; Jonna's 3rd, still queued
    assert (await run_auto_rounds(harness.services)).escalated == 0  # not accepted yet: not counted
    await harness.dispatch()
    run = await run_auto_rounds(harness.services)
    assert (run.escalated, run.escalation_messages) == (1, 1)
    await harness.dispatch()
    # Jonna works for Tore, who has no supervisor: only the coordinator hears.
    assert harness.fake.to(COORD)[-1] == "Har fortfarande pass kvar för maj 2026 efter 3 påminnelser:\n• Jonna Jansson"
    assert harness.fake.to(SUPERVISOR) == []

    clock.advance(hours=2, minutes=1)
    await _round(harness)  # 14:02: Anna, Gustav, Ivar and Fia reach 3
    await harness.dispatch()
    assert (await run_auto_rounds(harness.services)).escalated == 4
    assert (await run_auto_rounds(harness.services)).escalated == 0  # once per month per assistant
    await harness.dispatch()
    head = "Har fortfarande pass kvar för maj 2026 efter 3 påminnelser:"
    assert harness.fake.to(COORD)[-1] == f"{head}\n• Anna Andersson\n• Fia Fors\n• Gustav Grön\n• Ivar Isaksson"
    # Lisa supervises Rolf: Anna, Fia and Gustav work for him; Ivar does not.
    assert harness.fake.to(SUPERVISOR) == [f"{head}\n• Anna Andersson\n• Fia Fors\n• Gustav Grön"]
    assert [b for b in harness.fake.to(COORD) if b.startswith(head)] == [
        f"{head}\n• Jonna Jansson", f"{head}\n• Anna Andersson\n• Fia Fors\n• Gustav Grön\n• Ivar Isaksson"]
    assert await harness.scalar("SELECT count(*) FROM escalations") == 5
    assert harness.fake.to(FIA).count(reminder()) == 2


async def test_escalate_after_is_the_organisations_setting(harness, clock):
    await load(harness, may_org(escalate_after=1, locale="en"))
    await harness.sms(COORD, "REMIND ALL may")
    await harness.dispatch()
    assert (await run_auto_rounds(harness.services)).escalated == 5  # imported history counts: Fia too
    await harness.dispatch()
    assert harness.fake.to(COORD)[-1] == ("Still have shifts left for May 2026 after 1 reminders:\n"
                                          "• Anna Andersson\n• Fia Fors\n• Gustav Grön\n• Ivar Isaksson\n"
                                          "• Jonna Jansson")
