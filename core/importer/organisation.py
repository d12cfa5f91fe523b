"""The organisation's own settings beyond its name: automatic round slots and escalation."""
from __future__ import annotations

from datetime import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.fieldnames import unknown_fields
from core.importer.fields import (
    AUTO_ROUND_FIELDS,
    DEFAULT_ESCALATE_AFTER,
    LOCALES,
    MAX_AUTO_ROUNDS,
    ORGANISATION_FIELDS,
    field_text,
)
from core.quiet import parse_quiet_hours
from core.retry import parse_duration


def auto_rounds(org_in: dict, quiet_hours: str | None, problems: list[str]) -> list[dict] | None:
    """``"auto_rounds": [{"day": 1, "time": "09:00"}]``: day 1–28, or -1 for the month's last day;
    a local time outside the organisation's quiet hours. Stored sorted, as ``{"day", "time"}``."""
    value = org_in.get("auto_rounds")
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > MAX_AUTO_ROUNDS:
        problems.append(f"organisation: 'auto_rounds' must be a list of at most {MAX_AUTO_ROUNDS} slots like "
                        '[{"day": 1, "time": "09:00"}]')
        return None
    try:
        quiet = parse_quiet_hours(quiet_hours)
    except ValueError:
        quiet = None  # already reported as the organisation's quiet hours problem
    slots: set[tuple[int, str]] = set()
    for i, slot in enumerate(value):
        where = f"organisation: auto_rounds[{i}]"
        if not isinstance(slot, dict):
            problems.append(f'{where} must be an object like {{"day": 1, "time": "09:00"}}')
            continue
        problems += unknown_fields(slot, AUTO_ROUND_FIELDS, where)
        day, at = slot.get("day"), slot.get("time")
        if isinstance(day, bool) or not isinstance(day, int) or not (1 <= day <= 28 or day == -1):
            problems.append(f"{where}: 'day' {day!r} must be a day of the month from 1 to 28, or -1 for the "
                            "last day")
            day = None
        try:
            local = time.fromisoformat(at) if isinstance(at, str) and len(at) == 5 else None
        except ValueError:
            local = None
        if local is None:
            problems.append(f"{where}: 'time' {at!r} must be a local time like '09:00'")
        elif quiet is not None and quiet.contains(local):
            problems.append(f"{where}: 'time' {at} is inside the quiet hours {quiet_hours}; choose a time outside "
                            "them")
            local = None
        if isinstance(day, int) and isinstance(at, str) and local is not None:
            slots.add((day, at))
    return [{"day": d, "time": t} for d, t in sorted(slots)]


def escalate_after(org_in: dict, problems: list[str]) -> int | None:
    value = org_in.get("escalate_after")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 50:
        problems.append(f"organisation: 'escalate_after' {value!r} must be a number of reminders from 1 to 50 "
                        f"(default {DEFAULT_ESCALATE_AFTER})")
        return None
    return value


def organisation(org_in: dict, default_timezone: str, default_quiet_hours: str | None,
                 problems: list[str]) -> tuple[dict, ZoneInfo]:
    """The organisation's record and its time zone (the service's default when it names none, or a wrong one)."""
    where = "organisation"
    problems += unknown_fields(org_in, ORGANISATION_FIELDS, where)
    org = {
        "id": field_text(org_in, "id", where, problems, max_len=64),
        "name": field_text(org_in, "name", where, problems),
        "app_name": field_text(org_in, "app_name", where, problems, required=False) or "Coordinare",
        "app_link": field_text(org_in, "app_link", where, problems, required=False, max_len=300)
        or "https://app.coordinare.se",
        "timezone": field_text(org_in, "timezone", where, problems, required=False, max_len=64),
        "locale": field_text(org_in, "locale", where, problems, required=False, max_len=8) or "sv",
        "quiet_hours": field_text(org_in, "quiet_hours", where, problems, required=False, max_len=16),
        "message_validity": None,
    }
    if org_in.get("message_validity") is not None:
        try:
            org["message_validity"] = parse_duration(org_in["message_validity"], "'message_validity'")
        except ValueError as exc:
            problems.append(f"organisation: {exc}")
    tz_name = org["timezone"] or default_timezone
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"organisation: 'timezone' {tz_name!r} is not a time zone like 'Europe/Stockholm'")
        tz = ZoneInfo(default_timezone)
    if org["locale"] not in LOCALES:
        problems.append(f"organisation: 'locale' {org['locale']!r} must be one of {', '.join(sorted(LOCALES))}")
    if org["quiet_hours"] is not None:
        try:
            parse_quiet_hours(org["quiet_hours"])
        except ValueError as exc:
            problems.append(f"organisation: {exc}")
    org["auto_rounds"] = auto_rounds(org_in, org["quiet_hours"] if org["quiet_hours"] is not None
                                      else default_quiet_hours, problems)
    org["escalate_after"] = escalate_after(org_in, problems)
    return org, tz
