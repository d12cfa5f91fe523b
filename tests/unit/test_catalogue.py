"""The message catalogue, the command words of every language, and national phone numbers."""
from string import Formatter

import pytest

from core.catalogue import CATALOGUE, SV, language, render, render_plural
from core.commands import RemindAll, RemindOne, Status, Unknown, parse_command
from core.months import MonthSpec
from core.phones import display, region_for, to_e164

MAY = MonthSpec(month=5)
# Keys whose text is the same in every language (names, punctuation, command words, layout).
LANGUAGE_NEUTRAL = {"list.join", "scope.join", "status.head", "status.person", "team.ack_line", "suggest.status",
                    "suggest.ok", "suggest.start", "channel.sms", "channel.telegram"}


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(template) if name}


@pytest.mark.parametrize("lang", ["da", "nb", "en"])
def test_every_language_has_every_text_with_the_same_placeholders(lang):
    entries = CATALOGUE[lang]
    assert set(entries) <= set(SV), set(entries) - set(SV)
    assert set(SV) - set(entries) <= LANGUAGE_NEUTRAL, set(SV) - set(entries) - LANGUAGE_NEUTRAL
    for key, template in entries.items():
        if key.endswith(".one"):  # the singular may leave the count out ("den enda …") or keep it
            assert _fields(template) - {"n"} == _fields(SV[key]) - {"n"}, key
        else:
            assert _fields(template) == _fields(SV[key]), key


def test_render_falls_back_to_swedish():
    assert render("fi", "assistant.started") == "Påminnelserna är påslagna igen."
    assert render("en", "suggest.ok") == "OK"
    assert language("nb_NO") == "nb" and language("no") == "nb" and language(None) == "sv"


def test_plural_forms_follow_babel():
    assert render_plural("sv", "round.sent", 1, month="maj 2026", scope="", segments=1) == \
        "1 påminnelse för maj 2026 skickade (1 SMS-delar)."
    assert render_plural("da", "round.sent", 2, month="maj 2026", scope="", segments=2).startswith(
        "2 påmindelser for maj 2026 sendt")


@pytest.mark.parametrize("text, expected", [
    ("PÅMIND ALLE maj", RemindAll(MAY)),
    ("påminn alle mai", RemindAll(MAY)),
    ("REMIND ALL may", RemindAll(MAY)),
    ("/remind all May 2026", RemindAll(MonthSpec(month=5, year=2026))),
    ("PÅMIND ALLE maj BORGER Rolf", RemindAll(MAY, recipient="rolf")),
    ("PÅMIND ALLE maj ARBEJDSLEDER Lisa", RemindAll(MAY, supervisor="lisa")),
    ("PÅMINN ALLE mai BRUKER Rolf", RemindAll(MAY, recipient="rolf")),
    ("PÅMINN ALLE mai ARBEIDSLEDER Lisa", RemindAll(MAY, supervisor="lisa")),
    ("REMIND ALL may CLIENT Rolf", RemindAll(MAY, recipient="rolf")),
    ("REMIND ALL may SUPERVISOR Lisa", RemindAll(MAY, supervisor="lisa")),
    ("PÅMINN ALLA maj ARBETSLEDARE Lisa Ledare BRUKARE Rolf Brukare",
     RemindAll(MAY, recipient="rolf brukare", supervisor="lisa ledare")),
    ("PÅMIND Anna maj", RemindOne("anna", MAY)),
    ("REMIND 070-123 45 67 may", RemindOne("070-123 45 67", MAY)),
    ("STATUS maj KLAR", Status(MAY, "ready")),
    ("STATUS maj SLÅET FRA", Status(MAY, "off")),
    ("STATUS maj mangler mobil", Status(MAY, "no_mobile")),
    ("STATUS mai AVSLÅTT", Status(MAY, "off")),
    ("status mai alle", Status(MAY, "all")),
    ("STATUS may READY", Status(MAY, "ready")),
    ("STATUS may NO MOBILE", Status(MAY, "no_mobile")),
    ("STATUS maj BRUKARE Rolf", Status(MAY, recipient="rolf")),
    ("STATUS maj ARBETSLEDARE Lisa Ledare", Status(MAY, supervisor="lisa ledare")),
    ("STATUS maj ALLA BRUKARE Rolf ARBETSLEDARE Lisa", Status(MAY, "all", "rolf", "lisa")),
    ("STATUS maj BRUKARE Rolf AVSTÄNGDA", Status(MAY, "off", "rolf")),
    ("STATUS may ALL CLIENT Rolf SUPERVISOR Lisa", Status(MAY, "all", "rolf", "lisa")),
])
def test_every_languages_words(text, expected):
    assert parse_command(text) == expected


