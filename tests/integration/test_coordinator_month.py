"""The coordinator's month in every language, STATUS narrowed, and what a coordinator trying it cold hit.

Real SMS webhooks, a real database (SQLite and PostgreSQL) and the fake Twilio, as in test_sms_reminders.
"""
from __future__ import annotations

from datetime import datetime, timezone

from core.phones import to_e164
from tests.builders import COORD, SUPERVISOR, load, may_org, set_team_chat, shift, team_messages

DORTE = "+4520123456"  # a Danish mobile, written nationally as 20 12 34 56


def written_internationally(doc: dict) -> dict:
    """may_org's Swedish staff write their numbers nationally; in a Danish or Norwegian organisation national
    numbers are read as that country's, so these Swedish ones must be written in E.164."""
    for person in doc["staff"]:
        if person.get("mobile"):
            person["mobile"] = to_e164(person["mobile"], "SE")
    return doc


def danish_org() -> dict:
    doc = written_internationally(may_org(locale="da", timezone="Europe/Copenhagen"))
    doc["staff"].append({"id": "d1", "name": "Dorte Dansk", "mobile": DORTE})
    doc["shifts"].append(shift("sd1", "d1", "r3", "2026-05-14T08:00:00+02:00"))
    return doc


DA_REMINDER = ("Hej! Dette er en påmindelse om, at du har vagter tilbage at registrere/signere i Coordinare "
               "for maj 2026 https://app.coordinare.se")
EN_REMINDER = ("Hi! This is a reminder that you have shifts left to register/sign in Coordinare for May 2026 "
               "https://app.coordinare.se")
DA_HELD = ("1 har slået påmindelser fra, 1 arbejder kun hos borgere med påmindelser slået fra, 1 mangler "
           "mobilnummer, 1 fik en påmindelse inden for de sidste 2 timer")
EN_HELD = ("1 with reminders turned off, 1 working only for clients with reminders turned off, 1 without a mobile "
           "number, 1 reminded in the last 2 hours")


async def test_a_danish_organisation_does_a_round_by_sms(harness):
    await load(harness, danish_org())
    await set_team_chat(harness)
    assert await harness.sms(COORD, "PÅMIND ALLE maj") == [
        f"5 påmindelser for maj 2026 sendt (5 SMS-dele).\nIkke sendt: {DA_HELD}.\n1 har allerede registreret alt."]
    assert (await team_messages(harness)) == [
        f"Karin Koordinator sendte påmindelser for maj 2026: 5 sendt. Ikke sendt: {DA_HELD}."]
    await harness.dispatch()
    assert {m.body for m in harness.fake.messages} == {DA_REMINDER}
    assert harness.fake.to(DORTE) == [DA_REMINDER]

    assert await harness.sms(COORD, "STATUS maj KLAR") == [
        "Status maj 2026: 0 klar, 6 påmindet for nylig, 2 slået fra, 1 mangler mobil, 1 færdige.\n"
        "Ingen er klar til en påmindelse."]
    # A national Danish number is read as Danish in a Danish organisation, and shown the Danish way.
    assert await harness.sms(COORD, "PÅMIND 20 12 34 56 maj") == [
        "Påmindelse for maj 2026 sendt til Dorte Dansk (20 12 34 56)."]
    await harness.dispatch()  # reminded means the provider took it
    assert await harness.sms(COORD, "påmind alle maj borger tore") == [
        "0 påmindelser for maj 2026 (borger Tore Tredje) sendt: alle 3 med vagter tilbage fik en påmindelse "
        "inden for de sidste 2 timer."]
    assert await harness.sms(COORD, "PÅMIND Cecilia maj") == [
        "Ingen påmindelse for maj 2026 sendt: Cecilia Carlsson har intet mobilnummer."]
    assert (await harness.sms(COORD, "HJÆLP"))[0].startswith("Kommandoer: PÅMIND ALLE maj | PÅMIND ALLE maj BORGER")
    assert await harness.sms(COORD, "pamnd alle") == [
        "Det forstod jeg ikke. Mente du PÅMIND ALLE maj? Skriv HJÆLP for at se alle kommandoer."]
    assert await harness.sms(DORTE, "PÅMIND ALLE maj") == [
        "Den kommando kan kun koordinatorer og arbejdsledere bruge. Du kan svare OK, STOP, START eller HJÆLP."]
    assert await harness.sms(DORTE, "ok") == ["Tak! Vi har noteret, at du har set påmindelsen for maj 2026."]
    assert (await team_messages(harness))[-1] == "Har bekræftet påmindelsen:\n✓ Dorte Dansk (maj 2026)"
    await harness.dispatch()
    assert harness.fake.to(DORTE) == [DA_REMINDER, DA_REMINDER]


