"""PÅMINN ALLA and friends over real SMS webhooks, a real database and the fake Twilio."""
from __future__ import annotations

from tests.builders import (
    ANNA,
    BO,
    COORD,
    DAVID,
    FIA,
    GUSTAV,
    IVAR,
    JONNA,
    MAY_ROUND_REPLY,
    SUPERVISOR,
    load,
    may_org,
    reminder,
    set_team_chat,
    team_messages,
)


async def test_remind_all_reaches_exactly_the_due_assistants(harness):
    await load(harness, may_org())
    replies = await harness.sms(COORD, "PÅMINN ALLA maj")
    assert replies == [MAY_ROUND_REPLY]
    assert harness.fake.messages == []  # nothing leaves before the dispatcher runs
    stats = await harness.dispatch()
    assert stats.sent == 4
    received = {m.to: m.body for m in harness.fake.messages}
    assert received == {n: reminder() for n in (ANNA, GUSTAV, IVAR, JONNA)}
    for m in harness.fake.messages:
        assert m.from_ == "+46766860000"
        assert m.status_callback.startswith(harness.base + "/webhooks/twilio/status?m=")


async def test_spellings_of_the_command_all_work(harness):
    await load(harness, may_org())
    for text in ["PAMINN alla Maj", "påminn   alla maj 2026", "påminn alla 5", "Påminn Alla MAJ"]:
        harness.clock.advance(hours=3)
        replies = await harness.sms(COORD, text)
        assert "för maj 2026 skickade" in replies[0], (text, replies)


async def test_two_hour_rule_between_rounds(harness):
    await load(harness, may_org())
    await harness.sms(COORD, "PÅMINN ALLA maj")
    await harness.dispatch()  # reminded means sent: the 2-hour rule counts reminders Twilio took
    harness.clock.advance(minutes=90)
    again = await harness.sms(COORD, "PÅMINN ALLA maj")
    # Only Fia, whose imported reminder is now 2.5 hours old; the four from the first round wait.
    assert again[0].startswith("1 påminnelse för maj 2026 skickade")
    assert "4 fick påminnelse de senaste 2 timmarna" in again[0]
    await harness.dispatch()
    harness.clock.advance(minutes=31)  # 2 h 1 min after the first round, 31 min after Fia's
    third = await harness.sms(COORD, "PÅMINN ALLA maj")
    assert third[0].startswith("4 påminnelser") and "1 fick påminnelse de senaste 2 timmarna" in third[0]
    await harness.dispatch()
    assert len(harness.fake.to(ANNA)) == 2 and len(harness.fake.to(FIA)) == 1


async def test_month_without_year_and_without_month(harness):
    await load(harness, may_org())
    replies = await harness.sms(COORD, "PÅMINN ALLA")
    assert replies[0].startswith("Ingen månad angiven, så jag tog förra månaden (maj 2026).")
    harness.clock.advance(hours=3)
    replies = await harness.sms(COORD, "påminn alla förra månaden")
    assert "maj 2026" in replies[0]
    replies = await harness.sms(COORD, "påminn alla december")  # December 2025: the latest not in the future
    assert replies[0].startswith("0 påminnelser för december 2025")
    replies = await harness.sms(COORD, "påminn alla juli 2026")
    assert replies == ["juli 2026 har inte börjat än. Välj en månad som har varit, t.ex. maj 2026."]


