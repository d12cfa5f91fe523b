"""Field names the import format knows, and problems for the ones it does not.

A misspelt name ("mobil", "reminder_enabled") would otherwise be ignored: the record stored
without a mobile, or with reminders on. So every unknown name is refused, with the nearest
known one, at every level of the document.
"""
from __future__ import annotations

from collections.abc import Iterable
from difflib import get_close_matches

SHOWN = 64  # an unknown name is quoted up to this many characters


def nearest(name: str, known: Iterable[str]) -> str | None:
    """The known name closest to ``name``, if any is close enough to be a likely misspelling."""
    matches = get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    if not matches and name.lower() != name:
        matches = get_close_matches(name.lower(), sorted(known), n=1, cutoff=0.6)
    return matches[0] if matches else None


def hint(name: str, known: Iterable[str]) -> str:
    """What to write instead of ``name``: the nearest name, else the whole list."""
    known = sorted(known)
    guess = nearest(name, known)
    return f"did you mean {guess!r}?" if guess else f"the fields here are {', '.join(known)}"


def unknown_fields(obj: dict, known: Iterable[str], where: str) -> list[str]:
    """One problem per key of ``obj`` the format does not have at this level, in the document's order."""
    known = frozenset(known)
    return [f"{where}: unknown field {str(key)[:SHOWN]!r} — {hint(str(key), known)}"
            for key in obj if key not in known]
