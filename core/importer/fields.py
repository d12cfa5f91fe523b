"""The import format's field names and limits, the plan it becomes, and the checks every record kind shares
(each problem names the record and the field)."""
from __future__ import annotations

import re
from collections.abc import Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TypeGuard
from zoneinfo import ZoneInfo

from core.fieldnames import unknown_fields
from core.phones import region_for

KNOWN_ROLES = {"assistant", "coordinator", "supervisor", "admin", "inspector"}
LOCALES = {"sv", "da", "nb", "en"}
DELIVERIES = ("email", "sms", "both")
LATER_DELIVERIES = ("system", "post", "external")  # in the design; not built yet, so refused clearly
RECIPIENT_ROLES = ("contacts", "inspector", "admin")
CONTACT_ROLES = ("notification_recipient",)
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# Every field name the format has, per level; any other name is refused (see core.fieldnames).
TOP_FIELDS = ("organisation", "staff", "care_recipients", "shifts", "reminder_history", "customers",
              "customer_reminders", "visits", "notification_templates", "complete", "shifts_window")
ORGANISATION_FIELDS = ("id", "name", "app_name", "app_link", "timezone", "locale", "quiet_hours",
                       "message_validity", "auto_rounds", "escalate_after")
AUTO_ROUND_FIELDS = ("day", "time")
MAX_AUTO_ROUNDS = 31  # slots per organisation: more is a mistake, not a schedule
DEFAULT_ESCALATE_AFTER = 3
RECORD_FIELDS = {
    "staff": ("id", "name", "mobile", "email", "roles", "reminders_enabled", "personal_number", "sd_number",
              "area", "telegram_user_id"),
    "care_recipients": ("id", "name", "reminders_enabled", "supervisors"),
    "shifts": ("id", "staff", "care_recipient", "start", "end", "reported", "signed"),
    "customers": ("id", "name", "area", "contacts", "decision"),
    "customer_reminders": ("id", "customer", "type", "title", "text", "due", "days_before", "recurrence",
                           "delivery", "recipients", "active"),
    "visits": ("id", "staff", "customer", "start", "end", "confirmed"),
    "notification_templates": ("id", "event_type", "title", "text", "delivery", "recipients"),
}
HISTORY_FIELDS = ("staff", "month", "sent_at")
CONTACT_FIELDS = ("name", "email", "mobile", "roles")
DECISION_FIELDS = ("from", "to")
TEMPLATE_RECIPIENT_FIELDS = ("staff", "contact_roles")
WINDOW_FIELDS = ("from", "to")
# Lists that may declare themselves complete, and what becomes of a stored record the list no longer
# has: people and customers are deactivated (kept for history, sent nothing); the rest is removed.
COMPLETABLE = {"staff": "deactivated", "care_recipients": "deactivated", "customers": "deactivated",
               "shifts": "removed", "visits": "removed", "customer_reminders": "removed",
               "notification_templates": "removed"}


class ImportError_(ValueError):
    """The file is refused; ``problems`` lists every record and field to fix."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass
class ImportPlan:
    organisation: dict
    staff: list[dict] = field(default_factory=list)
    care_recipients: list[dict] = field(default_factory=list)
    supervisions: list[tuple[str, str]] = field(default_factory=list)  # (recipient ext id, staff ext id)
    shifts: list[dict] = field(default_factory=list)
    history: list[dict] = field(default_factory=list)
    customers: list[dict] = field(default_factory=list)
    customer_reminders: list[dict] = field(default_factory=list)
    visits: list[dict] = field(default_factory=list)
    notification_templates: list[dict] = field(default_factory=list)
    timezone: str = "Europe/Stockholm"  # the organisation's, or the service's default
    # The lists that are the organisation's whole set: stored records they lack are retired.
    complete: frozenset[str] = frozenset()
    # [from, to) in UTC: stored shifts starting in it that the file lacks are removed.
    shifts_window: tuple[datetime, datetime] | None = None


def label(kind: str, index: int, rec: object) -> str:
    rid = rec.get("id") if isinstance(rec, dict) else None
    return f"{kind}[{index}]" + (f" (id {rid!r})" if rid is not None else "")


def field_text(rec: dict, key: str, where: str, problems: list[str], required: bool = True, max_len: int = 200):
    value = rec.get(key)
    if value is None:
        if required:
            problems.append(f"{where}: '{key}' is missing")
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and key == "id":
        value = str(value)
    if not isinstance(value, str) or (required and not value.strip()):
        problems.append(f"{where}: '{key}' must be a non-empty string")
        return None
    if len(value) > max_len:
        problems.append(f"{where}: '{key}' is longer than {max_len} characters")
        return None
    if "\x00" in value:
        problems.append(f"{where}: '{key}' contains a NUL character; remove it")
        return None
    return value.strip()


def field_flag(rec: dict, key: str, where: str, problems: list[str], default: bool = True) -> bool:
    value = rec.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        problems.append(f"{where}: '{key}' must be true or false, not {value!r}")
        return default
    return value


def field_moment(rec: dict, key: str, where: str, tz: ZoneInfo, problems: list[str]) -> datetime | None:
    value = rec.get(key)
    if not isinstance(value, str):
        problems.append(f"{where}: '{key}' must be an ISO 8601 time like 2026-05-03T08:00:00+02:00")
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        problems.append(f"{where}: '{key}' {value!r} is not an ISO 8601 time like 2026-05-03T08:00:00+02:00")
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def field_list(doc: dict, key: str, problems: list[str]) -> list:
    value = doc.get(key) or []
    if not isinstance(value, list):
        problems.append(f"'{key}' must be a list")
        return []
    return value


def records(doc: dict, kind: str, problems: list[str], ids: set[str]) -> Iterator[tuple[str, dict, str | None]]:
    """Each object in the list ``kind``, with its label for problems and its id (added to ``ids``).

    A record that is not an object, and an id given twice, are problems here.
    """
    for i, rec in enumerate(field_list(doc, kind, problems)):
        where = label(kind, i, rec)
        if not isinstance(rec, dict):
            problems.append(f"{where}: must be an object")
            continue
        problems += unknown_fields(rec, RECORD_FIELDS[kind], where)
        rid = field_text(rec, "id", where, problems, max_len=64)
        if rid in ids:
            problems.append(f"{where}: 'id' {rid!r} appears twice")
        ids.add(rid)
        yield where, rec, rid


def known(ref: object, ids: AbstractSet[str]) -> TypeGuard[str]:
    """Whether a reference names a known id; a list or object where an id belongs names none (and is no crash)."""
    return isinstance(ref, str) and ref in ids


def region_of(plan: ImportPlan) -> str:
    """Where national numbers in this file are read: the organisation's country (``20 12 34 56`` is Danish there)."""
    return region_for(plan.timezone, plan.organisation["locale"])


def day_of(value: object) -> date | None:
    """An ISO date (2026-05-03), or None for anything else."""
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
