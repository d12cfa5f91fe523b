"""SMS segment counting: GSM-7 (which has å ä ö) versus UCS-2."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€\f")
GSM7 = frozenset(GSM7_BASIC | GSM7_EXTENDED)


@dataclass(frozen=True)
class SegmentCount:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    segments: int


@lru_cache(maxsize=4096)  # a round sends one text to thousands of people
def count_segments(text: str) -> SegmentCount:
    """How many SMS parts ``text`` takes (160/153 septets, or 70/67 UTF-16 units)."""
    if GSM7.issuperset(text):  # set operations, not a Python loop per character: a tick counts thousands
        units = len(text) + sum(map(text.count, GSM7_EXTENDED))  # an extended character takes two septets
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, multi, encoding = 70, 67, "UCS-2"
    if units == 0:
        return SegmentCount(encoding, 0, 1)
    segments = 1 if units <= single else -(-units // multi)
    return SegmentCount(encoding, units, segments)
