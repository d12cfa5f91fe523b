"""Every text the coordinators, the assistants and the team chat read, per language. Pure data.

One plain mapping per language, one module each (``sv``, ``da``, ``nb``, ``en``), of message keys to
``str.format`` strings. Swedish is the reference: a language or a key that is missing falls back to it.
Values are filled in by the caller already rendered (month labels come from Babel via
``core.months.month_label``).

Keys that end in ``.one`` / ``.other`` are plural forms, chosen with Babel's plural rules by
``render_plural``. A key per state (``status.part.<state>``, ``status.list.<filter>``) keeps each state
one more entry, not one more branch in code.
"""
from __future__ import annotations

from functools import lru_cache

from babel import Locale

from core.catalogue.da import DA
from core.catalogue.en import EN
from core.catalogue.nb import NB
from core.catalogue.sv import SV

LANGUAGES = ("sv", "da", "nb", "en")
BABEL_LOCALE = {"sv": "sv_SE", "da": "da_DK", "nb": "nb_NO", "no": "nb_NO", "en": "en_GB"}

CATALOGUE: dict[str, dict[str, str]] = {"sv": SV, "da": DA, "nb": NB, "en": EN}


def language(locale: str | None) -> str:
    """The catalogue language for an organisation's locale (``no`` and ``nb_NO`` are ``nb``; unknown is sv)."""
    if not locale:
        return "sv"
    base = locale.replace("-", "_").split("_")[0].lower()
    base = "nb" if base in ("no", "nn") else base
    return base if base in CATALOGUE else "sv"


def text(locale: str | None, key: str) -> str:
    """The raw format string for ``key`` in ``locale``, Swedish when that language lacks it."""
    return CATALOGUE[language(locale)].get(key) or SV[key]


def render(locale: str | None, key: str, **values) -> str:
    """``key`` in ``locale`` with ``values`` filled in (falls back to Swedish)."""
    return text(locale, key).format(**values)


@lru_cache(maxsize=8)
def _babel(locale: str) -> Locale:
    return Locale.parse(BABEL_LOCALE[locale])


def render_plural(locale: str | None, key: str, n: int, **values) -> str:
    """``key.one`` or ``key.other`` by Babel's plural rule for ``n``; ``n`` is passed on as ``{n}``."""
    lang = language(locale)
    form = _babel(lang).plural_form(n)
    chosen = f"{key}.{form}" if f"{key}.{form}" in CATALOGUE[lang] or f"{key}.{form}" in SV else f"{key}.other"
    return render(lang, chosen, n=n, **values)
