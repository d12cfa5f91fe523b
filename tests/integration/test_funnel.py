"""The 2-hour rule across months, and the month's funnel (RAPPORT, the rounds API and CSV).

Real SMS webhooks, a real database (SQLite and PostgreSQL) and the fake Twilio, as in test_sms_reminders.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tests.builders import ANNA, COORD, load, may_org, reminder

# The test clock stands at 2 June 2026, 10:00 Stockholm (08:00 UTC).


def _reminded_for_april(minutes_ago: int) -> dict:
    doc = may_org()
    doc["shifts"].append({"id": "apr1", "staff": "a1", "care_recipient": "r1",
                          "start": "2026-04-20T08:00:00+02:00", "end": "2026-04-20T16:00:00+02:00"})
    at = datetime(2026, 6, 2, 8, 0, tzinfo=timezone.utc) - timedelta(minutes=minutes_ago)
    doc["reminder_history"].append({"staff": "a1", "month": "2026-04", "sent_at": at.isoformat()})
    return doc


@pytest.mark.parametrize("minutes_ago, held_back", [
    (60, True),     # reminded for April an hour ago
    (120, True),    # exactly 2 hours: not yet "more than 2 hours"
    (121, False),
    (180, False),   # 3 hours ago
])
async def test_two_hour_rule_counts_the_latest_reminder_of_any_month(harness, minutes_ago, held_back):
    await load(harness, _reminded_for_april(minutes_ago))
    replies = await harness.sms(COORD, "PÅMINN ALLA maj")
    await harness.dispatch()
    if held_back:
        # Anna joins Fia among those reminded in the last 2 hours; the other three go.
        assert replies[0].startswith("3 påminnelser för maj 2026 skickade (3 SMS-delar).")
        assert "2 fick påminnelse de senaste 2 timmarna" in replies[0]
        assert harness.fake.to(ANNA) == []
    else:
        assert replies[0].startswith("4 påminnelser för maj 2026 skickade (4 SMS-delar).")
        assert "1 fick påminnelse de senaste 2 timmarna" in replies[0]
        assert harness.fake.to(ANNA) == [reminder()]


async def test_a_round_for_april_holds_back_may_for_two_hours(harness):
    doc = may_org()
    doc["shifts"].append({"id": "apr1", "staff": "a1", "care_recipient": "r1",
                          "start": "2026-04-20T08:00:00+02:00", "end": "2026-04-20T16:00:00+02:00"})
    await load(harness, doc)
    assert (await harness.sms(COORD, "PÅMINN ALLA april"))[0].startswith("1 påminnelse för april 2026 skickade")
    await harness.dispatch()  # reminded means sent: the provider took it
    harness.clock.advance(minutes=30)
    replies = await harness.sms(COORD, "PÅMINN ALLA maj")
    assert replies[0].startswith("3 påminnelser för maj 2026 skickade")
    await harness.dispatch()
    assert harness.fake.to(ANNA) == [reminder("april 2026")]
