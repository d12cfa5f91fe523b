"""When a message that failed for a transient reason is tried again, and when it stops. Pure: time is a parameter.

A message is retried for its useful life (its validity, counted from its first try), not a fixed
number of times: an outage of hours loses nothing that can still matter. The pause between tries
grows and is capped; the last try lands on the deadline; a message that may not go in quiet hours
never gets a try inside them (a deadline that falls in quiet hours gets its last try when they end).
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta

from core.quiet import QuietHours, next_allowed

DEFAULT_VALIDITY = 10 * 3600  # seconds: Twilio's own queue validity
DEFAULT_MAX_BACKOFF = 300.0  # seconds between tries at most

_DURATION = re.compile(r"^\s*(\d+)\s*([hms]?)\s*$", re.IGNORECASE)
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600}


def parse_duration(value: object, what: str) -> int:
    """Seconds from ``36000``, ``"36000"``, ``"600m"`` or ``"10h"``; ValueError saying what to write instead."""
    if isinstance(value, bool):
        value = None
    if isinstance(value, int):
        seconds = value
    else:
        match = _DURATION.match(value) if isinstance(value, str) else None
        if match is None:
            raise ValueError(f"{what} {value!r} must be a duration like '10h', '90m' or a number of seconds")
        seconds = int(match.group(1)) * _UNIT[match.group(2).lower()]
    if seconds <= 0:
        raise ValueError(f"{what} {value!r} must be longer than zero, e.g. '10h'")
    return seconds


def waits_for_quiet_hours(kind: str, channel: str) -> bool:
    """Reporting reminders never go in quiet hours (any channel); customer reminders and event
    notifications wait for them by SMS; replies and team messages never wait."""
    return kind == "reminder" or (channel == "sms" and kind in ("customer-reminder", "event-notification"))


def backoff(attempts: int, retry_after: float | None, cap: float = DEFAULT_MAX_BACKOFF) -> float:
    """Seconds to wait after the ``attempts``-th try: the provider's Retry-After, else 2, 4, 8 … up to ``cap``."""
    if retry_after is not None:
        return max(0.0, retry_after)
    return float(min(cap, 2 ** min(max(attempts, 1), 20)))


def next_try(now: datetime, *, attempts: int, retry_after: float | None, expires_at: datetime | None,
             cap: float = DEFAULT_MAX_BACKOFF, quiet: QuietHours | None = None,
             tz_name: str = "Europe/Stockholm") -> datetime | None:
    """When to try again, or None: the validity has run out and the message is ``expired``."""
    if expires_at is not None and now >= expires_at:
        return None
    at = now + timedelta(seconds=backoff(attempts, retry_after, cap))
    if expires_at is not None and at > expires_at:
        at = expires_at  # one last try right at the deadline
    return next_allowed(at, quiet, tz_name) if quiet is not None else at
