from datetime import date, datetime, timezone

import pytest

from core.months import Month, MonthSpec, month_label, month_name, month_of, parse_month_words, resolve_month

STHLM = "Europe/Stockholm"


@pytest.mark.parametrize("local, expected", [
    ("2026-05-31T23:30:00+02:00", Month(2026, 5)),  # late on the last day is still May
    ("2026-06-01T00:30:00+02:00", Month(2026, 6)),  # just after midnight is June
    ("2026-03-29T02:30:00+01:00", Month(2026, 3)),  # the night DST starts
    ("2026-10-25T02:30:00+01:00", Month(2026, 10)),  # the night DST ends
    ("2026-10-31T23:59:00+01:00", Month(2026, 10)),
    ("2026-11-01T00:00:00+01:00", Month(2026, 11)),
    ("2026-01-01T00:00:00+01:00", Month(2026, 1)),
    ("2025-12-31T23:59:59+01:00", Month(2025, 12)),
])
def test_month_of_in_organisation_zone(local, expected):
    assert month_of(datetime.fromisoformat(local), STHLM) == expected


def test_bounds_follow_local_midnight_across_dst():
    start, end = Month(2026, 3).bounds_utc(STHLM)
    assert start == datetime(2026, 2, 28, 23, 0, tzinfo=timezone.utc)  # CET
    assert end == datetime(2026, 3, 31, 22, 0, tzinfo=timezone.utc)  # CEST
    start, end = Month(2026, 10).bounds_utc(STHLM)
    assert start == datetime(2026, 9, 30, 22, 0, tzinfo=timezone.utc)
    assert end == datetime(2026, 10, 31, 23, 0, tzinfo=timezone.utc)
    start, end = Month(2026, 5).bounds_utc("UTC")
    assert (start.hour, end.day) == (0, 1)


def test_every_month_named_in_every_locale():
    assert month_name(Month(2026, 5), "sv") == "maj"
    assert month_name(Month(2026, 5), "nb") == "mai"
    assert month_name(Month(2026, 10), "da") == "oktober"
    assert month_name(Month(2026, 3), "en") == "March"
    assert month_label(Month(2026, 12)) == "december 2026"
    assert all(month_name(Month(2026, m)).islower() for m in range(1, 13))


@pytest.mark.parametrize("words, month, used", [
    (["maj"], 5, 1), (["maj", "2026"], 5, 2), (["5"], 5, 1), (["05"], 5, 1), (["okt"], 10, 1),
    (["oktober"], 10, 1), (["mai"], 5, 1), (["march"], 3, 1), (["dec."], 12, 1), (["2026-05"], 5, 1),
    (["5/2026"], 5, 1),
])
def test_parse_month_words(words, month, used):
    spec, n = parse_month_words(words)
    assert (spec.month, n) == (month, used)


def test_not_months():
    for words in (["ok"], ["13"], ["anna"], []):
        assert parse_month_words(words) is None


@pytest.mark.parametrize("spec, today, expected", [
    (MonthSpec(month=5), date(2026, 6, 2), Month(2026, 5)),
    (MonthSpec(month=6), date(2026, 6, 2), Month(2026, 6)),  # the current month is not in the future
    (MonthSpec(month=7), date(2026, 6, 2), Month(2025, 7)),
    (MonthSpec(month=12), date(2026, 1, 15), Month(2025, 12)),
    (MonthSpec(month=5, year=2024), date(2026, 6, 2), Month(2024, 5)),
    (None, date(2026, 1, 15), Month(2025, 12)),
    (MonthSpec(relative=-1), date(2026, 1, 15), Month(2025, 12)),
    (MonthSpec(relative=0), date(2026, 1, 15), Month(2026, 1)),
])
def test_resolve_month(spec, today, expected):
    assert resolve_month(spec, today) == expected
