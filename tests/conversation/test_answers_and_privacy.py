"""The assistants' other answers, and what the service says back or passes on: never a personal number."""
from __future__ import annotations

import pytest

from core.channels import SIMULATOR
from tests.builders import ANNA, COORD, GUSTAV, may_org

PERSONAL_NUMBERS = ("19900101-1234", "900101-1234", "199001011234", "9001011234", "19900161+1234")


async def team(talk) -> list[str]:
    return [body for channel, address, kind, body in await talk.queued() if kind == "team"]


async def test_stopp_tells_the_team_keeps_the_assistant_out_of_the_next_round_and_start_brings_them_back(talk):
    await talk.load(may_org())
    await talk.team_chat()
    assert [r.key for r in await talk.say(ANNA, "stopp")] == ["assistant.stopped"]
    assert await team(talk) == ["Anna Andersson har stängt av sina påminnelser (STOPP)."]
    (round_,) = await talk.say(COORD, "PÅMINN ALLA maj")
    assert round_.text.startswith("3 påminnelser för maj 2026 skickade")
    assert ANNA not in [address for _, address, kind, _ in await talk.queued() if kind == "reminder"]
    assert [r.key for r in await talk.say(ANNA, "START")] == ["assistant.started"]
    (one,) = await talk.say(COORD, "PÅMINN Anna maj")
    assert one.key == "one.sent"
    assert [address for _, address, kind, _ in await talk.queued() if kind == "reminder"].count(ANNA) == 1


async def test_an_assistants_own_words_go_to_the_team_with_their_name_and_help_explains_the_answers(talk):
    await talk.load(may_org())
    await talk.team_chat()
    (forwarded,) = await talk.say(GUSTAV, "Jag är sjuk idag, kan någon ta mitt pass?")
    assert forwarded.key == "assistant.forwarded"
    assert await team(talk) == ["Meddelande från Gustav Grön: Jag är sjuk idag, kan någon ta mitt pass?"]
    (help_,) = await talk.say(GUSTAV, "HJÄLP")
    assert all(word in help_.text for word in ("OK", "STOPP", "START"))
    assert [(c, a) for c, a, kind, _ in await talk.queued() if kind != "team"] == []  # answers only, nothing sent


@pytest.mark.parametrize("number", PERSONAL_NUMBERS)
async def test_a_personal_number_typed_into_a_command_is_never_said_back(talk, number):
    await talk.load(may_org())
    digits = number.replace("-", "").replace("+", "")
    for command in (f"PÅMINN {number} maj", f"STATUS maj BRUKARE {number}", f"PÅMINN ALLA maj ARBETSLEDARE {number}",
                    f"PÅMINN ALLA {number}"):
        for reply in await talk.say(COORD, command):
            assert digits[-4:] not in reply.text, (command, reply.text)
    assert await talk.queued() == []


@pytest.mark.parametrize("number", PERSONAL_NUMBERS)
async def test_a_personal_number_in_an_assistants_words_is_masked_before_the_team_reads_them(talk, number):
    await talk.load(may_org())
    await talk.team_chat()
    await talk.say(ANNA, f"Mitt personnummer är {number}, stämmer det i systemet?")
    (relayed,) = await team(talk)
    assert relayed.startswith("Meddelande från Anna Andersson: Mitt personnummer är ")
    assert "1234" not in relayed and "****" in relayed


async def test_numbers_that_are_not_personal_numbers_are_passed_on_as_written(talk):
    await talk.load(may_org())
    await talk.team_chat()
    words = "Ring mig på 070-123 45 67 eller +46701234567, passet 2026-05-03 08:00, portkod 4711."
    await talk.say(ANNA, words)
    assert await team(talk) == [f"Meddelande från Anna Andersson: {words}"]
    assert {channel for channel, *_ in await talk.queued()} == {SIMULATOR}  # the team chat's, nothing by SMS
