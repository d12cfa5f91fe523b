"""A person's own data: export everything held on them, erase it, and blank old message bodies.

Channel-agnostic like every handler: the CLI (and later the console or the API) calls these with a
session it owns. Nothing here logs what it reads.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from core import personal_data as pd
from core import store
from core.phones import display, try_e164

KINDS = ("staff", "care_recipient", "contact")


class PersonError(LookupError):
    """The organisation or person asked for is not there, or the question is ambiguous."""


def phone_forms(e164: str | None) -> list[str]:
    """The ways a number may have been typed in a text: +46701234567, 070-123 45 67, 0701234567 …"""
    if not e164:
        return []
    national = display(e164)
    digits = "".join(ch for ch in national if ch.isdigit())
    return sorted({e164, e164.lstrip("+"), national, digits, national.replace("-", " "), national.replace(" ", "")},
                  key=len, reverse=True)


async def find_person(session: AsyncSession, org_id: str, *, host_id: str | None = None, kind: str | None = None,
                      contact: str | None = None) -> pd.Person:
    """The person of ``org_id`` with host id ``host_id`` (staff or care recipient), or the customers'
    contact with mobile or e-mail ``contact``; PersonError says what to change."""
    if await store.get_org(session, org_id) is None:
        raise PersonError(f"there is no organisation '{org_id}'")
    if contact is not None and host_id is None:
        return await _find_contact(session, org_id, contact)
    if host_id is None or contact is not None:  # neither given, or both
        raise PersonError("give either a host id (--id) or a contact's mobile or e-mail (--contact)")
    if kind not in (None, "staff", "care_recipient"):
        raise PersonError(f"--kind must be staff or care_recipient, not '{kind}'")
    staff = await store.staff_by_host_id(session, org_id, host_id) if kind in (None, "staff") else None
    recipient = (await store.care_recipient_by_host_id(session, org_id, host_id)
                 if kind in (None, "care_recipient") else None)
    if staff is not None and recipient is not None:
        raise PersonError(f"'{host_id}' in '{org_id}' is both a staff member and a care recipient: "
                          "add --kind staff or --kind care_recipient")
    if staff is not None:
        return pd.Person(org_id, "staff", staff.name, staff=staff, mobile=staff.mobile, email=staff.email,
                         telegram_user_id=staff.telegram_user_id,
                         extra_needles=[n for n in (staff.personal_number, staff.sd_number) if n])
    if recipient is not None:
        return pd.Person(org_id, "care_recipient", recipient.name, care_recipient=recipient)
    what = {"staff": "staff member", "care_recipient": "care recipient"}.get(kind or "",
                                                                            "staff member or care recipient")
    raise PersonError(f"'{org_id}' has no {what} with id '{host_id}'")


async def _find_contact(session: AsyncSession, org_id: str, contact: str) -> pd.Person:
    is_email = "@" in contact
    mobile = None if is_email else try_e164(contact)
    if not is_email and mobile is None:
        raise PersonError(f"'{contact}' is neither an e-mail address nor a phone number")
    found = await store.customers_listing_contact(session, org_id, mobile, contact.strip() if is_email else None)
    if not found:
        raise PersonError(f"no customer of '{org_id}' lists a contact with {'e-mail' if is_email else 'mobile'} "
                          f"{contact}")
    first = found[0][1]
    # One person may be listed by several customers, perhaps with their number on one and e-mail on another.
    mobile = mobile or next((c.get("mobile") for _, c in found if c.get("mobile")), None)
    email = contact.strip() if is_email else next((c.get("email") for _, c in found if c.get("email")), None)
    names = sorted({name for _, c in found if (name := c.get("name"))}, key=len, reverse=True)
    return pd.Person(org_id, "contact", first.get("name") or "", contact=first, mobile=mobile, email=email,
                     extra_needles=names[1:])


async def export_person(session: AsyncSession, person: pd.Person) -> dict:
    """Everything held on the person, as JSON-ready values (the personal number in full: it is theirs)."""
    if person.kind == "staff":
        body = await store.staff_export(session, person)
    elif person.kind == "care_recipient":
        body = await store.care_recipient_export(session, person)
    else:
        customers = await store.customers_listing_contact(session, person.org_id, person.mobile, person.email)
        body = await store.contact_export(session, person, customers)
    return {"organisation": person.org_id, "kind": person.kind, **body}


async def erase_person(session: AsyncSession, person: pd.Person, now: datetime) -> pd.Erasure:
    """Remove everything held on the person, keeping anonymous counts."""
    return await store.erase_person_data(session, person, now, phone_forms=phone_forms(person.mobile))


async def apply_retention(session: AsyncSession, now: datetime, days: int, org_id: str | None = None
                          ) -> dict[str, int]:
    """Blank message bodies older than ``days`` (all organisations, or one)."""
    if org_id is not None and await store.get_org(session, org_id) is None:
        raise PersonError(f"there is no organisation '{org_id}'")
    return await store.blank_old_bodies(session, now - timedelta(days=days), org_id)
