from datetime import datetime, timezone

import pytest

from core.messages import limit_list, reminder_text
from core.months import Month
from core.quiet import next_allowed, parse_quiet_hours
from core.segments import count_segments


def test_reminder_sms_is_exactly_the_contract_text_and_one_segment():
    text = reminder_text("Coordinare", "https://app.coordinare.se", Month(2026, 5))
    assert text == ("Hej! Det här är en påminnelse om att du har pass kvar att närvaroregistrera/signera i "
                    "Coordinare för maj 2026 https://app.coordinare.se")
    assert count_segments(text).encoding == "GSM-7" and count_segments(text).segments == 1


@pytest.mark.parametrize("text, encoding, units, segments", [
    ("", "GSM-7", 0, 1),
    ("å ä ö Å Ä Ö", "GSM-7", 11, 1),
    ("a" * 160, "GSM-7", 160, 1),
    ("a" * 161, "GSM-7", 161, 2),
    ("a" * 306, "GSM-7", 306, 2),
    ("a" * 307, "GSM-7", 307, 3),
    ("€" * 80, "GSM-7", 160, 1),  # extension characters take two septets
    ("€" * 81, "GSM-7", 162, 2),
    ("…", "UCS-2", 1, 1),
    ("ç" * 70, "UCS-2", 70, 1),
    ("ç" * 71, "UCS-2", 71, 2),
    ("🎉" * 35, "UCS-2", 70, 1),  # astral characters take two UTF-16 units
])
def test_segments(text, encoding, units, segments):
    got = count_segments(text)
    assert (got.encoding, got.units, got.segments) == (encoding, units, segments)


def test_limit_list_keeps_three_segments_and_counts_the_rest():
    names = [f"Person Nummer{i:02d}" for i in range(50)]
    text = limit_list("Redo (50):", names)
    assert count_segments(text).segments <= 3
    shown = text.split("\n")[1].split(" …och ")[0].split(", ")
    assert text.endswith(f"…och {50 - len(shown)} till")
    assert limit_list("Redo (2):", ["A", "B"]) == "Redo (2):\nA, B"


def test_quiet_hours():
    quiet = parse_quiet_hours("21:00-08:00")
    sthlm = "Europe/Stockholm"
    at = lambda s: datetime.fromisoformat(s).astimezone(timezone.utc)  # noqa: E731
    assert next_allowed(at("2026-06-02T12:00:00+02:00"), quiet, sthlm) == at("2026-06-02T12:00:00+02:00")
    assert next_allowed(at("2026-06-02T22:00:00+02:00"), quiet, sthlm) == at("2026-06-03T08:00:00+02:00")
    assert next_allowed(at("2026-06-03T07:59:00+02:00"), quiet, sthlm) == at("2026-06-03T08:00:00+02:00")
    assert next_allowed(at("2026-06-02T21:00:00+02:00"), quiet, sthlm) == at("2026-06-03T08:00:00+02:00")
    assert next_allowed(at("2026-06-02T08:00:00+02:00"), quiet, sthlm) == at("2026-06-02T08:00:00+02:00")
    # The night summer time ends: 08:00 is CET again.
    assert next_allowed(at("2026-10-25T01:00:00+02:00"), quiet, sthlm) == at("2026-10-25T08:00:00+01:00")
    day_quiet = parse_quiet_hours("12:00-13:00")
    assert next_allowed(at("2026-06-02T12:30:00+02:00"), day_quiet, sthlm) == at("2026-06-02T13:00:00+02:00")
    assert parse_quiet_hours("off") is None
    assert parse_quiet_hours("21-08") == quiet  # hours alone are fine
    for bad in ("25:00-08:00", "08:00-08:00", "evening", "21:00"):
        with pytest.raises(ValueError):
            parse_quiet_hours(bad)
