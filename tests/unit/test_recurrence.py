"""Recurring due dates: what a coordinator would expect on the calendar."""
from __future__ import annotations

from datetime import date

import pytest

from core.recurrence import due_dates, next_due, parse_recurrence


def rule(spec: dict):
    problems: list[str] = []
    parsed = parse_recurrence(spec, "customer_reminders[0]", problems)
    assert problems == []
    return parsed


@pytest.mark.parametrize("first, spec, expected", [
    (date(2026, 6, 1), {"every": "day", "interval": 3}, ["2026-06-01", "2026-06-04", "2026-06-07"]),
    # Mondays and Thursdays from Wednesday 3 June: the first due date itself is not one of them.
    (date(2026, 6, 3), {"every": "week", "weekdays": ["mo", "th"]}, ["2026-06-04", "2026-06-08", "2026-06-11"]),
    (date(2026, 6, 3), {"every": "week", "interval": 2}, ["2026-06-03", "2026-06-17", "2026-07-01"]),
    # The 31st falls on the last day of shorter months, rather than skipping them.
    (date(2026, 1, 31), {"every": "month"}, ["2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30"]),
    (date(2026, 1, 15), {"every": "month", "day": 30}, ["2026-01-30", "2026-02-28", "2026-03-30"]),
    (date(2026, 6, 1), {"every": "month", "weekday": "tu", "nth": 2}, ["2026-06-09", "2026-07-14", "2026-08-11"]),
    (date(2026, 6, 1), {"every": "month", "weekday": "fr", "nth": -1}, ["2026-06-26", "2026-07-31", "2026-08-28"]),
    (date(2024, 2, 29), {"every": "year"}, ["2024-02-29", "2025-02-28", "2026-02-28", "2027-02-28", "2028-02-29"]),
    (date(2026, 6, 1), {"every": "month", "interval": 3, "count": 2}, ["2026-06-01", "2026-09-01"]),
    (date(2026, 6, 1), {"every": "week", "until": "2026-06-15"}, ["2026-06-01", "2026-06-08", "2026-06-15"]),
])
def test_due_dates(first, spec, expected):
    assert [d.isoformat() for d in due_dates(first, rule(spec), limit=len(expected) + 1)][:len(expected)] == expected


def test_end_after_count_and_until():
    assert due_dates(date(2026, 6, 1), rule({"every": "month", "count": 2}), limit=10) == [
        date(2026, 6, 1), date(2026, 7, 1)]
    assert next_due(date(2026, 6, 1), rule({"every": "month", "count": 2}), after=date(2026, 7, 1)) is None
    assert next_due(date(2026, 6, 1), rule({"every": "week", "until": "2026-06-10"}), after=date(2026, 6, 8)) is None


def test_next_due_after_a_date_and_without_a_rule():
    monthly = rule({"every": "month"})
    assert next_due(date(2026, 6, 1), monthly, after=None) == date(2026, 6, 1)
    assert next_due(date(2026, 6, 1), monthly, after=date(2026, 6, 1)) == date(2026, 7, 1)
    assert next_due(date(2026, 6, 1), monthly, after=date(2026, 8, 15)) == date(2026, 9, 1)
    assert next_due(date(2026, 6, 1), None, after=None) == date(2026, 6, 1)
    assert next_due(date(2026, 6, 1), None, after=date(2026, 6, 1)) is None


@pytest.mark.parametrize("spec, problem", [
    ("monthly", "'recurrence' must be an object"),
    ({"every": "fortnight"}, "'recurrence.every' must be one of day, week, month, year"),
    ({"every": "week", "interval": 0}, "'recurrence.interval' must be a whole number from 1"),
    ({"every": "week", "weekdays": ["mon"]}, "'recurrence.weekdays' is a list of mo, tu"),
    ({"every": "day", "weekdays": ["mo"]}, "with every: week"),
    ({"every": "month", "day": 32}, "'recurrence.day' is a date from 1 to 31"),
    ({"every": "month", "weekday": "tu"}, "'recurrence.weekday' and 'recurrence.nth' go together"),
    ({"every": "month", "until": "31/12/2027"}, "'recurrence.until' must be a date like 2027-12-31"),
    ({"every": "month", "until": "2027-12-31", "count": 3}, "'until' or 'count', not both"),
    ({"every": "month", "often": True}, "unknown keys ['often']"),
])
def test_bad_rules_say_what_to_change(spec, problem):
    problems: list[str] = []
    assert parse_recurrence(spec, "customer_reminders[2] (id 'cr3')", problems) is None
    assert len(problems) == 1 and problem in problems[0] and problems[0].startswith("customer_reminders[2] (id 'cr3')")


def test_next_schedule_of_a_stored_rule():
    from core.recurrence import Schedule, next_schedule

    stored = rule({"every": "week", "weekdays": ["mo", "th"]}).to_json()
    assert next_schedule(date(2026, 6, 3), stored, 2, after=None) == Schedule(date(2026, 6, 4), date(2026, 6, 2))
    assert next_schedule(date(2026, 6, 3), stored, 0, after=date(2026, 6, 4)).next_due == date(2026, 6, 8)
    assert next_schedule(date(2026, 6, 3), None, 1, after=None) == Schedule(date(2026, 6, 3), date(2026, 6, 2))
    assert next_schedule(date(2026, 6, 3), None, 1, after=date(2026, 6, 3)) == Schedule(None, None)
