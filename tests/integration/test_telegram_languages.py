"""Telegram and the team chat in the organisation's language (sv, da, nb, en), as a user sees them
through the loopback fake Bot API; buttons come from what a reply is for, never from its words."""
from __future__ import annotations

from core.catalogue import render
from handlers.team import channel_down, channel_up
from tests.builders import ANNA, COORD, load, may_org, set_team_chat, team_messages
from tests.integration.test_telegram import (  # noqa: F401  (the Telegram harness and its helpers)
    ANNA_TG,
    GROUP,
    KARIN_TG,
    STRANGER_TG,
    fake_telegram,
    link,
    say,
    tg,
)


def inline_buttons(call) -> list[str]:
    return [b["text"] for row in call.params["reply_markup"]["inline_keyboard"] for b in row]


async def test_unlinked_start_is_swedish_with_a_swedish_share_button(tg):
    await load(tg, may_org(locale="en"))  # nobody is known before linking: Swedish
    await say(tg, STRANGER_TG, "/start")
    prompt = tg.tg.sent(STRANGER_TG)[-1]
    assert prompt.params["text"] == render("sv", "account.link_prompt")
    assert prompt.params["reply_markup"]["keyboard"][0][0]["text"] == "Dela mitt nummer"


async def test_a_danish_organisation_links_and_chooses_in_danish(tg):
    await load(tg, may_org(locale="da"))
    await link(tg, KARIN_TG, "+46701112233")
    assert tg.tg.texts(KARIN_TG)[-1] == ("Færdig! Din konto er koblet til Karin Koordinator. Skriv HJÆLP for at se, "
                                         "hvad du kan her.")
    assert tg.tg.sent(KARIN_TG)[-1].params["reply_markup"] == {"remove_keyboard": True}
    await say(tg, KARIN_TG, "/start")
    assert tg.tg.texts(KARIN_TG)[-1] == "Du er allerede koblet som Karin Koordinator. Skriv HJÆLP for kommandoer."
    await say(tg, KARIN_TG, "/teamchat")
    assert tg.tg.texts(KARIN_TG)[-1] == "Send /teamchat i den gruppe, der skal være teamchat."
    await say(tg, KARIN_TG, "/kanal brevdue")
    assert tg.tg.texts(KARIN_TG)[-1] == "Skriv /kanal telegram eller /kanal sms."
    await link(tg, ANNA_TG, ANNA)
    await say(tg, ANNA_TG, "/kanal telegram")
    assert tg.tg.texts(ANNA_TG)[-1] == "Dine påmindelser kommer nu her i Telegram."
    await say(tg, ANNA_TG, "/teamchat", chat_id=GROUP)
    assert tg.tg.texts(GROUP)[-1] == ("Kun koordinatorer kan vælge teamchat. Kobl din konto med /start i en privat "
                                      "chat først.")


async def test_a_norwegian_team_chat_hears_norwegian(tg):
    await load(tg, may_org(locale="nb"))
    await link(tg, KARIN_TG, "+46701112233")
    await say(tg, KARIN_TG, "/teamchat", chat_id=GROUP)
    assert tg.tg.texts(GROUP)[-1] == ("Denne chatten er nå teamchat for Assistans Norr AB. Her høres påminnelser, "
                                      "svar og leveringsfeil.")
    await say(tg, KARIN_TG, "påminn alle mai")
    assert tg.tg.texts(GROUP)[-1].startswith("Karin Koordinator sendte påminnelser for mai 2026: 4 sendt.")
    await tg.sms(ANNA, "STOPP")
    await tg.dispatch()
    assert tg.tg.texts(GROUP)[-1] == "Anna Andersson har slått av påminnelsene sine (STOPP)."


async def test_an_english_status_in_plain_words_gets_english_buttons_and_a_refusal_none(tg):
    await load(tg, may_org(locale="en"))
    await link(tg, KARIN_TG, "+46701112233")
    await say(tg, KARIN_TG, "STATUS may")
    status = tg.tg.sent(KARIN_TG)[-1]
    assert status.params["text"].startswith("Status May 2026: 4 ready")
    assert inline_buttons(status) == ["Ready", "Off", "No mobile", "All", "Send reminder to all"]
    assert [b["callback_data"] for row in status.params["reply_markup"]["inline_keyboard"] for b in row] == [
        "st:2026-05:ready", "st:2026-05:off", "st:2026-05:no_mobile", "st:2026-05:all", "rm:2026-05"]
    await say(tg, KARIN_TG, "status may all")
    assert inline_buttons(tg.tg.sent(KARIN_TG)[-1])[-1] == "Send reminder to all"
    # A month that has not begun is refused: a refusal offers no buttons, in any language.
    await say(tg, KARIN_TG, "STATUS december 2026")
    refusal = tg.tg.sent(KARIN_TG)[-1]
    assert refusal.params["text"].startswith("December 2026 has not started yet")
    assert "reply_markup" not in refusal.params
    # An assistant asking for STATUS is told it is not theirs, without buttons.
    await link(tg, ANNA_TG, ANNA)
    await say(tg, ANNA_TG, "STATUS may")
    assert tg.tg.texts(ANNA_TG)[-1].startswith("Only coordinators and supervisors can use that command.")
    assert "reply_markup" not in tg.tg.sent(ANNA_TG)[-1].params


async def test_a_danish_team_chat_hears_of_an_outage_in_danish(harness):
    await load(harness, may_org(locale="da"))
    await set_team_chat(harness)
    await harness.sms(COORD, "PÅMIND ALLE maj")  # four reminders wait for the SMS provider
    since = harness.clock()
    async with harness.services.sessions.begin() as session:
        await channel_down(harness.services.context(session), "sms", since)
    assert (await team_messages(harness))[-1] == ("SMS-udbyderen svarer ikke siden 10:00; 4 beskeder venter og "
                                                  "sendes, når den svarer igen.")
    async with harness.services.sessions.begin() as session:
        await channel_up(harness.services.context(session), "sms", since)
    assert (await team_messages(harness))[-1] == ("SMS-udbyderen svarer igen (nede siden 10:00); 4 ventende "
                                                  "beskeder sendes nu.")