async def test_remind_one_by_name_and_mobile_ignores_two_hour_rule(harness):
    await load(harness, may_org())
    assert await harness.sms(COORD, "PÅMINN Fia maj") == [
        "Påminnelse för maj 2026 skickad till Fia Fors (070-123 45 72)."]
    assert await harness.sms(COORD, "påminn 070-123 45 67 maj") == [
        "Påminnelse för maj 2026 skickad till Anna Andersson (070-123 45 67)."]
    assert await harness.sms(COORD, "PÅMINN David Dahl maj") == [
        "Ingen påminnelse skickad: David Dahl har påminnelser avstängda för maj 2026."]
    assert await harness.sms(COORD, "PÅMINN Bo maj") == [
        "Ingen påminnelse skickad: Bo Berg har inget kvar att rapportera för maj 2026."]
    assert await harness.sms(COORD, "PÅMINN Hanna maj") == ["Hanna Holm har inga pass i maj 2026."]
    assert await harness.sms(COORD, "PÅMINN Zlatan maj") == [
        "Hittar ingen som heter eller har numret 'Zlatan' bland dina assistenter."]
    await harness.dispatch()
    assert harness.fake.to(FIA) == [reminder()] and harness.fake.to(ANNA) == [reminder()]
    assert harness.fake.to(DAVID) == [] and harness.fake.to(BO) == []


async def test_name_matching_several_people_asks_which(harness):
    doc = may_org()
    doc["staff"].append({"id": "a11", "name": "Anna Berg", "mobile": "+46701234599"})
    await load(harness, doc)
    replies = await harness.sms(COORD, "PÅMINN anna maj")
    assert replies == ["Flera matchar 'anna': Anna Andersson (070-123 45 67); Anna Berg (070-123 45 99). "
                       "Skriv hela namnet eller mobilnumret."]
    await harness.dispatch()
    assert harness.fake.messages == []


async def test_supervisor_scope_and_narrowing(harness):
    await load(harness, may_org())
    # Lisa supervises Rolf only: Anna and Gustav (at Rolf's) are due; Ivar and Jonna are not hers.
    replies = await harness.sms(SUPERVISOR, "PÅMINN ALLA maj")
    assert replies[0].startswith("2 påminnelser för maj 2026 skickade")
    await harness.dispatch()
    assert sorted(m.to for m in harness.fake.messages) == sorted([ANNA, GUSTAV])
    harness.clock.advance(hours=3)
    replies = await harness.sms(COORD, "PÅMINN ALLA maj BRUKARE tore")
    assert replies[0].startswith("2 påminnelser för maj 2026 (brukare Tore Tredje) skickade")
    harness.clock.advance(hours=3)
    replies = await harness.sms(COORD, "PÅMINN ALLA maj ARBETSLEDARE Lisa Ledare")
    # Rolf's assistants again, Fia now too (her imported reminder is 7 hours old).
    assert replies[0].startswith("3 påminnelser för maj 2026 (arbetsledare Lisa Ledare) skickade")
    replies = await harness.sms(SUPERVISOR, "PÅMINN ALLA maj BRUKARE Tore")
    assert replies == ["Hittar ingen brukare som heter 'Tore' bland dina brukare."]


async def test_status_filters(harness):
    await load(harness, may_org())
    head = "Status maj 2026: 4 redo, 1 nyss påminda, 2 avstängda, 1 saknar mobil, 1 klara."
    assert await harness.sms(COORD, "STATUS maj") == [
        f"{head}\nRedo för påminnelse (4):\nAnna Andersson, Gustav Grön, Ivar Isaksson, Jonna Jansson"]
    assert await harness.sms(COORD, "status maj avstängda") == [
        f"{head}\nMed påminnelser avstängda (2):\nDavid Dahl, Eva Ek"]
    assert await harness.sms(COORD, "STATUS MAJ SAKNAR MOBIL") == [
        f"{head}\nUtan mobilnummer (1):\nCecilia Carlsson"]
    # ALLA lists everyone with a shift that month, finished people too, with what each has left.
    assert await harness.sms(COORD, "STATUS maj ALLA") == [
        f"{head}\nAlla med pass (9):\n"
        "Anna Andersson: 1 att registrera, 1 att signera\nBo Berg: klar\n"
        "Cecilia Carlsson: 1 att registrera, 1 att signera\nDavid Dahl: 1 att registrera, 1 att signera\n"
        "Eva Ek: 1 att registrera, 1 att signera\nFia Fors: 1 att registrera, 1 att signera\n"
        "Gustav Grön: 1 att registrera, 2 att signera\nIvar Isaksson: 1 att registrera, 1 att signera\n"
        "Jonna Jansson: 1 att signera"]
    assert await harness.sms(COORD, "STATUS maj konstiga") == [
        "Okänt filter 'konstiga'. Skriv STATUS maj REDO, AVSTÄNGDA, SAKNAR MOBIL eller ALLA."]


