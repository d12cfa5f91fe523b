"""Who may use the API and what the API may show: key scopes, key hashing, masking of personal numbers.

Pure values and functions; the queries are in ``core.store.api_keys`` and the
checks at the door in ``webhooks.api.door``.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

# What each scope opens (webhooks.api.door maps every /api/v1 route to one of them).
SCOPES = {
    "import": "POST /api/v1/import of the key's own organisation, and the other data-changing routes",
    "events": "POST …/events",
    "buffer": "the integration buffer: poll, ack, waiting (the poll carries personal numbers)",
    "read": "the reports: customer reminders, events/<id>, audit",
}
OPERATOR = "operator"  # the actor name of PAMINN_API_KEY in the audit
KEY_PREFIX = "pmn_"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class AccessError(ValueError):
    """A request to create or change a key that cannot be done; the message says what to change."""


@dataclass(frozen=True)
class Access:
    """Who is calling: the operator (every organisation, every scope) or one organisation's key."""

    actor: str  # the key's name, or "operator"
    org_id: str | None  # None: the operator
    scopes: frozenset[str]
    key_id: int | None = None

    @property
    def operator(self) -> bool:
        return self.org_id is None

    def may(self, scope: str) -> bool:
        return self.operator or scope in self.scopes

    def reaches(self, org_id: str) -> bool:
        return self.operator or org_id == self.org_id


def new_key() -> str:
    """A fresh key: 256 random bits, URL-safe, with a prefix that makes a leaked key recognisable."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def parse_scopes(raw: str) -> list[str]:
    """``"import,read"`` → ``["import", "read"]``; an unknown or missing scope names the valid ones."""
    wanted = [s.strip().lower() for s in raw.split(",") if s.strip()]
    valid = ", ".join(SCOPES)
    if not wanted:
        raise AccessError(f"name at least one scope: {valid}")
    unknown = [s for s in wanted if s not in SCOPES]
    if unknown:
        raise AccessError(f"unknown scope {', '.join(map(repr, unknown))}; the scopes are {valid}")
    return [s for s in SCOPES if s in wanted]  # canonical order, no repeats


def check_key_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise AccessError(f"a key's name is 1–64 letters, digits, '.', '_' or '-', starting with a letter "
                          f"or digit (like 'lonesystem'), not {name[:64]!r}")
    if name == OPERATOR:
        raise AccessError(f"{OPERATOR!r} is the name the audit gives PAMINN_API_KEY; choose another")
    return name


def outcome_counts(answer: object) -> dict:
    """What an API write came to, as counts only, for the audit: never names, ids or numbers."""
    if not isinstance(answer, dict):
        return {}
    outcome: dict = {}
    for key, value in answer.items():
        if isinstance(value, bool):
            outcome[key] = value
        elif isinstance(value, int):
            outcome[key] = value
        elif isinstance(value, list):
            outcome[key] = len(value)
        elif isinstance(value, dict) and key == "counts":  # the import's created/updated/unchanged per kind
            outcome[key] = {kind: {k: v for k, v in c.items() if isinstance(v, int)}
                            for kind, c in value.items() if isinstance(c, dict)}
    return outcome
