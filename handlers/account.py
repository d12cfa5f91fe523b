"""Linking a chat account to staff, choosing the team chat and one's own channel.

Answers follow the organisation's language once the account is linked (Swedish before: nobody is
known yet).
"""
from __future__ import annotations

from core import store
from core.catalogue import language, render
from core.channels import SMS, TELEGRAM
from core.models import Staff
from core.months import Month
from core.phones import try_e164
from core.replies import RemoveKeyboard, Reply, ShareNumber
from handlers.context import Context, is_coordinator, require_org

CHANNEL_CHOICES = (TELEGRAM, SMS)
# The Swedish texts, for callers that know no organisation.
LINK_PROMPT = render("sv", "account.link_prompt")
NOT_LINKED = render("sv", "account.not_linked")


def not_linked() -> Reply:
    """What an account nobody linked hears, whatever it wrote."""
    return Reply.of(None, "account.not_linked")


async def _locale(ctx: Context, people: list[Staff]) -> str:
    """The language of the (first) organisation ``people`` work for; Swedish when none."""
    org = await store.get_org(ctx.session, people[0].org_id) if people else None
    return language(org.locale if org is not None else None)


async def start(ctx: Context, user_id: int) -> list[Reply]:
    """/start: a linked account is told who it is; an unlinked one is offered to share its number."""
    people = await store.staff_by_telegram(ctx.session, user_id)
    if people:
        return [Reply.of(await _locale(ctx, people), "account.already_linked", name=people[0].name)]
    return [Reply.of(None, "account.link_prompt", intent=ShareNumber())]


async def link_chat_account(ctx: Context, user_id: int, contact_user_id: int | None, phone: str) -> list[Reply]:
    """Link ``user_id`` to the staff with that mobile, if the contact is the sender's own."""
    done = RemoveKeyboard()  # the number was shared (or refused): the share button has done its part
    if contact_user_id != user_id:
        return [Reply.of(None, "account.not_own_number", intent=done)]
    mobile = try_e164(phone if phone.startswith("+") or phone.startswith("0") else f"+{phone}")
    people = await store.staff_by_mobile(ctx.session, mobile) if mobile else []
    if not people:
        return [Reply.of(None, "account.unknown_number", intent=done)]
    for person in people:
        person.telegram_user_id = user_id
    names = ", ".join(sorted({p.name for p in people}))
    return [Reply.of(await _locale(ctx, people), "account.linked", names=names, intent=done)]


async def already_linked(ctx: Context, user_id: int) -> str | None:
    people = await store.staff_by_telegram(ctx.session, user_id)
    return people[0].name if people else None


async def make_team_chat(ctx: Context, user_id: int, address: str | None) -> list[Reply]:
    """A coordinator makes this group (``address``; None: a private chat) the organisation's team chat."""
    people = await store.staff_by_telegram(ctx.session, user_id)
    if address is None:
        return [Reply.of(await _locale(ctx, people), "account.teamchat_in_group")]
    leader = next((p for p in people if is_coordinator(p)), None)
    if leader is None:
        return [Reply.of(await _locale(ctx, people), "account.teamchat_not_coordinator")]
    org = await require_org(ctx, leader.org_id)
    org.team_chat = address
    return [Reply.of(org.locale, "account.teamchat_set", org=org.name)]


async def choose_channel(ctx: Context, user_id: int, wanted: str) -> list[Reply]:
    people = await store.staff_by_telegram(ctx.session, user_id)
    if not people:
        return [not_linked()]
    locale = await _locale(ctx, people)
    if wanted not in CHANNEL_CHOICES:
        return [Reply.of(locale, "account.channel_choices")]
    for person in people:
        person.preferred_channel = wanted
    return [Reply.of(locale, f"account.channel.{wanted}")]


def month_from_key(key: str) -> Month | None:
    try:
        return Month.parse_key(key)
    except (ValueError, AttributeError):
        return None