async def test_long_status_list_ends_with_and_n_more(harness):
    doc = may_org()
    for i in range(60):
        doc["staff"].append({"id": f"x{i}", "name": f"Assistent Nummer{i:02d} Långnamnsson",
                             "mobile": f"+4670300{i:04d}"})
        doc["shifts"].append({"id": f"xs{i}", "staff": f"x{i}", "care_recipient": "r1",
                              "start": "2026-05-20T08:00:00+02:00", "end": "2026-05-20T16:00:00+02:00"})
    await load(harness, doc)
    reply = (await harness.sms(COORD, "STATUS maj"))[0]
    from core.segments import count_segments

    assert count_segments(reply).segments <= 3
    shown = reply.split("\n")[2].split(" …och ")[0].split(", ")
    hidden = int(reply.rsplit(" …och ", 1)[1].split()[0])
    assert len(shown) + hidden == 64 and hidden > 0


async def test_assistant_replies_ok_stopp_start_help(harness):
    await load(harness, may_org())
    await set_team_chat(harness)
    await harness.sms(COORD, "PÅMINN ALLA maj")
    await harness.dispatch()  # reminded means sent: the 2-hour rule below counts reminders Twilio took
    assert await harness.sms(ANNA, "ok") == ["Tack! Vi har noterat att du sett påminnelsen för maj 2026."]
    acked = await harness.scalar("SELECT count(*) FROM reminder_history WHERE acknowledged_at IS NOT NULL")
    assert acked == 1
    assert await harness.sms(ANNA, "OK") == ["Tack! Du har ingen påminnelse att bekräfta just nu."]
    assert await harness.sms(GUSTAV, "Klart!") == ["Tack! Vi har noterat att du sett påminnelsen för maj 2026."]
    # Acknowledgements are gathered into one team message per window.
    team = await team_messages(harness)
    assert team[-1] == "Har bekräftat påminnelsen:\n✓ Anna Andersson (maj 2026)\n✓ Gustav Grön (maj 2026)"
    assert await harness.sms(IVAR, "STOPP") == ["Påminnelserna är avstängda. Svara START om du vill få dem igen."]
    harness.clock.advance(hours=3)
    replies = await harness.sms(COORD, "PÅMINN ALLA maj")
    assert replies[0].startswith("4 påminnelser") and "2 har påminnelser avstängda" in replies[0]
    await harness.dispatch()
    assert harness.fake.to(IVAR) == [reminder()]  # only the round before STOPP
    assert await harness.sms(IVAR, "start") == ["Påminnelserna är påslagna igen."]
    help_text = (await harness.sms(ANNA, "HJÄLP"))[0]
    assert "OK" in help_text and "STOPP" in help_text and "PÅMINN ALLA" not in help_text
    assert "PÅMINN ALLA maj" in (await harness.sms(COORD, "hjalp"))[0]


async def test_stopp_survives_reimport(harness):
    await load(harness, may_org())
    await harness.sms(ANNA, "STOPP")
    await load(harness, may_org())
    replies = await harness.sms(COORD, "PÅMINN ALLA maj")
    assert "2 har påminnelser avstängda" in replies[0]


async def test_assistant_cannot_use_coordinator_commands_and_strangers_learn_nothing(harness):
    await load(harness, may_org())
    assert await harness.sms(ANNA, "PÅMINN ALLA maj") == [
        "Det kommandot kan bara samordnare och arbetsledare använda. Du kan svara OK, STOPP, START eller HJÄLP."]
    stranger = "+46709999999"
    for text in ("PÅMINN ALLA maj", "STATUS maj", "hej vem är Anna?", "HJÄLP"):
        replies = await harness.sms(stranger, text)
        assert replies == ["Det här numret finns inte hos Påminn. Kontakta din arbetsgivare om du ska få "
                           "påminnelser hit."]
    await harness.dispatch()
    assert harness.fake.messages == []


