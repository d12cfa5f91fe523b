"""Normalising what people type (case, diacritics and spacing do not matter), and masking the personal numbers
in it before it is shown to anyone."""
from __future__ import annotations

import re
import unicodedata


def fold(text: str) -> str:
    """Lower-case, strip diacritics (å→a, ö→o) and collapse white space."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.lower().split())


def without_controls(text: str) -> str:
    """``text`` without NUL and the other control characters (PostgreSQL refuses NUL in text).

    Newlines and tabs stay; so does everything else people type (emoji joiners, no-break spaces).
    """
    if not CONTROLS.search(text):
        return text
    return CONTROLS.sub("", text)


CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


# A Swedish personal or coordination number: YYMMDD or YYYYMMDD, an optional '-' or '+', four digits.
# The date must look like a date (day 61–91 for coordination numbers), so ids and E.164 mobiles
# (never preceded by a digit, '+' or a letter here) are left alone.
PERSONAL_NUMBER = re.compile(
    r"(?<![\w+])((?:18|19|20)?\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]|6[1-9]|[78]\d|9[01]))([-+]?)\d{4}(?!\w)")


def mask_personal_numbers(text: str) -> str:
    """``19900101-1234`` → ``19900101-****`` (and ``900101-1234`` → ``900101-****``).

    Applied to every reply (``core.replies.Reply``) and every team-chat text (``handlers.outbound``): what
    a person types is echoed back ("no one called '…'") or relayed to the team, and a personal number in
    it must reach neither.
    """
    if not any(c.isdigit() for c in text):
        return text
    return PERSONAL_NUMBER.sub(lambda m: f"{m.group(1)}{m.group(2) or '-'}****", text)
