"""Retrying for a message's useful life: backoff, the deadline, quiet hours. Pure, table-driven."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from core.eligibility import Candidate, Reason, evaluate
from core.quiet import parse_quiet_hours
from core.retry import backoff, next_try, parse_duration, waits_for_quiet_hours

UTC = timezone.utc
NOON = datetime(2026, 6, 2, 10, 0, tzinfo=UTC)  # 12:00 in Stockholm
QUIET = parse_quiet_hours("21:00-08:00")


@pytest.mark.parametrize("attempts, retry_after, expected", [
    (1, None, 2), (2, None, 4), (5, None, 32), (8, None, 256), (9, None, 300), (200, None, 300),
    (3, 30, 30), (3, 900, 900),  # the provider's Retry-After is obeyed as given
])
def test_backoff_grows_and_is_capped(attempts, retry_after, expected):
    assert backoff(attempts, retry_after, cap=300) == expected


def test_retried_past_any_fixed_count_until_the_deadline_then_expired():
    expires = NOON + timedelta(hours=10)
    now, tries = NOON, 0
    while (at := next_try(now, attempts=tries + 1, retry_after=None, expires_at=expires, cap=300)) is not None:
        assert at <= expires and at - now <= timedelta(seconds=300)
        now, tries = at, tries + 1
    assert tries > 100 and now == expires  # the last try was on the deadline itself


def test_last_try_lands_on_the_deadline():
    expires = NOON + timedelta(seconds=100)
    assert next_try(NOON, attempts=9, retry_after=None, expires_at=expires) == expires
    assert next_try(expires, attempts=10, retry_after=None, expires_at=expires) is None


def test_a_reminder_is_never_retried_into_quiet_hours():
    evening = datetime(2026, 6, 2, 18, 58, tzinfo=UTC)  # 20:58 in Stockholm
    at = next_try(evening, attempts=9, retry_after=None, expires_at=evening + timedelta(hours=10), quiet=QUIET,
                  tz_name="Europe/Stockholm")
    assert at == datetime(2026, 6, 3, 6, 0, tzinfo=UTC)  # 08:00 the next morning


def test_a_deadline_in_quiet_hours_gets_its_last_try_when_they_end():
    evening = datetime(2026, 6, 2, 18, 58, tzinfo=UTC)  # 20:58; validity ends 21:30, in quiet hours
    expires = evening + timedelta(minutes=32)
    at = next_try(evening, attempts=9, retry_after=None, expires_at=expires, quiet=QUIET, tz_name="Europe/Stockholm")
    assert at == datetime(2026, 6, 3, 6, 0, tzinfo=UTC)
    assert next_try(at, attempts=10, retry_after=None, expires_at=expires) is None


@pytest.mark.parametrize("kind, channel, waits", [
    ("reminder", "sms", True), ("reminder", "telegram", True), ("customer-reminder", "sms", True),
    ("customer-reminder", "email", False), ("reply", "sms", False), ("team", "telegram", False),
])
def test_who_waits_for_quiet_hours(kind, channel, waits):
    assert waits_for_quiet_hours(kind, channel) is waits


@pytest.mark.parametrize("value, seconds", [(36000, 36000), ("36000", 36000), ("10h", 36000), ("90m", 5400),
                                            ("45s", 45), (" 2H ", 7200)])
def test_durations(value, seconds):
    assert parse_duration(value, "x") == seconds


@pytest.mark.parametrize("value", ["0", "ten hours", "-5m", "1.5h", True, None, [10]])
def test_bad_durations_say_what_to_write(value):
    with pytest.raises(ValueError, match="10h"):
        parse_duration(value, "'message_validity'")


def _candidate(**kw) -> Candidate:
    base = dict(staff_id=1, name="Anna", mobile="+46701234567", reminders_enabled=True, unfinished_shifts=1,
                unfinished_at_enabled_recipient=1, last_reminded_at=None)
    return Candidate(**{**base, **kw})


def test_waiting_holds_back_a_round_and_a_single_reminder_but_is_not_reminded():
    waiting = _candidate(waiting=True)
    assert evaluate(waiting, NOON) is Reason.WAITING
    assert evaluate(waiting, NOON, apply_interval=False) is Reason.WAITING  # PÅMINN <namn> would send it twice
    assert evaluate(_candidate(last_reminded_at=NOON - timedelta(hours=1)), NOON) is Reason.REMINDED_RECENTLY
    assert evaluate(_candidate(), NOON) is Reason.DUE  # an expired reminder leaves neither mark