async def test_unknown_command_gets_closest_suggestion(harness):
    await load(harness, may_org())
    assert await harness.sms(COORD, "stauts maj") == ["Jag förstod inte det. Menade du STATUS maj? "
                                                      "Skriv HJÄLP för alla kommandon."]
    assert await harness.sms(COORD, "PÅMINN ALLA maj BLAHA") == [
        "Jag förstod inte 'blaha'. Skriv t.ex. PÅMINN ALLA maj BRUKARE Rolf eller PÅMINN ALLA maj ARBETSLEDARE Lisa."]


async def test_free_text_from_assistant_goes_to_team_chat(harness):
    await load(harness, may_org())
    await set_team_chat(harness)
    replies = await harness.sms(ANNA, "Jag är sjuk idag, kan någon ta mitt pass?")
    assert replies == ["Tack, ditt meddelande har skickats vidare till din samordnare."]
    assert (await team_messages(harness))[-1] == (
        "Meddelande från Anna Andersson: Jag är sjuk idag, kan någon ta mitt pass?")


async def test_round_is_announced_in_team_chat(harness):
    await load(harness, may_org())
    await set_team_chat(harness)
    await harness.sms(COORD, "PÅMINN ALLA maj")
    assert await team_messages(harness) == [
        "Karin Koordinator skickade påminnelser för maj 2026: 4 skickade. Inte skickade: 1 har påminnelser "
        "avstängda, 1 arbetar hos brukare med påminnelser avstängda, 1 saknar mobilnummer, 1 fick påminnelse "
        "de senaste 2 timmarna."]


async def test_quiet_hours_hold_reminders_not_replies(harness):
    await load(harness, may_org())
    harness.clock.advance(hours=12)  # 22:00 Stockholm
    replies = await harness.sms(COORD, "PÅMINN ALLA maj")
    assert replies[0].endswith("Tysta timmar: SMS:en går ut kl 08:00.")  # the reply itself came at once
    await harness.dispatch()
    assert harness.fake.messages == []
    harness.clock.advance(hours=9, minutes=59)  # 07:59
    await harness.dispatch()
    assert harness.fake.messages == []
    harness.clock.advance(minutes=1)
    await harness.dispatch()
    assert len(harness.fake.messages) == 5  # the four, and Fia whose reminder is now 13 hours old


async def test_organisation_quiet_hours_off_and_other_locale(harness):
    await load(harness, may_org(quiet_hours="off", locale="nb", app_name="Appen", app_link="https://app.example.no"))
    harness.clock.advance(hours=13)  # 23:00
    await harness.sms(COORD, "PÅMINN ALLA maj")
    await harness.dispatch()
    assert harness.fake.to(ANNA) == ["Hei! Dette er en påminnelse om at du har vakter igjen å registrere/signere "
                                     "i Appen for mai 2026 https://app.example.no"]
    # The assistant's side of the conversation follows the organisation's language too.
    assert await harness.sms(ANNA, "ok") == ["Takk! Vi har notert at du har sett påminnelsen for mai 2026."]
    assert await harness.sms(ANNA, "ok") == ["Takk! Du har ingen påminnelse å bekrefte akkurat nå."]
    assert await harness.sms(ANNA, "STOPP") == ["Påminnelsene er slått av. Svar START hvis du vil få dem igjen."]
    assert await harness.sms(ANNA, "START") == ["Påminnelsene er slått på igjen."]
    assert (await harness.sms(ANNA, "hjelp"))[0].startswith("Svar OK når du har sett påminnelsen.")
    assert await harness.sms(ANNA, "stat") == ["Det forsto jeg ikke. Mente du START? Skriv HJELP for hjelp."]


