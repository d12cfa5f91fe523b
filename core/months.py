"""Months: parsing what people type, naming them per locale, and their bounds in a time zone."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel.dates import format_date, get_month_names

from core.text import fold

BABEL_LOCALE = {"sv": "sv_SE", "da": "da_DK", "nb": "nb_NO", "no": "nb_NO", "en": "en_GB"}


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse_key(cls, key: str) -> "Month":
        """Parse ``YYYY-MM``."""
        year, month = key.split("-")
        result = cls(int(year), int(month))
        if not 1 <= result.month <= 12:
            raise ValueError(f"month out of range: {key}")
        return result

    @property
    def key(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def shift(self, months: int) -> "Month":
        index = self.year * 12 + (self.month - 1) + months
        return Month(index // 12, index % 12 + 1)

    def bounds_utc(self, tz_name: str) -> tuple[datetime, datetime]:
        """The month as a half-open UTC interval, its edges at local midnight in ``tz_name``."""
        tz = ZoneInfo(tz_name)
        nxt = self.shift(1)
        start = datetime(self.year, self.month, 1, tzinfo=tz).astimezone(timezone.utc)
        end = datetime(nxt.year, nxt.month, 1, tzinfo=tz).astimezone(timezone.utc)
        return start, end


def month_of(moment: datetime, tz_name: str) -> Month:
    """The month ``moment`` falls in, seen from ``tz_name``."""
    local = moment.astimezone(ZoneInfo(tz_name))
    return Month(local.year, local.month)


def month_name(month: Month, locale: str = "sv") -> str:
    """The month's name as the language writes it on its own: ``maj`` (sv, da), ``mai`` (nb), ``May`` (en)."""
    loc = BABEL_LOCALE.get(locale, "sv_SE")
    return format_date(date(month.year, month.month, 1), "LLLL", locale=loc)


def month_label(month: Month, locale: str = "sv") -> str:
    """``maj 2026``."""
    return f"{month_name(month, locale)} {month.year}"


@lru_cache(maxsize=1)
def month_lookup() -> dict[str, int]:
    """Folded month names and abbreviations in every supported locale → month number."""
    lookup: dict[str, int] = {}
    for loc in set(BABEL_LOCALE.values()):
        for context in ("format", "stand-alone"):
            for width in ("wide", "abbreviated"):
                for number, name in get_month_names(width, context, locale=loc).items():
                    key = fold(name).rstrip(".")
                    if key:
                        lookup.setdefault(key, number)
    for number in range(1, 13):
        lookup[str(number)] = number
        lookup[f"{number:02d}"] = number
    return lookup


RELATIVE = {
    "forra manaden": -1, "forra manad": -1, "forra": -1, "last month": -1, "sidste maned": -1,
    "forrige maned": -1, "denna manad": 0, "denna manaden": 0, "this month": 0, "denne maned": 0,
}


@dataclass(frozen=True)
class MonthSpec:
    """What the person wrote about the month, resolved against ``today`` later."""

    month: int | None = None
    year: int | None = None
    relative: int | None = None


def parse_month_words(words: list[str]) -> tuple[MonthSpec, int] | None:
    """Read a month from the start of ``words`` (already folded); return it and how many words it used."""
    if not words:
        return None
    for length in (2, 1):
        phrase = " ".join(words[:length])
        if phrase in RELATIVE:
            return MonthSpec(relative=RELATIVE[phrase]), length
    # "2026-05" or "5/2026"
    first = words[0]
    for sep in ("-", "/"):
        if sep in first:
            a, _, b = first.partition(sep)
            if a.isdigit() and b.isdigit():
                if len(a) == 4 and 1 <= int(b) <= 12:
                    return MonthSpec(month=int(b), year=int(a)), 1
                if len(b) == 4 and 1 <= int(a) <= 12:
                    return MonthSpec(month=int(a), year=int(b)), 1
    number = month_lookup().get(first.rstrip("."))
    if number is None:
        return None
    if len(words) > 1 and words[1].isdigit() and len(words[1]) == 4:
        return MonthSpec(month=number, year=int(words[1])), 2
    return MonthSpec(month=number), 1


def resolve_month(spec: MonthSpec | None, today: date) -> Month:
    """Resolve against ``today``; no spec means last month; no year means the latest not in the future."""
    current = Month(today.year, today.month)
    if spec is None:
        return current.shift(-1)
    if spec.relative is not None:
        return current.shift(spec.relative)
    assert spec.month is not None
    if spec.year is not None:
        return Month(spec.year, spec.month)
    candidate = Month(today.year, spec.month)
    return candidate if candidate <= current else Month(today.year - 1, spec.month)
