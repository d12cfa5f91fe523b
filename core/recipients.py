"""Who a customer reminder reaches, by role: the customer's contacts, the inspectors of the
customer's area, the organisation's admins. Pure: people in, recipients out."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Recipient:
    name: str
    email: str | None
    mobile: str | None
    staff_id: int | None = None  # set for the organisation's own people


@dataclass(frozen=True)
class StaffMember:
    id: int
    name: str
    roles: tuple[str, ...]
    area: str | None
    email: str | None
    mobile: str | None


def resolve_recipients(roles: list[str], contacts: list[dict], customer_area: str | None,
                       staff: list[StaffMember]) -> list[Recipient]:
    """Everyone the roles name, each once (the same address twice is one recipient), in role order."""
    found: list[Recipient] = []
    if "contacts" in roles:
        found += [Recipient(c["name"], c.get("email"), c.get("mobile")) for c in contacts]
    if "inspector" in roles and customer_area:
        found += [Recipient(s.name, s.email, s.mobile, s.id) for s in staff
                  if "inspector" in s.roles and s.area and s.area.casefold() == customer_area.casefold()]
    if "admin" in roles:
        found += [Recipient(s.name, s.email, s.mobile, s.id) for s in staff if "admin" in s.roles]
    unique, seen = [], set()
    for r in found:
        key = (r.email or "").lower(), r.mobile or ""
        if key not in seen:
            seen.add(key)
            unique.append(r)
    return unique