async def test_danish_and_english_assistants_are_answered_in_their_language(harness):
    await load(harness, may_org(locale="da"))
    await harness.sms(COORD, "PÅMINN ALLA maj")  # the coordinator's reply stays Swedish
    assert await harness.sms(ANNA, "OK") == ["Tak! Vi har noteret, at du har set påmindelsen for maj 2026."]
    assert await harness.sms(ANNA, "STOP") == ["Påmindelserne er slået fra. Svar START, hvis du vil have dem igen."]
    assert (await harness.sms(ANNA, "HJÆLP"))[0].startswith("Svar OK, når du har set påmindelsen.")
    await load(harness, may_org(locale="en"))
    assert await harness.sms(GUSTAV, "ok") == ["Thanks! We have noted that you have seen the reminder for May 2026."]
    assert await harness.sms(GUSTAV, "okk") == ["I did not understand that. Did you mean OK? Write HELP for help."]


async def test_personal_numbers_never_in_replies_or_logs(harness, caplog):
    import logging

    caplog.set_level(logging.INFO)
    await load(harness, may_org())
    texts = []
    for body in ("STATUS maj ALLA", "PÅMINN ALLA maj", "PÅMINN Anna maj", "HJÄLP"):
        texts += await harness.sms(COORD, body)
    texts += await harness.sms(ANNA, "OK")
    await harness.dispatch()
    everything = "\n".join(texts) + caplog.text + "".join(m.body for m in harness.fake.messages)
    assert "19900101-1234" not in everything and "900101" not in everything
    assert reminder() not in caplog.text  # message bodies are not logged


async def test_large_round_reaches_everyone_once(harness):
    """600 due assistants: large enough for the bulk (COPY) path on PostgreSQL."""
    doc = may_org()
    numbers = []
    for i in range(600):
        numbers.append(f"+4670400{i:04d}")
        doc["staff"].append({"id": f"big{i}", "name": f"Stor Runda {i:03d}", "mobile": numbers[-1]})
        doc["shifts"].append({"id": f"bs{i}", "staff": f"big{i}", "care_recipient": "r3",
                              "start": "2026-05-15T08:00:00+02:00", "end": "2026-05-15T16:00:00+02:00"})
    await load(harness, doc)
    replies = await harness.sms(COORD, "PÅMINN ALLA maj")
    assert replies[0].startswith("604 påminnelser för maj 2026 skickade (604 SMS-delar).")
    history = await harness.rows("SELECT month, sent_at, idempotency_key FROM reminder_history "
                                 "WHERE idempotency_key IS NOT NULL")
    assert len(history) == 604 and {h[0] for h in history} == {"2026-05"}
    await harness.dispatch()
    for _ in range(5):  # on a busy machine a send can outlast the suite's send timeout: it is asked about, settled
        unsettled = await harness.scalar("SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending', "
                                         "'unknown')")
        if not unsettled:
            break
        harness.clock.advance(seconds=60)  # past the check-after delay of a send in doubt
        await harness.dispatch()
    received = [m.to for m in harness.fake.messages]
    assert sorted(received) == sorted(numbers + [ANNA, GUSTAV, IVAR, JONNA])
    assert all(m.body == reminder() for m in harness.fake.messages)
    harness.clock.advance(minutes=30)
    again = await harness.sms(COORD, "PÅMINN ALLA maj")  # the bulk-written history holds the 2-hour rule
    assert "605 fick påminnelse de senaste 2 timmarna" in again[0]  # and Fia, from the import


async def test_stopp_twice_is_answered_twice_and_told_to_the_team_once(harness):
    await load(harness, may_org())
    await set_team_chat(harness)
    stopped = ["Påminnelserna är avstängda. Svara START om du vill få dem igen."]
    assert await harness.sms(IVAR, "STOPP") == stopped
    assert await harness.sms(IVAR, "stopp") == stopped  # the same second: once made a clashing team message
    assert [m for m in await team_messages(harness) if "STOPP" in m] == [
        "Ivar Isaksson har stängt av sina påminnelser (STOPP)."]
