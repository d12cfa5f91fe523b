"""When a recurring customer reminder falls due: dateutil's rrule over plain dates.

A rule as host systems write it (JSON), all keys but ``every`` optional:
    {"every": "day" | "week" | "month" | "year", "interval": 2,
     "weekdays": ["mo", "th"],            # week: on these days (default: the first due date's weekday)
     "day": 31,                            # month: on this date; 29–31 fall on the last day of shorter months
     "weekday": "tu", "nth": 2,            # month: the 2nd Tuesday (nth -1: the last)
     "until": "2027-12-31" | "count": 10}  # the end; neither means never
The first due date is where the rule starts; every due date is an occurrence of the rule.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from itertools import islice
from typing import cast

from dateutil.rrule import DAILY, MONTHLY, WEEKLY, YEARLY, rrule, weekday
from dateutil.rrule import weekdays as WEEKDAYS

from core.fieldnames import hint

FREQUENCIES = {"day": DAILY, "week": WEEKLY, "month": MONTHLY, "year": YEARLY}
DAY_CODES = ["mo", "tu", "we", "th", "fr", "sa", "su"]
MAX_INTERVAL = 1000
MAX_COUNT = 10000
RULE_KEYS = ("every", "interval", "weekdays", "day", "weekday", "nth", "until", "count")


@dataclass(frozen=True)
class Recurrence:
    every: str
    interval: int = 1
    weekdays: tuple[int, ...] = ()  # 0 = Monday
    month_day: int | None = None
    nth_weekday: tuple[int, int] | None = None  # (weekday, nth)
    until: date | None = None
    count: int | None = None

    def to_json(self) -> dict:
        spec: dict = {"every": self.every}
        if self.interval != 1:
            spec["interval"] = self.interval
        if self.weekdays:
            spec["weekdays"] = [DAY_CODES[d] for d in self.weekdays]
        if self.month_day is not None:
            spec["day"] = self.month_day
        if self.nth_weekday is not None:
            spec["weekday"], spec["nth"] = DAY_CODES[self.nth_weekday[0]], self.nth_weekday[1]
        if self.until is not None:
            spec["until"] = self.until.isoformat()
        if self.count is not None:
            spec["count"] = self.count
        return spec


def _day(code: object) -> int | None:
    return DAY_CODES.index(code.lower()) if isinstance(code, str) and code.lower() in DAY_CODES else None


def _whole(value: object, low: int, high: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return None
    return value


def parse_recurrence(spec: object, where: str, problems: list[str]) -> Recurrence | None:
    """The rule, or None when there is none; each problem names ``where`` and the key to fix."""
    if spec is None:
        return None
    if not isinstance(spec, dict):
        problems.append(f"{where}: 'recurrence' must be an object like {{\"every\": \"month\"}} or null")
        return None
    found = len(problems)
    every = spec.get("every")
    if every not in FREQUENCIES:
        problems.append(f"{where}: 'recurrence.every' must be one of day, week, month, year, not {every!r}")
    interval = _whole(spec.get("interval", 1), 1, MAX_INTERVAL)
    if interval is None:
        problems.append(f"{where}: 'recurrence.interval' must be a whole number from 1 to {MAX_INTERVAL}")
    weekdays: tuple[int, ...] = ()
    if "weekdays" in spec:
        raw = spec["weekdays"]
        days = [_day(d) for d in raw] if isinstance(raw, list) else [None]
        if every != "week" or not raw or None in days:
            problems.append(f"{where}: 'recurrence.weekdays' is a list of mo, tu, we, th, fr, sa, su, with every: week")
        else:
            weekdays = tuple(sorted({d for d in days if d is not None}))  # none is None here
    month_day = None
    if "day" in spec:
        month_day = _whole(spec["day"], 1, 31)
        if every not in ("month", "year") or month_day is None:
            problems.append(f"{where}: 'recurrence.day' is a date from 1 to 31, with every: month")
    nth_weekday = None
    if "weekday" in spec or "nth" in spec:
        day, nth = _day(spec.get("weekday")), _whole(spec.get("nth"), -5, 5)
        if every != "month" or day is None or not nth:
            problems.append(f"{where}: 'recurrence.weekday' and 'recurrence.nth' go together with every: month, "
                            "e.g. {\"weekday\": \"tu\", \"nth\": 2} (nth -1 is the last)")
        else:
            nth_weekday = (day, nth)
    if month_day is not None and nth_weekday is not None:
        problems.append(f"{where}: 'recurrence' takes 'day' or 'weekday'+'nth', not both")
    until = None
    if spec.get("until") is not None:
        try:
            until = date.fromisoformat(spec["until"]) if isinstance(spec["until"], str) else None
        except ValueError:
            until = None
        if until is None:
            problems.append(f"{where}: 'recurrence.until' must be a date like 2027-12-31")
    count = None
    if spec.get("count") is not None:
        count = _whole(spec["count"], 1, MAX_COUNT)
        if count is None:
            problems.append(f"{where}: 'recurrence.count' must be a whole number from 1 to {MAX_COUNT}")
    if until is not None and count is not None:
        problems.append(f"{where}: 'recurrence' ends with 'until' or 'count', not both")
    unknown = [k for k in spec if k not in RULE_KEYS]
    if unknown:
        hints = hint(str(unknown[0]), RULE_KEYS) if len(unknown) == 1 else "; ".join(
            f"{str(k)[:64]!r}: {hint(str(k), RULE_KEYS)}" for k in unknown)
        problems.append(f"{where}: 'recurrence' has unknown keys {sorted(map(str, unknown))} — {hints}")
    if len(problems) > found or interval is None:  # interval is None only with a problem noted
        return None
    # No problem noted: ``every`` is one of FREQUENCIES' keys.
    return Recurrence(every=cast(str, every), interval=interval, weekdays=weekdays, month_day=month_day,
                      nth_weekday=nth_weekday, until=until, count=count)


def _rule(first_due: date, rule: Recurrence) -> rrule:
    options: dict = {"interval": rule.interval, "dtstart": datetime.combine(first_due, time())}
    if rule.until is not None:
        options["until"] = datetime.combine(rule.until, time())
    if rule.count is not None:
        options["count"] = rule.count
    if rule.weekdays:
        options["byweekday"] = [WEEKDAYS[d] for d in rule.weekdays]
    if rule.nth_weekday is not None:
        day, nth = rule.nth_weekday
        options["byweekday"] = weekday(day, nth)
    month_day = rule.month_day
    if month_day is None and rule.nth_weekday is None and rule.every in ("month", "year") and first_due.day > 28:
        month_day = first_due.day  # rrule's default (dtstart's day) would skip the shorter months
    if month_day is not None:
        if month_day <= 28:
            options["bymonthday"] = month_day
        else:
            # "The 31st" means the month's last day when it is shorter (rrule would skip the month).
            options["bymonthday"] = list(range(28, month_day + 1))
            options["bysetpos"] = -1
        if rule.every == "year":
            options["bymonth"] = first_due.month
    return rrule(FREQUENCIES[rule.every], **options)


def due_dates(first_due: date, rule: Recurrence | None, limit: int = 12) -> list[date]:
    """The first ``limit`` due dates (one without a rule)."""
    if rule is None:
        return [first_due]
    return [d.date() for d in islice(_rule(first_due, rule), limit)]


# A tick moves thousands of reminders on, and most share their start day and rule with others (a
# company's weekly cleanings began on a few dates): rrule walks from the start each time, so the
# answers are kept. Every argument is immutable and the answer depends on nothing else.
@lru_cache(maxsize=65536)
def next_due(first_due: date, rule: Recurrence | None, after: date | None) -> date | None:
    """The first due date after ``after`` (on or after ``first_due`` when None); None when the rule has ended."""
    if rule is None:
        return first_due if after is None or first_due > after else None
    if after is None:
        found = _rule(first_due, rule).after(datetime.combine(first_due, time()), inc=True)
    else:
        found = _rule(first_due, rule).after(datetime.combine(after, time()), inc=False)
    return found.date() if found else None


@dataclass(frozen=True)
class Schedule:
    """Where a reminder's schedule stands: its next due date and the day its messages go."""

    next_due: date | None  # None: the rule has ended
    send_on: date | None

    def columns(self) -> dict:
        return {"next_due": self.next_due, "send_on": self.send_on}


def next_schedule(first_due: date, recurrence: dict | None, days_before: int, after: date | None) -> Schedule:
    """The schedule of a stored reminder after the due date ``after`` was sent (from its start when
    None): the import and the tick both move a reminder on with this, and only with this."""
    due = next_due(first_due, stored_rule(recurrence), after)
    return Schedule(due, due - timedelta(days=days_before) if due is not None else None)


def stored_rule(recurrence: dict | None) -> Recurrence | None:
    """A rule as stored (``Recurrence.to_json``, checked when it was imported), parsed once per shape."""
    if recurrence is None:
        return None
    return _parsed(tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in recurrence.items())))


@lru_cache(maxsize=1024)  # a tick moves on thousands of reminders with a handful of distinct rules
def _parsed(frozen: tuple) -> Recurrence | None:
    return parse_recurrence({k: list(v) if isinstance(v, tuple) else v for k, v in frozen}, "stored reminder", [])
