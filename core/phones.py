"""Phone numbers in E.164, with Sweden as the default region."""
from __future__ import annotations

from functools import lru_cache

import phonenumbers


class InvalidPhoneNumber(ValueError):
    pass


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


def display(e164: str) -> str:
    """A number as Swedes write it (``070-123 45 67``), international for other countries."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    if parsed.country_code == 46:
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