async def test_an_english_organisation_does_a_round_by_sms(harness):
    # English names no country: national numbers are read in the default time zone's (Sweden).
    await load(harness, may_org(locale="en"))
    await set_team_chat(harness)
    assert await harness.sms(COORD, "REMIND ALL may") == [
        f"4 reminders for May 2026 sent (SMS parts: 4).\nNot sent: {EN_HELD}.\nAlready reported everything: 1."]
    assert (await team_messages(harness)) == [
        f"Karin Koordinator sent reminders for May 2026: 4 sent. Not sent: {EN_HELD}."]
    await harness.dispatch()
    assert {m.body for m in harness.fake.messages} == {EN_REMINDER} and len(harness.fake.messages) == 4
    assert await harness.sms(COORD, "STATUS may ALL CLIENT rolf") == [
        "Status May 2026 (client Rolf Brukare): 0 ready, 3 recently reminded, 1 off, 1 without mobile, 1 done.\n"
        "Everyone with shifts (6):\n"
        "Anna Andersson: 1 to register, 1 to sign\nBo Berg: done\nCecilia Carlsson: 1 to register, 1 to sign\n"
        "David Dahl: 1 to register, 1 to sign\nFia Fors: 1 to register, 1 to sign\nGustav Grön: 1 to sign"]
    assert await harness.sms(COORD, "REMIND 070-123 45 68 may") == [
        "No reminder sent: Bo Berg has nothing left to report for May 2026."]
    assert await harness.sms(COORD, "REMIND Eva may") == [
        "No reminder for May 2026 sent: Eva Ek only has shifts left at clients with reminders turned off."]
    assert await harness.sms(COORD, "STATUS may BLAH") == [
        "Unknown filter 'blah'. Write STATUS may READY, OFF, NO MOBILE or ALL."]
    assert await harness.sms(COORD, "REMIND ALL july 2026") == [
        "July 2026 has not started yet. Choose a month that has begun, e.g. May 2026."]
    assert (await harness.sms(COORD, "HELP"))[0].startswith("Commands: REMIND ALL may | REMIND ALL may CLIENT")


async def test_a_norwegian_organisation_is_answered_in_norwegian(harness):
    await load(harness, written_internationally(may_org(locale="nb", timezone="Europe/Oslo")))
    reply = (await harness.sms(COORD, "PÅMINN ALLE mai"))[0]
    assert reply.startswith("4 påminnelser for mai 2026 sendt (4 SMS-deler).\nIkke sendt: 1 har slått av "
                            "påminnelser,")
    await harness.dispatch()  # reminded means the provider took it
    assert await harness.sms(COORD, "STATUS mai AVSLÅTT") == [
        "Status mai 2026: 0 klare, 5 nylig påminnet, 2 slått av, 1 mangler mobil, 1 ferdige.\n"
        "Med påminnelser slått av (2):\nDavid Dahl, Eva Ek"]
    assert await harness.sms(COORD, "PÅMINN ALLE mai ARBEIDSLEDER Lisa BRUKER Tore") == [
        "Lisa Ledare er ikke arbeidsleder for Tore Tredje."]


# ---------------------------------------------------------------- STATUS narrowed

ROLF_HEAD = "2 redo, 1 nyss påminda, 1 avstängda, 1 saknar mobil, 1 klara."


