"""core.funnel folds history rows into the month's funnel; the parser reads RAPPORT in every language."""
from datetime import datetime, timedelta, timezone

import pytest

from core.commands import Malformed, Report, Unknown, parse_command
from core.eligibility import Candidate, Reason, evaluate
from core.funnel import HistoryRow, RoundInfo, build
from core.months import MonthSpec

T0 = datetime(2026, 6, 2, 8, 0, tzinfo=timezone.utc)
R1, R2 = RoundInfo(1, T0, "Karin", ""), RoundInfo(2, T0 + timedelta(hours=3), None, "brukare Rolf")


def row(round_id, staff_id, name, *, accepted=True, status="sent", ack=None, at=T0):
    return HistoryRow(round_id=round_id, staff_id=staff_id, name=name, accepted=accepted,
                      reminded_at=at, status=status, acknowledged_at=ack)


def test_each_stage_per_round_and_each_person_once_for_the_month():
    rows = [row(1, 1, "Anna", status="delivered", ack=T0), row(1, 2, "Bo", status="sent"),
            row(1, 3, "Cia", accepted=False, status="expired"),
            row(2, 2, "Bo", status="read", at=R2.started_at), row(2, 3, "Cia", status="sent", at=R2.started_at)]
    funnel = build("2026-05", [R2, R1], rows, unfinished_staff={2, 3})
    assert [r.info.id for r in funnel.rounds] == [1, 2]  # in the order they started
    assert funnel.rounds[0].counts() == {"reminded": 2, "delivered": 1, "acknowledged": 1, "unfinished_now": 1}
    assert funnel.rounds[0].names("unfinished_now") == ["Bo"]  # Cia's expired reminder reached no one
    assert funnel.rounds[1].counts() == {"reminded": 2, "delivered": 1, "acknowledged": 0, "unfinished_now": 2}
    assert funnel.counts() == {"reminded": 3, "delivered": 2, "acknowledged": 1, "unfinished_now": 2}
    assert funnel.names("delivered") == ["Anna", "Bo"]


def test_a_reminder_queued_again_after_an_outage_is_one_line():
    late = T0 + timedelta(minutes=40)
    rows = [row(1, 1, "Anna", accepted=False, status="expired"), row(1, 1, "Anna", status="delivered", at=late)]
    funnel = build("2026-05", [R1], rows, unfinished_staff=set())
    [line] = funnel.rounds[0].people
    assert (line.reminded_at, line.delivered, line.unfinished_now) == (late, True, False)


def _candidate(last):
    return Candidate(staff_id=1, name="A", mobile="+46701234567", reminders_enabled=True, unfinished_shifts=1,
                     unfinished_at_enabled_recipient=1, last_reminded_at=last)


@pytest.mark.parametrize("ago, reason", [
    (timedelta(minutes=1), Reason.REMINDED_RECENTLY),
    (timedelta(hours=2), Reason.REMINDED_RECENTLY),  # "more than 2 hours": exactly 2 is not yet
    (timedelta(hours=2, seconds=1), Reason.DUE),
    (timedelta(hours=3), Reason.DUE),
])
def test_the_two_hour_boundary(ago, reason):
    assert evaluate(_candidate(T0 - ago), T0) is reason


@pytest.mark.parametrize("text, expected", [
    ("RAPPORT maj", Report(MonthSpec(month=5))),
    ("rapport mai", Report(MonthSpec(month=5))),
    ("REPORT may 2026", Report(MonthSpec(month=5, year=2026))),
    ("/rapport", Report(None)),
    ("RAPPORT maj BRUKARE Rolf", Report(MonthSpec(month=5), recipient="rolf")),
])
def test_report_is_read_in_every_language(text, expected):
    assert parse_command(text) == expected


def test_report_with_words_it_cannot_read_says_what_to_write():
    parsed = parse_command("RAPPORT maj blaha")
    assert isinstance(parsed, Malformed) and parsed.problem == (
        "Jag förstod inte 'blaha'. Skriv t.ex. RAPPORT maj eller RAPPORT maj BRUKARE Rolf.")
    typo = parse_command("raport maj")
    assert isinstance(typo, Unknown) and typo.suggestion == "RAPPORT maj"


def test_the_csv_never_hands_a_spreadsheet_a_formula():
    from webhooks.api.rounds import _funnel_csv

    funnel = build("2026-05", [R1], [row(1, 1, "=HYPERLINK(\"x\")", status="delivered")], unfinished_staff={1})
    lines = _funnel_csv(funnel).text.splitlines()
    assert lines[1] == f"\"'=HYPERLINK(\"\"x\"\")\",1,{T0.isoformat()},true,,true"
