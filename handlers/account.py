"""Linking a chat account to staff, choosing the team chat and one's own channel."""
from __future__ import annotations

from core import store
from core.months import Month
from core.phones import try_e164
from handlers.context import Context, is_coordinator

LINK_PROMPT = "Hej! Tryck på knappen nedan och dela ditt mobilnummer, så kopplar jag ditt konto."
NOT_LINKED = "Jag känner inte igen dig än. Skicka /start och dela ditt mobilnummer för att koppla ditt konto."


async def link_chat_account(ctx: Context, user_id: int, contact_user_id: int | None, phone: str) -> list[str]:
    """Link ``user_id`` to the staff with that mobile, if the contact is the sender's own."""
    if contact_user_id != user_id:
        return ["Dela ditt eget nummer med knappen, inte någon annans."]
    mobile = try_e164(phone if phone.startswith("+") or phone.startswith("0") else f"+{phone}")
    people = await store.staff_by_mobile(ctx.session, mobile) if mobile else []
    if not people:
        return ["Det numret finns inte hos Påminn. Kontakta din arbetsgivare om du ska använda tjänsten här."]
    for person in people:
        person.telegram_user_id = user_id
    names = ", ".join(sorted({p.name for p in people}))
    return [f"Klart! Ditt konto är kopplat till {names}. Skriv HJÄLP för vad du kan göra här."]


async def already_linked(ctx: Context, user_id: int) -> str | None:
    people = await store.staff_by_telegram(ctx.session, user_id)
    return people[0].name if people else None


async def make_team_chat(ctx: Context, user_id: int, address: str) -> list[str]:
    """A coordinator makes this group the organisation's team chat."""
    people = await store.staff_by_telegram(ctx.session, user_id)
    leader = next((p for p in people if is_coordinator(p)), None)
    if leader is None:
        return ["Bara samordnare kan välja teamchatt. Koppla ditt konto med /start i en privat chatt först."]
    org = await store.get_org(ctx.session, leader.org_id)
    org.team_chat = address
    return [f"Den här chatten är nu teamchatt för {org.name}. Här hörs påminnelser, svar och leveransfel."]


async def choose_channel(ctx: Context, user_id: int, wanted: str) -> list[str]:
    people = await store.staff_by_telegram(ctx.session, user_id)
    if not people:
        return [NOT_LINKED]
    if wanted not in ("telegram", "sms"):
        return ["Skriv /kanal telegram eller /kanal sms."]
    for person in people:
        person.preferred_channel = wanted
    where = "här i Telegram" if wanted == "telegram" else "som SMS"
    return [f"Dina påminnelser kommer nu {where}."]


def month_from_key(key: str) -> Month | None:
    try:
        return Month.parse_key(key)
    except (ValueError, AttributeError):
        return None