def test_names_are_kept_as_written_for_echoing():
    assert parse_command("PÅMINN Åsa Öberg maj").who_written == "Åsa Öberg"
    command = parse_command("STATUS maj BRUKARE Rolf ARBETSLEDARE Lisa Ledare")
    assert (command.recipient_written, command.supervisor_written) == ("Rolf", "Lisa Ledare")
    assert parse_command("påminn alla maj brukare TORE!").recipient_written == "TORE"


def test_suggestion_keeps_the_persons_month():
    assert parse_command("pminn alla oktober") == Unknown("pminn alla oktober", "PÅMINN ALLA oktober")
    typo = parse_command("stauts Okt")
    assert (typo.suggestion, typo.suggestion_key, typo.suggestion_month) == ("STATUS Okt", "status", "Okt")
    bare = parse_command("pminn alla")  # the reply fills in last month
    assert (bare.suggestion_key, bare.suggestion_month) == ("remind_all", None)


def test_unknown_status_words_are_refused_with_the_choices():
    refused = parse_command("STATUS maj BRUKARE")
    assert refused.key == "malformed.status" and "REDO, AVSTÄNGDA" in refused.problem
    assert render("da", refused.key, **refused.values) == \
        "Ukendt filter 'brukare'. Skriv STATUS maj KLAR, SLÅET FRA, MANGLER MOBIL eller ALLE."


def test_region_of_an_organisation():
    assert region_for("Europe/Copenhagen", "da") == "DK"
    assert region_for("Europe/Oslo", "sv") == "NO"  # the time zone says where the organisation is
    assert region_for(None, "nb") == "NO"
    assert region_for(None, "en", "Europe/London") == "GB"
    assert region_for(None, "en") == "SE"
    assert region_for(None, None) == "SE"


def test_national_numbers_in_the_organisations_country():
    assert to_e164("20 12 34 56", "DK") == "+4520123456"
    assert to_e164("412 34 567", "NO") == "+4741234567"
    assert display("+4520123456", "DK") == "20 12 34 56"
    assert display("+4520123456") == "+45 20 12 34 56"
    assert display("+46701234567") == "070-123 45 67"


def test_a_round_held_back_for_one_reason_says_it_in_singular_or_plural():
    from core.eligibility import Reason
    from core.messages import RoundSummary, round_reply
    from core.months import Month

    def reply(locale, n):
        return round_reply(RoundSummary(month=Month(2026, 5), sent=0, segments=0, locale=locale,
                                        counts={Reason.REMINDED_RECENTLY: n, Reason.NOTHING_TO_REPORT: 2}))

    assert reply("sv", 1) == ("0 påminnelser för maj 2026 skickade: den enda med pass kvar fick påminnelse de "
                              "senaste 2 timmarna.\n2 har redan rapporterat allt.")
    assert reply("sv", 3).startswith("0 påminnelser för maj 2026 skickade: alla 3 med pass kvar fick påminnelse")
    assert reply("en", 1).startswith("0 reminders for May 2026 sent: nobody could be reminded (1 reminded in the "
                                     "last 2 hours).")
    assert reply("nb", 2).startswith("0 påminnelser for mai 2026 sendt: alle 2 med vakter igjen fikk påminnelse")
