"""The month's funnel: reminded → delivered → acknowledged → still unfinished now. Pure: rows in, report out.

Per round and for the month, with the names behind each number. The store hands over one row per
reminder history row of the month's rounds (a person may have more than one in a round when a
reminder that expired in an outage was queued again); this folds them to one line per person per round.

- reminded: the provider accepted the reminder (a queued or expired one is not "reminded");
- delivered: the provider's status callback said delivered (or read);
- acknowledged: the person answered OK;
- unfinished now: reminded, and the month still has shifts of theirs to report or sign (as the host's
  latest import says).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

STAGES = ("reminded", "delivered", "acknowledged", "unfinished_now")
DELIVERED_STATUSES = frozenset({"delivered", "read"})


@dataclass(frozen=True)
class HistoryRow:
    """One reminder history row of a round, joined to its outbox row (None for imported ones)."""

    round_id: int
    staff_id: int
    name: str
    accepted: bool
    reminded_at: datetime | None  # when the provider took it
    status: str | None
    acknowledged_at: datetime | None


@dataclass(frozen=True)
class RoundInfo:
    id: int
    started_at: datetime
    requested_by: str | None
    scope: str


@dataclass
class PersonLine:
    """One person in one round."""

    staff_id: int
    name: str
    round_id: int
    reminded_at: datetime | None = None
    delivered: bool = False
    acknowledged_at: datetime | None = None
    unfinished_now: bool = False

    @property
    def reminded(self) -> bool:
        return self.reminded_at is not None


@dataclass
class RoundFunnel:
    info: RoundInfo
    people: list[PersonLine] = field(default_factory=list)

    def names(self, stage: str) -> list[str]:
        return sorted(p.name for p in self.people if _in_stage(p, stage))

    def counts(self) -> dict[str, int]:
        return {stage: len(self.names(stage)) for stage in STAGES}


@dataclass
class MonthFunnel:
    month: str
    rounds: list[RoundFunnel]

    def _people(self, stage: str) -> dict[int, str]:
        return {p.staff_id: p.name for r in self.rounds for p in r.people if _in_stage(p, stage)}

    def names(self, stage: str) -> list[str]:
        """Each person once for the month, however many rounds reached them."""
        return sorted(self._people(stage).values())

    def counts(self) -> dict[str, int]:
        return {stage: len(self._people(stage)) for stage in STAGES}


def _in_stage(p: PersonLine, stage: str) -> bool:
    if stage == "reminded":
        return p.reminded
    if stage == "delivered":
        return p.delivered
    if stage == "acknowledged":
        return p.acknowledged_at is not None
    return p.reminded and p.unfinished_now


def build(month: str, rounds: list[RoundInfo], rows: list[HistoryRow], unfinished_staff: set[int]) -> MonthFunnel:
    """Fold the history rows into one line per person per round, rounds in the order they started."""
    lines: dict[tuple[int, int], PersonLine] = {}
    for row in rows:
        line = lines.setdefault((row.round_id, row.staff_id),
                                PersonLine(staff_id=row.staff_id, name=row.name, round_id=row.round_id))
        if row.accepted and row.reminded_at is not None:
            line.reminded_at = row.reminded_at if line.reminded_at is None else min(line.reminded_at, row.reminded_at)
        line.delivered = line.delivered or (row.status in DELIVERED_STATUSES)
        if row.acknowledged_at is not None:
            line.acknowledged_at = max(filter(None, (line.acknowledged_at, row.acknowledged_at)))
        line.unfinished_now = row.staff_id in unfinished_staff
    by_round: dict[int, RoundFunnel] = {r.id: RoundFunnel(r) for r in rounds}
    for (round_id, _), line in sorted(lines.items(), key=lambda item: (item[1].name, item[0])):
        if round_id in by_round:
            by_round[round_id].people.append(line)
    ordered = sorted(by_round.values(), key=lambda r: (r.info.started_at, r.info.id))
    return MonthFunnel(month=month, rounds=ordered)
