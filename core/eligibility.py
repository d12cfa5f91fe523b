"""Who is due a reporting-status reminder, and why the rest are not. Pure: time is a parameter."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

REMIND_INTERVAL = timedelta(hours=2)


class Reason(str, Enum):
    DUE = "due"
    NOTHING_TO_REPORT = "nothing_to_report"
    REMINDERS_OFF = "reminders_off"
    RECIPIENT_REMINDERS_OFF = "recipient_reminders_off"
    NO_MOBILE = "no_mobile"
    REMINDED_RECENTLY = "reminded_recently"
    # A reminder for the month is queued but the provider has not taken it yet (an outage, quiet
    # hours): not reminded, and not to be queued a second time either.
    WAITING = "waiting"


# The order reasons are checked in, and shown in: what the person chose before what we lack.
REASON_ORDER = (
    Reason.NOTHING_TO_REPORT,
    Reason.REMINDERS_OFF,
    Reason.RECIPIENT_REMINDERS_OFF,
    Reason.NO_MOBILE,
    Reason.WAITING,
    Reason.REMINDED_RECENTLY,
)


@dataclass(frozen=True)
class Candidate:
    """One assistant's month, as the selection query aggregates it."""

    staff_id: int
    name: str
    mobile: str | None
    reminders_enabled: bool
    unfinished_shifts: int
    unfinished_at_enabled_recipient: int
    # The last reminder for the month the provider accepted (sent); queued or expired ones do not count.
    last_reminded_at: datetime | None
    channel: str = "sms"
    simulated: bool = False
    org_id: str | None = None
    telegram_user_id: int | None = None
    waiting: bool = False  # a reminder for the month is queued and not yet accepted by the provider

    # What routing needs, under the names a Staff row has, so either can be routed.
    @property
    def id(self) -> int:
        return self.staff_id

    @property
    def preferred_channel(self) -> str:
        return self.channel

    @property
    def mobile_invalid(self) -> bool:
        return False  # an invalid number is already given as no mobile


def evaluate(c: Candidate, now: datetime, *, apply_interval: bool = True) -> Reason:
    """The one reason that decides ``c``: DUE, or the first condition that fails."""
    if c.unfinished_shifts == 0:
        return Reason.NOTHING_TO_REPORT
    if not c.reminders_enabled:
        return Reason.REMINDERS_OFF
    if c.unfinished_at_enabled_recipient == 0:
        return Reason.RECIPIENT_REMINDERS_OFF
    if not c.mobile:
        return Reason.NO_MOBILE
    if c.waiting:  # also for PÅMINN <name>: a second copy would reach them twice once the first goes
        return Reason.WAITING
    if apply_interval and c.last_reminded_at is not None and now - c.last_reminded_at <= REMIND_INTERVAL:
        return Reason.REMINDED_RECENTLY
    return Reason.DUE


def split(candidates: list[Candidate], now: datetime, *, apply_interval: bool = True, done: int = 0
          ) -> tuple[list[Candidate], Counter[Reason]]:
    """The due candidates, and a count of every reason (DUE included).

    ``done`` is how many more people had shifts but nothing left (they are not candidates).
    """
    due: list[Candidate] = []
    counts: Counter[Reason] = Counter()
    if done:
        counts[Reason.NOTHING_TO_REPORT] = done
    for c in candidates:
        reason = evaluate(c, now, apply_interval=apply_interval)
        counts[reason] += 1
        if reason is Reason.DUE:
            due.append(c)
    return due, counts
