"""The coordinator's round and the assistants' answers, told as a conversation with the handlers."""
from __future__ import annotations

from core.channels import SMS
from core.replies import StatusFilters
from tests.builders import ANNA, COORD, GUSTAV, IVAR, JONNA, may_org, reminder

STRANGER = "+46709999999"


async def test_a_round_queues_one_reminder_for_each_due_assistant_and_says_so(talk):
    await talk.load(may_org())
    (reply,) = await talk.say(COORD, "PÅMINN ALLA maj")
    assert reply.key is not None and reply.locale == "sv"
    assert reply.text.startswith("4 påminnelser för maj 2026 skickade (4 SMS-delar).")
    reminders = [(channel, address, body) for channel, address, kind, body in await talk.queued()
                 if kind == "reminder"]
    assert sorted(reminders) == sorted((SMS, who, reminder()) for who in (ANNA, GUSTAV, IVAR, JONNA))


async def test_the_same_round_again_reaches_no_one_twice(talk):
    await talk.load(may_org())
    await talk.say(COORD, "PÅMINN ALLA maj")
    first = await talk.queued()
    (again,) = await talk.say(COORD, "PÅMINN ALLA maj")
    assert again.text.startswith("0 påminnelser för maj 2026")
    assert await talk.queued() == first  # within 2 hours: nobody is reminded again


async def test_an_assistant_answers_ok_then_ok_again(talk):
    await talk.load(may_org())
    await talk.say(COORD, "PÅMINN ALLA maj")
    assert [r.text for r in await talk.say(ANNA, "ok")] == [
        "Tack! Vi har noterat att du sett påminnelsen för maj 2026."]
    assert [r.text for r in await talk.say(ANNA, "OK")] == ["Tack! Du har ingen påminnelse att bekräfta just nu."]


async def test_status_is_a_value_with_filter_buttons_in_the_organisations_language(talk):
    await talk.load(may_org(locale="en"))
    (status,) = await talk.say(COORD, "STATUS may")
    assert status.locale == "en" and "May 2026" in status.text
    assert status.intent == StatusFilters("2026-05")  # buttons come from the intent, never from the words
    (refused,) = await talk.say(ANNA, "STATUS may")  # an assistant is not a coordinator
    assert refused.intent is None


async def test_a_stranger_learns_nothing_and_nothing_is_queued(talk):
    await talk.load(may_org())
    (reply,) = await talk.say(STRANGER, "PÅMINN ALLA maj")
    assert reply.key == "unknown_sender"
    assert "Anna" not in reply.text and await talk.queued() == []
