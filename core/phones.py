"""Phone numbers in E.164; national numbers are read in the organisation's country (Sweden by default)."""
from __future__ import annotations

from functools import lru_cache

import phonenumbers
from babel.core import get_global


class InvalidPhoneNumber(ValueError):
    pass


# A language that names one country. English does not, so an English organisation's country comes
# from its time zone (or the default time zone).
LOCALE_REGION = {"sv": "SE", "da": "DK", "nb": "NO", "nn": "NO", "no": "NO", "fi": "FI"}


def region_for(timezone: str | None, locale: str | None = None, default_timezone: str = "Europe/Stockholm") -> str:
    """The country whose national numbers (``20 12 34 56``) an organisation writes.

    The organisation's own time zone decides (CLDR's zone → territory data, via Babel); without one,
    its language if that names a country; else the default time zone's country; else Sweden.
    """
    territories = get_global("zone_territories")
    if timezone and territories.get(timezone):
        return territories[timezone]
    base = (locale or "").replace("-", "_").split("_")[0].lower()
    if base in LOCALE_REGION:
        return LOCALE_REGION[base]
    return territories.get(default_timezone) or "SE"


def to_e164(raw: str, region: str = "SE") -> str:
    """Normalise ``070-123 45 67`` to ``+46701234567``; raise InvalidPhoneNumber when it is not a real number."""
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(f"'{raw}' is not a phone number") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumber(f"'{raw}' is not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=16384)  # every inbound text parses its sender; the same people text again and again
def try_e164(raw: str, region: str = "SE") -> str | None:
    try:
        return to_e164(raw, region)
    except InvalidPhoneNumber:
        return None


def display(e164: str, region: str = "SE") -> str:
    """A number as people in ``region`` write it (``070-123 45 67``), international for other countries."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    if phonenumbers.region_code_for_number(parsed) == region:
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
