"""What a file may declare complete (``complete``, ``shifts_window``): stored records it lacks are retired."""
from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from core.fieldnames import hint, unknown_fields
from core.importer.fields import COMPLETABLE, WINDOW_FIELDS, day_of


def complete(doc: dict, problems: list[str]) -> frozenset[str]:
    """``"complete": ["staff", "shifts"]``: the lists that hold everything the host has for the organisation."""
    value = doc.get("complete")
    if value is None:
        return frozenset()
    example = '"complete": ["staff", "shifts"]'
    if not isinstance(value, list) or not all(isinstance(k, str) for k in value):
        problems.append(f"'complete' must be a list of list names like {example}")
        return frozenset()
    names = set()
    for name in value:
        if name == "reminder_history":
            problems.append("'complete' cannot name 'reminder_history': history is only ever added to")
        elif name not in COMPLETABLE:
            problems.append(f"'complete' names {name[:64]!r}, which is not a list that can be complete — "
                            f"{hint(name, COMPLETABLE)}")
        elif not isinstance(doc.get(name), list):
            problems.append(f"'complete' names {name!r}, but the file has no {name!r} list; send "
                            f'"{name}": [] if the organisation really has none left')
        else:
            names.add(name)
    if "shifts" in names and doc.get("shifts_window") is not None:
        problems.append("'complete' names 'shifts' and there is a 'shifts_window': send one or the other")
    return frozenset(names)


def shifts_window(doc: dict, tz: ZoneInfo, problems: list[str]) -> tuple[datetime, datetime] | None:
    """``"shifts_window": {"from": "2026-05-01", "to": "2026-05-31"}``: the file has every shift starting on
    those days (both included, in the organisation's time zone); as UTC bounds [from, day after to)."""
    value = doc.get("shifts_window")
    if value is None:
        return None
    example = '{"from": "2026-05-01", "to": "2026-05-31"}'
    if not isinstance(value, dict):
        problems.append(f"'shifts_window' must be an object like {example}")
        return None
    problems += unknown_fields(value, WINDOW_FIELDS, "shifts_window")
    first, last = day_of(value.get("from")), day_of(value.get("to"))
    if first is None or last is None:
        problems.append(f"'shifts_window' needs 'from' and 'to' as dates, like {example}")
        return None
    if last < first:
        problems.append("'shifts_window': 'to' is before 'from'")
        return None
    if not isinstance(doc.get("shifts"), list):
        problems.append("'shifts_window' is given, but the file has no 'shifts' list; send \"shifts\": [] if the "
                        "window really has no shifts left")
        return None
    lo = datetime.combine(first, time(), tz)
    hi = datetime.combine(last + timedelta(days=1), time(), tz)
    return lo, hi
