"""Quiet hours: when reminders wait (replies never do)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time

    def contains(self, local: time) -> bool:
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


def parse_quiet_hours(value: str | None) -> QuietHours | None:
    """Parse ``"21:00-08:00"``; ``"off"`` (or empty) means none. Raise ValueError with what to write instead."""
    if value is None or value.strip().lower() in ("", "off", "av", "none"):
        return None
    try:
        a, b = (part.strip() for part in value.split("-"))
        start, end = time.fromisoformat(a), time.fromisoformat(b)
    except ValueError as exc:
        raise ValueError(f"quiet hours '{value}' must look like '21:00-08:00' or be 'off'") from exc
    if start == end:
        raise ValueError(f"quiet hours '{value}' start and end at the same time; write 'off' for none")
    return QuietHours(start, end)


def next_allowed(now: datetime, quiet: QuietHours | None, tz_name: str) -> datetime:
    """``now`` if outside quiet hours, else the moment they end (in UTC, like ``now``)."""
    if quiet is None:
        return now
    tz = ZoneInfo(tz_name)
    local = now.astimezone(tz)
    if not quiet.contains(local.time()):
        return now
    end_day = local.date()
    if quiet.start > quiet.end and local.time() >= quiet.start:
        end_day += timedelta(days=1)
    end_local = datetime.combine(end_day, quiet.end, tzinfo=tz)
    return end_local.astimezone(now.tzinfo)
