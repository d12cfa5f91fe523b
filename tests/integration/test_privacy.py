"""A person's data: `paminn person export` shows all of it, `paminn person erase` leaves none of it
(a scan of every text column of every table), and old message bodies are blanked after the retention
period. The commands run as the installed CLI against the same database the real app wrote."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import JSON, String, Text, cast, select

from bot.app import queue_customer_reminders
from core.models import Base
from handlers.privacy import PersonError, apply_retention
from tests.builders import ANNA, COORD, GUSTAV, load, may_org, set_team_chat, team_messages
from tests.conftest import start_harness
from tests.fakes.telegram import TOKEN, FakeTelegram

SECRET = "tg-secret-for-privacy"
ANNA_TG = 5002
ANNA_TEXT = "Jag har glömt mitt lösenord till appen"
ANNA_TG_TEXT = "Hej från Telegram, jag är hemma med feber"
SARA_MOBILE = "+46709876543"
SARA_TEXT = "Vi vill flytta uppföljningen till tisdag"


def document() -> dict:
    doc = may_org()
    anna = doc["staff"][2]
    anna.update(email="anna.andersson@example.se", personal_number="19900101-1234", sd_number="SD77123",
                mobile="070-123 45 67")
    doc["customers"] = [{"id": "k1", "name": "Solbackens vårdcentral", "area": "Norr", "contacts": [
        {"name": "Sara Svensson", "email": "sara@solbacken.se", "mobile": "070-987 65 43"},
        {"name": "Per Persson", "email": "per@solbacken.se", "mobile": "070-987 65 44"}]}]
    doc["customer_reminders"] = [
        {"id": "cr1", "customer": "k1", "type": "Avtalsuppföljning", "title": "Avtalet löper ut",
         "text": "Hej {{ mottagare }}! {{ rubrik }} för {{ kund }} den {{ datum }}.", "due": "2026-06-16",
         "days_before": 14, "delivery": "sms", "recipients": ["contacts"]}]
    doc["visits"] = [{"id": "v1", "staff": "a1", "customer": "k1", "start": "2026-05-03T08:00:00+02:00",
                      "end": "2026-05-03T10:00:00+02:00", "confirmed": True}]
    return doc


@pytest.fixture
async def h(db_url, fake_twilio, clock):
    tg = await FakeTelegram().start()
    harness = await start_harness(db_url, fake_twilio, clock, TELEGRAM_BOT_TOKEN=TOKEN,
                                  TELEGRAM_WEBHOOK_SECRET=SECRET, TELEGRAM_API_BASE=tg.api_base,
                                  PAMINN_TEAM_ACK_WINDOW="0")
    harness.tg = tg
    harness.db_url = db_url
    yield harness
    await harness.client.close()
    await tg.close()


async def telegram(h, update_id: int, text: str = "", **extra) -> None:
    msg = {"message_id": update_id + 1000, "date": 1780000000, "text": text,
           "from": {"id": ANNA_TG, "is_bot": False, "first_name": "Anna"},
           "chat": {"id": ANNA_TG, "type": "private"}, **extra}
    response = await h.client.post("/webhooks/telegram", data=json.dumps({"update_id": update_id, "message": msg}),
                                   headers={"X-Telegram-Bot-Api-Secret-Token": SECRET,
                                            "Content-Type": "application/json"})
    assert response.status == 200
    await h.dispatch()


async def a_month_of_use(h) -> None:
    """Anna is reminded, answers, writes; Karin names her; Sara (a customer's contact) is reminded and answers."""
    await load(h, document())
    await set_team_chat(h)
    assert (await h.sms(COORD, "PÅMINN ALLA maj"))[0].startswith("4 påminnelser")
    await h.dispatch()
    assert (await h.sms(ANNA, "OK"))[0].startswith("Tack!")
    await h.sms(ANNA, ANNA_TEXT)
    h.clock.advance(hours=3)
    assert "Anna Andersson" in (await h.sms(COORD, "PÅMINN Anna Andersson maj"))[0]
    assert "Anna Andersson" in (await h.sms(COORD, "STATUS maj ALLA"))[0]
    await telegram(h, 1, contact={"phone_number": ANNA, "first_name": "Anna", "user_id": ANNA_TG})
    await telegram(h, 2, ANNA_TG_TEXT)
    assert (await queue_customer_reminders(h.services)).messages == 2  # Sara and Per, by SMS
    await h.sms(SARA_MOBILE, SARA_TEXT)
    await h.dispatch()
    team = "\n".join(await team_messages(h))
    assert ANNA_TEXT in team and ANNA_TG_TEXT in team and SARA_TEXT in team  # passed on to the team chat


def paminn(h, *args: str) -> subprocess.CompletedProcess:
    """The installed command, against the app's database, as an operator runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAMINN_", "TWILIO_", "TELEGRAM_"))}
    env["PAMINN_DATABASE_URL"] = h.db_url
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], env=env, capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)


async def every_text(h) -> str:
    """Every text and JSON column of every table, as one lower-case string."""
    parts = []
    async with h.services.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, (String, Text, JSON))]
            if not columns:
                continue
            for row in await conn.execute(select(*[cast(c, Text) for c in columns])):
                parts.extend(str(v) for v in row if v)
    return "\n".join(parts).lower()


def leaks(text: str, needles: list[str]) -> list[str]:
    forms = {f.lower() for n in needles for f in (n, json.dumps(n)[1:-1])}
    return sorted(f for f in forms if f in text)


ANNA_NEEDLES = ["Anna Andersson", ANNA, ANNA[1:], "070-123 45 67", "0701234567", "19900101-1234", "SD77123",
                "anna.andersson@example.se", ANNA_TEXT, ANNA_TG_TEXT, str(ANNA_TG)]
SARA_NEEDLES = ["Sara Svensson", SARA_MOBILE, "070-987 65 43", "0709876543", "sara@solbacken.se", SARA_TEXT]


async def test_export_lists_everything_held_on_a_staff_member(h):
    await a_month_of_use(h)
    result = paminn(h, "person", "export", "--org", "org1", "--id", "a1")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["kind"] == "staff" and data["organisation"] == "org1"
    profile = data["profile"]
    assert (profile["name"], profile["mobile"], profile["personal_number"], profile["email"], profile["sd_number"],
            profile["telegram_user_id"]) == ("Anna Andersson", ANNA, "19900101-1234", "anna.andersson@example.se",
                                             "SD77123", ANNA_TG)
    assert [s["external_id"] for s in data["shifts"]] == ["s1"] and data["shifts"][0]["care_recipient"] == "r1"
    assert [v["external_id"] for v in data["visits"]] == ["v1"]
    assert [h_["month"] for h_ in data["reminder_history"]] == ["2026-05", "2026-05"]
    assert len(data["acknowledgements"]) == 1 and data["acknowledgements"][0]["acknowledged_at"]
    bodies_to = [m["body"] for m in data["outbox"]]
    assert sum("påminnelse om att du har pass kvar" in b for b in bodies_to) == 2
    texts_from = {m["body"]: m["reply"] for m in data["inbound"]}
    assert set(texts_from) >= {"OK", ANNA_TEXT, ANNA_TG_TEXT}
    assert texts_from["OK"].startswith("Tack!")
    # The export is for the person; it is printed, never logged.
    assert "19900101-1234" not in result.stderr and "Anna" not in result.stderr


async def test_export_of_a_care_recipient_and_of_a_contact(h):
    await a_month_of_use(h)
    recipient = json.loads(paminn(h, "person", "export", "--org", "org1", "--id", "r1").stdout)
    assert recipient["profile"]["name"] == "Rolf Brukare" and recipient["supervisors"] == ["l1"]
    assert {s["staff"] for s in recipient["shifts"]} >= {"a1", "a2"}
    contact = json.loads(paminn(h, "person", "export", "--org", "org1", "--contact", "070-987 65 43").stdout)
    assert contact["profile"]["email"] == "sara@solbacken.se"
    assert [c["customer"] for c in contact["customers"]] == ["k1"]
    assert [m["body"] for m in contact["inbound"]] == [SARA_TEXT]
    assert len(contact["outbox"]) == 1 and contact["outbox"][0]["body"].startswith("Hej Sara Svensson!")


async def test_unknown_organisation_or_person_is_a_clear_error(h):
    await load(h, document())
    result = paminn(h, "person", "export", "--org", "nope", "--id", "a1")
    assert result.returncode == 2 and "there is no organisation 'nope'" in result.stderr
    result = paminn(h, "person", "erase", "--org", "org1", "--id", "zz", "--yes")
    assert result.returncode == 2 and "'org1' has no staff member or care recipient with id 'zz'" in result.stderr
    result = paminn(h, "person", "export", "--org", "org1", "--contact", "070-000 00 01")
    assert result.returncode == 2 and "no customer of 'org1' lists a contact" in result.stderr
    result = paminn(h, "person", "erase", "--org", "org1", "--id", "a1")  # no --yes, no terminal to ask on
    assert result.returncode == 1 and "pass --yes" in result.stderr
    assert await h.scalar("SELECT count(*) FROM staff WHERE external_id = 'a1'") == 1


async def test_erase_leaves_nothing_of_the_person_but_keeps_the_counts(h):
    await a_month_of_use(h)
    assert leaks(await every_text(h), ANNA_NEEDLES)  # the scan finds her before
    rounds = await h.rows("SELECT id, sent, segments FROM reminder_rounds ORDER BY id")
    outbox_rows = await h.scalar("SELECT count(*) FROM outbox")
    inbound_rows = await h.scalar("SELECT count(*) FROM inbound")
    gustav_reminders = await h.scalar("SELECT count(*) FROM outbox WHERE address = :a AND body LIKE 'Hej!%'",
                                      a=GUSTAV)

    result = paminn(h, "person", "erase", "--org", "org1", "--id", "a1", "--yes")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("erased:")

    assert leaks(await every_text(h), ANNA_NEEDLES) == []
    assert await h.rows("SELECT id, sent, segments FROM reminder_rounds ORDER BY id") == rounds
    assert await h.scalar("SELECT count(*) FROM outbox") == outbox_rows  # anonymous rows, statuses kept
    assert await h.scalar("SELECT count(*) FROM inbound") == inbound_rows
    assert await h.scalar("SELECT count(*) FROM staff WHERE external_id = 'a1'") == 0
    # Everyone else's data is as it was.
    assert await h.scalar("SELECT count(*) FROM outbox WHERE address = :a AND body LIKE 'Hej!%'",
                          a=GUSTAV) == gustav_reminders
    assert "karin koordinator" in await every_text(h)
    again = paminn(h, "person", "export", "--org", "org1", "--id", "a1")
    assert again.returncode == 2


async def test_erase_a_customer_contact_and_a_care_recipient(h):
    await a_month_of_use(h)
    assert leaks(await every_text(h), SARA_NEEDLES)
    result = paminn(h, "person", "erase", "--org", "org1", "--contact", "sara@solbacken.se", "--yes")
    assert result.returncode == 0, result.stderr
    assert leaks(await every_text(h), SARA_NEEDLES) == []
    assert "per persson" in await every_text(h)  # the other contact stays
    assert await h.scalar("SELECT count(*) FROM customers") == 1

    result = paminn(h, "person", "erase", "--org", "org1", "--id", "r1", "--yes")
    assert result.returncode == 0, result.stderr
    assert leaks(await every_text(h), ["Rolf Brukare"]) == []
    assert await h.scalar("SELECT count(*) FROM shifts") == 11  # the assistants' shifts at the place stay


async def test_retention_blanks_old_bodies_and_keeps_counts(h):
    await a_month_of_use(h)
    await h.sms(COORD, "PÅMINN Gustav maj")  # queued, not yet sent: a pending row keeps its body
    statuses = await h.rows("SELECT status, count(*) FROM outbox GROUP BY status ORDER BY status")
    start = h.clock()

    async def run(days_later: int, org_id: str | None = None) -> dict:
        async with h.services.sessions.begin() as session:
            return await apply_retention(session, start + timedelta(days=days_later), 90, org_id)

    assert await run(89) == {"outbox": 0, "inbound": 0, "events": 0}
    with pytest.raises(PersonError, match="no organisation 'nope'"):
        await run(91, "nope")
    counts = await run(91)
    assert counts["outbox"] > 0 and counts["inbound"] > 0
    assert await h.scalar("SELECT count(*) FROM outbox WHERE body <> '' AND status <> 'pending'") == 0
    assert await h.scalar("SELECT count(*) FROM outbox WHERE body <> '' AND status = 'pending'") == 1
    assert await h.scalar("SELECT count(*) FROM inbound WHERE body <> '' OR reply IS NOT NULL") == 0
    assert await h.rows("SELECT status, count(*) FROM outbox GROUP BY status ORDER BY status") == statuses
    assert await run(92) == {"outbox": 0, "inbound": 0, "events": 0}  # nothing twice
    text = await every_text(h)
    assert ANNA_TEXT.lower() not in text and SARA_TEXT.lower() not in text


async def test_retention_command_uses_the_setting(h):
    await a_month_of_use(h)
    # The test clock stands in June 2026; the command runs on today's date, months later.
    result = paminn(h, "retention", "run", "--org", "org1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("bodies older than 90 days blanked: outbox ")
    assert await h.scalar("SELECT count(*) FROM inbound WHERE org_id = 'org1' AND body <> ''") == 0
    bad = subprocess.run([sys.executable, "-m", "bot.cli", "retention", "run"], capture_output=True, text=True,
                         env={**os.environ, "PAMINN_DATABASE_URL": h.db_url, "PAMINN_RETENTION_DAYS": "0"})
    assert bad.returncode == 2 and "PAMINN_RETENTION_DAYS='0' must be a whole number of days" in bad.stderr


async def test_serve_runs_retention_daily(db_url, clock):
    from aiohttp.test_utils import TestClient, TestServer

    from bot.app import SCHEDULER, create_app
    from tests.conftest import make_settings

    app = create_app(make_settings(db_url, None, PAMINN_RETENTION_DAYS="30"), clock=clock)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        job = app[SCHEDULER].get_job("retention")
        assert job.trigger.interval == timedelta(hours=24)
        assert job.next_run_time is not None  # soon after start, not a day later
    finally:
        await client.close()


async def test_a_personal_number_sent_by_sms_is_neither_said_back_nor_passed_to_the_team(harness):
    """What people type is echoed in replies and relayed to the team chat; a personal number in it is masked on
    the way out, whichever channel carries it (here the SMS reply in TwiML and the team chat's outbox row)."""
    await load(harness, may_org())
    await set_team_chat(harness)
    (reply,) = await harness.sms(COORD, "PÅMINN 19900101-1234 maj")
    assert reply == "Hittar ingen som heter eller har numret '19900101-****' bland dina assistenter."
    await harness.sms(ANNA, "Mitt personnummer 900101-1234 stämmer inte i appen")
    assert await team_messages(harness) == [
        "Meddelande från Anna Andersson: Mitt personnummer 900101-**** stämmer inte i appen"]