async def test_status_narrows_by_care_recipient_supervisor_or_both(harness):
    await load(harness, may_org())
    assert await harness.sms(COORD, "STATUS maj BRUKARE Rolf") == [
        f"Status maj 2026 (brukare Rolf Brukare): {ROLF_HEAD}\nRedo för påminnelse (2):\nAnna Andersson, Gustav Grön"]
    assert await harness.sms(COORD, "STATUS maj ARBETSLEDARE Lisa Ledare") == [
        f"Status maj 2026 (arbetsledare Lisa Ledare): {ROLF_HEAD}\nRedo för påminnelse (2):\n"
        "Anna Andersson, Gustav Grön"]
    assert await harness.sms(COORD, "STATUS maj BRUKARE Rolf AVSTÄNGDA") == [
        f"Status maj 2026 (brukare Rolf Brukare): {ROLF_HEAD}\nMed påminnelser avstängda (1):\nDavid Dahl"]
    # Both together; ALLA lists the finished too, each with what is left at that care recipient's.
    assert await harness.sms(COORD, "STATUS maj ALLA BRUKARE Rolf ARBETSLEDARE Lisa") == [
        f"Status maj 2026 (brukare Rolf Brukare, arbetsledare Lisa Ledare): {ROLF_HEAD}\nAlla med pass (6):\n"
        "Anna Andersson: 1 att registrera, 1 att signera\nBo Berg: klar\n"
        "Cecilia Carlsson: 1 att registrera, 1 att signera\nDavid Dahl: 1 att registrera, 1 att signera\n"
        "Fia Fors: 1 att registrera, 1 att signera\nGustav Grön: 1 att signera"]
    assert await harness.sms(COORD, "STATUS maj BRUKARE Tore ARBETSLEDARE Lisa") == [
        "Lisa Ledare är inte arbetsledare för Tore Tredje."]
    assert await harness.sms(COORD, "STATUS maj ARBETSLEDARE Zorro") == [
        "Hittar ingen arbetsledare som heter 'Zorro'."]
    # A supervisor sees only their own care recipients, narrowed or not.
    assert await harness.sms(SUPERVISOR, "STATUS maj BRUKARE Tore") == [
        "Hittar ingen brukare som heter 'Tore' bland dina brukare."]
    assert (await harness.sms(SUPERVISOR, "STATUS maj ALLA"))[0].startswith(
        f"Status maj 2026: {ROLF_HEAD}\nAlla med pass (6):\n")
    assert await harness.sms(COORD, "STATUS april ALLA") == [
        "Status april 2026: 0 redo, 0 nyss påminda, 0 avstängda, 0 saknar mobil, 0 klara.\n"
        "Ingen har pass den månaden."]


# ---------------------------------------------------------------- papercuts


async def test_a_round_that_reaches_nobody_says_why_and_stays_out_of_the_team_chat(harness):
    doc = may_org()
    doc["shifts"].append(shift("sa", "a2", "r1", "2026-04-04T08:00:00+02:00", reported=True, signed=True))
    await load(harness, doc)
    await set_team_chat(harness)
    assert await harness.sms(COORD, "PÅMINN ALLA april") == [
        "0 påminnelser för april 2026 skickade: alla med pass den månaden har redan rapporterat allt."]
    assert await harness.sms(COORD, "PÅMINN ALLA mars") == [
        "0 påminnelser för mars 2026 skickade: ingen har pass den månaden."]
    assert await harness.sms(COORD, "PÅMINN ALLA maj BRUKARE Stina") == [
        "0 påminnelser för maj 2026 (brukare Stina Stängd) skickade: alla 2 med pass kvar arbetar hos brukare "
        "med påminnelser avstängda."]
    assert await team_messages(harness) == []
    first = await harness.sms(COORD, "PÅMINN ALLA maj")
    assert first[0].startswith("4 påminnelser för maj 2026 skickade")
    await harness.dispatch()  # reminded means the provider took it
    harness.clock.advance(minutes=10)
    assert await harness.sms(COORD, "PÅMINN ALLA maj BRUKARE Tore") == [
        "0 påminnelser för maj 2026 (brukare Tore Tredje) skickade: alla 2 med pass kvar fick påminnelse de "
        "senaste 2 timmarna."]
    assert await harness.sms(COORD, "PÅMINN ALLA maj ARBETSLEDARE Lisa") == [
        "0 påminnelser för maj 2026 (arbetsledare Lisa Ledare) skickade: ingen med pass kvar kunde påminnas.\n"
        "Inte skickade: 1 har påminnelser avstängda, 1 saknar mobilnummer, 3 fick påminnelse de senaste 2 timmarna.\n"
        "1 har redan rapporterat allt."]
    # Only the round that sent something reached the team chat, and only it is recorded.
    team = await team_messages(harness)
    assert len(team) == 1 and team[0].startswith("Karin Koordinator skickade påminnelser för maj 2026: 4 skickade.")
    assert await harness.scalar("SELECT count(*) FROM reminder_rounds") == 1


