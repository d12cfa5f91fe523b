"""Normalising what people type: case, diacritics and spacing do not matter."""
from __future__ import annotations

import unicodedata


def fold(text: str) -> str:
    """Lower-case, strip diacritics (å→a, ö→o) and collapse white space."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.lower().split())
