import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.commands import (
    Acknowledge,
    Help,
    Malformed,
    RemindAll,
    RemindOne,
    Start,
    Status,
    Stop,
    Unknown,
    parse_command,
)
from core.months import MonthSpec

MAY = MonthSpec(month=5)


@pytest.mark.parametrize("text, expected", [
    ("PÅMINN ALLA maj", RemindAll(MAY)),
    ("PAMINN alla Maj", RemindAll(MAY)),
    ("  påminn   alla   maj  ", RemindAll(MAY)),
    ("påminn alla maj 2026", RemindAll(MonthSpec(month=5, year=2026))),
    ("påminn alla 5", RemindAll(MAY)),
    ("PÅMINN ALLA", RemindAll(None)),
    ("påminn alla förra månaden", RemindAll(MonthSpec(relative=-1))),
    ("påminn alla denna månad", RemindAll(MonthSpec(relative=0))),
    ("PÅMINN ALLA maj BRUKARE Rolf Brukare", RemindAll(MAY, recipient="rolf brukare")),
    ("PÅMINN ALLA maj ARBETSLEDARE Lisa", RemindAll(MAY, supervisor="lisa")),
    ("/paminn alla maj", RemindAll(MAY)),
    ("/paminn@PaminnBot alla maj", RemindAll(MAY)),
    ("PÅMINN Anna Andersson maj", RemindOne("anna andersson", MAY)),
    ("PÅMINN Anna", RemindOne("anna", None)),
    ("PÅMINN 070-123 45 67 maj", RemindOne("070-123 45 67", MAY)),
    ("PÅMINN 070-123 45 12", RemindOne("070-123 45 12", None)),  # 12 is the number's end, not December
    ("STATUS maj", Status(MAY)),
    ("status", Status(None)),
    ("STATUS maj AVSTÄNGDA", Status(MAY, "off")),
    ("STATUS maj saknar mobil", Status(MAY, "no_mobile")),
    ("status maj alla", Status(MAY, "all")),
    ("OK", Acknowledge()), ("ok!", Acknowledge()), ("Klart", Acknowledge()), ("KLAR", Acknowledge()),
    ("ja", Acknowledge()),
    ("STOPP", Stop()), ("stop", Stop()), ("START", Start()), ("HJÄLP", Help()), ("help", Help()),
])
def test_parse(text, expected):
    assert parse_command(text) == expected


def test_unknown_gets_closest_suggestion():
    assert parse_command("stauts maj") == Unknown("stauts maj", "STATUS maj")
    assert parse_command("påmin alla maj") == RemindAll(MAY)
    assert parse_command("pämmin alla maj").suggestion == "PÅMINN ALLA maj"
    assert parse_command("hej hej").suggestion is None


def test_malformed_says_what_to_change():
    result = parse_command("PÅMINN")
    assert isinstance(result, Malformed) and "PÅMINN ALLA maj" in result.problem
    result = parse_command("STATUS maj blå")
    assert isinstance(result, Malformed) and "REDO, AVSTÄNGDA" in result.problem


@settings(max_examples=1500, deadline=None)
@given(st.text(max_size=200))
def test_no_input_crashes_the_parser(text):
    parse_command(text)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(["påminn", "PÅMINN", "alla", "maj", "2026", "status", "brukare", "arbetsledare",
                                 "ok", "stopp", "5", "förra", "månaden", "/", "@", "-", "070", "ALLA"]), max_size=8),
       st.text(max_size=10))
def test_command_like_input_never_crashes(words, tail):
    parse_command(" ".join(words) + tail)


def test_control_characters_go_but_what_people_type_stays():
    from core.text import without_controls

    assert without_controls("hej\x00 då\x07") == "hej då"
    assert without_controls("rad ett\nrad\ttvå") == "rad ett\nrad\ttvå"
    assert without_controls("Anna\u00a0Berg 👩\u200d👩\u200d👧") == "Anna\u00a0Berg 👩\u200d👩\u200d👧"
