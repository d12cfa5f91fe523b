"""Normalising what people type: case, diacritics and spacing do not matter."""
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
