from datetime import datetime, timedelta, timezone

import pytest

from core.eligibility import Candidate, Reason, evaluate, split

NOW = datetime(2026, 6, 2, 8, 0, tzinfo=timezone.utc)


def cand(**kw) -> Candidate:
    base = dict(staff_id=1, name="Anna", mobile="+46701234567", reminders_enabled=True, unfinished_shifts=2,
                unfinished_at_enabled_recipient=2, last_reminded_at=None)
    base.update(kw)
    return Candidate(**base)


@pytest.mark.parametrize("changes, reason", [
    ({}, Reason.DUE),
    ({"unfinished_shifts": 0, "unfinished_at_enabled_recipient": 0}, Reason.NOTHING_TO_REPORT),
    ({"mobile": None}, Reason.NO_MOBILE),
    ({"mobile": ""}, Reason.NO_MOBILE),
    ({"last_reminded_at": NOW - timedelta(minutes=5)}, Reason.REMINDED_RECENTLY),
    ({"last_reminded_at": NOW - timedelta(hours=2)}, Reason.REMINDED_RECENTLY),
    ({"last_reminded_at": NOW - timedelta(hours=2, seconds=1)}, Reason.DUE),
    ({"reminders_enabled": False}, Reason.REMINDERS_OFF),
    ({"unfinished_at_enabled_recipient": 0}, Reason.RECIPIENT_REMINDERS_OFF),
    # Condition 5 needs only one unfinished shift at a recipient with reminders on.
    ({"unfinished_shifts": 3, "unfinished_at_enabled_recipient": 1}, Reason.DUE),
    # The first failing condition decides, in REASON_ORDER.
    ({"reminders_enabled": False, "mobile": None}, Reason.REMINDERS_OFF),
    ({"mobile": None, "last_reminded_at": NOW}, Reason.NO_MOBILE),
])
def test_every_condition_and_reason(changes, reason):
    assert evaluate(cand(**changes), NOW) is reason


def test_single_reminder_ignores_two_hour_rule_only():
    recent = cand(last_reminded_at=NOW - timedelta(minutes=1))
    assert evaluate(recent, NOW, apply_interval=False) is Reason.DUE
    assert evaluate(cand(mobile=None, last_reminded_at=NOW), NOW, apply_interval=False) is Reason.NO_MOBILE


def test_split_counts_every_reason():
    due, counts = split([cand(staff_id=1), cand(staff_id=2, mobile=None), cand(staff_id=3, mobile=None)], NOW)
    assert [c.staff_id for c in due] == [1]
    assert counts == {Reason.DUE: 1, Reason.NO_MOBILE: 2}
