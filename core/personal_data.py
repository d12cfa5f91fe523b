"""Personal data as a subject, the pure part: who a person is, what an export holds, and how erasure
masks their identifiers in free text.

A person is a staff member or a care recipient (by the host system's id) or a customer's contact
(by mobile or e-mail; contacts have no id of their own). The queries (finding the person, reading
their rows, erasing them, retention) are in ``core.store.personal_data``.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from core.models import CareRecipient, Staff

ERASED = "[raderad]"
# Outbox rows the dispatcher may still send or check against the provider: their bodies must stay.
LIVE_STATUSES = ("pending", "sending", "unknown")


@dataclass
class Person:
    """One person of one organisation and everything that identifies them in stored text."""

    org_id: str
    kind: str  # staff | care_recipient | contact
    name: str
    staff: Staff | None = None
    care_recipient: CareRecipient | None = None
    contact: dict | None = None  # for a contact: their entry as the customers list it
    mobile: str | None = None
    email: str | None = None
    telegram_user_id: int | None = None
    extra_needles: list[str] = field(default_factory=list)  # personal and SD numbers


def same_contact(contact: dict, mobile: str | None, email: str | None) -> bool:
    return bool((mobile and contact.get("mobile") == mobile)
                or (email and (contact.get("email") or "").lower() == email.lower()))


def _iso(value) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def export_row(obj, columns: Iterable[str]) -> dict:
    return {c: _iso(getattr(obj, c)) for c in columns}


STAFF_PROFILE = ("external_id", "name", "mobile", "mobile_invalid", "email", "roles", "reminders_enabled",
                 "opted_out_at", "personal_number", "sd_number", "area", "telegram_user_id", "preferred_channel",
                 "simulated")
OUTBOX_EXPORT = ("created_at", "channel", "address", "kind", "body", "status", "sent_at", "error_code")
INBOUND_EXPORT = ("received_at", "channel", "body", "reply")


def needles(person: Person, phone_forms: Iterable[str] = ()) -> list[str]:
    """Every string that identifies the person in free text, longest first (so parts go last)."""
    found = {person.name, person.mobile, person.email, *phone_forms, *person.extra_needles}
    if person.telegram_user_id:
        found.add(str(person.telegram_user_id))
    return sorted({n for n in found if n and len(n) >= 4}, key=len, reverse=True)


def scrub_text(text: str | None, patterns: list[re.Pattern]) -> str | None:
    if not text:
        return text
    for pattern in patterns:
        text = pattern.sub(ERASED, text)
    return text


def scrub_json(value: Any, patterns: list[re.Pattern]) -> Any:
    if isinstance(value, str):
        return scrub_text(value, patterns)
    if isinstance(value, list):
        return [scrub_json(v, patterns) for v in value]
    if isinstance(value, dict):
        return {k: scrub_json(v, patterns) for k, v in value.items()}
    return value


def erasure_patterns(words: list[str]) -> list[re.Pattern]:
    """Whole-word, case-insensitive matches (``Anna`` must not eat ``Johanna``), as typed and as JSON text
    escapes them (a stored raw Telegram update holds ``Gr\\u00f6n`` for ``Grön``)."""
    forms = sorted({f for w in words for f in (w, json.dumps(w)[1:-1])}, key=len, reverse=True)
    return [re.compile(rf"(?<!\w){re.escape(f)}(?!\w)", re.IGNORECASE) for f in forms]


def like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass
class Erasure:
    inbound_blanked: int = 0
    outbox_blanked: int = 0
    mentions_scrubbed: int = 0
    rows_removed: dict[str, int] = field(default_factory=dict)
