"""SMS segment counting: GSM-7 (which has å ä ö) versus UCS-2."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€\f")


@dataclass(frozen=True)
class SegmentCount:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    segments: int


@lru_cache(maxsize=4096)  # a round sends one text to thousands of people
def count_segments(text: str) -> SegmentCount:
    """How many SMS parts ``text`` takes (160/153 septets, or 70/67 UTF-16 units)."""
    if all(c in GSM7_BASIC or c in GSM7_EXTENDED for c in text):
        units = sum(2 if c in GSM7_EXTENDED else 1 for c in text)
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, multi, encoding = 70, 67, "UCS-2"
    if units == 0:
        return SegmentCount(encoding, 0, 1)
    segments = 1 if units <= single else -(-units // multi)
    return SegmentCount(encoding, units, segments)