async def test_in_november_a_typo_suggests_the_persons_month_and_december_says_its_year(harness):
    await load(harness, may_org())
    harness.clock.now = datetime(2026, 11, 10, 9, 0, tzinfo=timezone.utc)
    assert await harness.sms(COORD, "pminn alla") == [
        "Jag förstod inte det. Menade du PÅMINN ALLA oktober? Skriv HJÄLP för alla kommandon."]
    assert await harness.sms(COORD, "pminn alla mars") == [
        "Jag förstod inte det. Menade du PÅMINN ALLA mars? Skriv HJÄLP för alla kommandon."]
    assert await harness.sms(COORD, "stauts maj") == [
        "Jag förstod inte det. Menade du STATUS maj? Skriv HJÄLP för alla kommandon."]
    assert await harness.sms(COORD, "PÅMINN ALLA december") == [
        "0 påminnelser för december 2025 skickade: ingen har pass den månaden.\n"
        "Du skrev december utan år, så jag tog december 2025."]
    assert (await harness.sms(COORD, "STATUS december"))[0].endswith(
        "\nDu skrev december utan år, så jag tog december 2025.")
    # A month of this year needs no note.
    reply = (await harness.sms(COORD, "PÅMINN ALLA maj"))[0]
    assert reply.startswith("5 påminnelser för maj 2026 skickade") and "utan år" not in reply


async def test_names_are_echoed_as_written_and_single_reasons_read_naturally(harness):
    doc = may_org()
    doc["staff"].append({"id": "a11", "name": "Anna Berg", "mobile": "+46701234599"})
    await load(harness, doc)
    assert await harness.sms(COORD, "PÅMINN Anna maj") == [
        "Flera matchar 'Anna': Anna Andersson (070-123 45 67); Anna Berg (070-123 45 99). "
        "Skriv hela namnet eller mobilnumret."]
    assert await harness.sms(COORD, "påminn alla maj brukare Åke Ödmark") == [
        "Hittar ingen brukare som heter 'Åke Ödmark' bland dina brukare."]
    assert await harness.sms(COORD, "PÅMINN Cecilia maj") == [
        "Ingen påminnelse för maj 2026 skickad: Cecilia Carlsson har inget mobilnummer."]
    assert await harness.sms(COORD, "PÅMINN Eva maj") == [
        "Ingen påminnelse för maj 2026 skickad: Eva Ek har bara pass kvar hos brukare med påminnelser avstängda."]
    await harness.dispatch()
    assert harness.fake.messages == []


# ---------------------------------------------------------------- Telegram, in the organisation's language

from tests.integration.test_telegram import (  # noqa: E402  (the Telegram harness and its helpers)
    KARIN_TG,
    callback_update,
    fake_telegram,
    link,
    post,
    say,
    tg,
)

__all__ = ["fake_telegram", "tg"]  # fixtures used by the test below


async def test_telegram_status_buttons_follow_the_organisations_language(tg):
    await load(tg, may_org(locale="en"))
    await link(tg, KARIN_TG, "+46701112233")
    await say(tg, KARIN_TG, "/status")
    status = tg.tg.sent(KARIN_TG)[-1]
    assert status.params["text"].startswith("No month given, so I took last month (May 2026).\n"
                                            "Status May 2026: 4 ready")
    labels = [b["text"] for row in status.params["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == ["Ready", "Off", "No mobile", "All", "Send reminder to all"]
    message_id = 100 + len([c for c in tg.tg.calls if c.method == "sendMessage"]) - 1
    await post(tg, callback_update(next(tg.ids), KARIN_TG, "rm:2026-05", message_id))
    await tg.dispatch()
    assert tg.tg.calls[-1].params["text"] == "Send a reminder to everyone ready for May 2026?"
    await say(tg, KARIN_TG, "/remind all may")
    assert tg.tg.sent(KARIN_TG)[-1].params["text"].startswith("4 reminders for May 2026 sent")
