"""Writing outbound messages: every text the service sends becomes an outbox row here."""
from __future__ import annotations

from datetime import datetime
from typing import Callable

from core import store
from core.catalogue import render
from core.channels import EMAIL, SMS, outbox_row
from core.eligibility import Candidate
from core.models import Organisation, OutboxMessage, Staff
from core.quiet import next_allowed
from core.recipients import Recipient
from core.text import mask_personal_numbers
from handlers.context import Context


def person_row(ctx: Context, staff: Staff | Candidate, body: str, *, kind: str, key: str,
               not_before: datetime | None = None) -> dict | None:
    """An outbox row for a text to ``staff`` (a row or a month's candidate), or None when unreachable."""
    route = ctx.route_person(staff) if ctx.route_person else None
    if route is None:
        return None
    return outbox_row(key=key, channel=route.channel, address=route.address, body=body, kind=kind, now=ctx.now,
                      org_id=staff.org_id, staff_id=staff.id, not_before=not_before)


async def to_team(ctx: Context, org: Organisation, body: str, key: str, not_before: datetime | None = None) -> bool:
    """Queue ``body`` for the organisation's team chat; False when it has none.

    The team chat relays what people write (an assistant's words, a customer's answer): personal numbers
    in it are masked here, and in ``rewrite_waiting`` for a gathered message that grows before it goes."""
    if not org.team_chat or ctx.route_team is None:
        return False
    route = ctx.route_team(org.team_chat)
    if route is None:
        return False
    await ctx.enqueue([outbox_row(key=key, channel=route.channel, address=route.address,
                                  body=mask_personal_numbers(body), kind="team", now=ctx.now, org_id=org.id,
                                  not_before=not_before, segments=1)])
    return True


async def gather_to_team(ctx: Context, org: Organisation, topic: str, header: str, lines: list[str],
                         key: str) -> None:
    """Add ``lines`` to the topic's team message still waiting to go, or start one that waits a window.

    Acknowledgements arrive in bursts after a round; the team hears them at most once per window.
    """
    if not org.team_chat:
        return
    open_msg = await store.pending_team_message(ctx.session, f"team-{topic}:{org.id}:", ctx.now)
    if open_msg is not None:
        rewrite_waiting(open_msg, "\n".join([open_msg.body, *lines]))
        return
    await to_team(ctx, org, "\n".join([header, *lines]), f"team-{topic}:{org.id}:{key}",
                  not_before=ctx.now + ctx.team_ack_window)


def rewrite_waiting(msg: OutboxMessage, body: str) -> None:
    """Give a gathered message still waiting to go its new, longer text, masked as ``to_team`` masks."""
    msg.body = mask_personal_numbers(body)


KINDS = {"email": (EMAIL,), "sms": (SMS,), "both": (EMAIL, SMS)}  # a delivery's ways


def rows_to_addresses(ctx: Context, org: Organisation, recipients: list[Recipient], kinds: tuple[str, ...],
                      body_for: Callable[[Recipient], str], *, key_prefix: str, kind: str,
                      subject: str) -> tuple[list[dict], list[str]]:
    """Outbox rows for people who are addresses (e-mail and/or SMS): one per recipient and way, one per
    address; SMS waits out quiet hours, e-mail does not. Also who could not be reached, and why (in the
    organisation's language)."""
    rows, sent_to, unreached = [], set(), []
    for recipient in recipients:
        body = body_for(recipient)
        reached, missing = False, []
        for way in kinds:
            address = recipient.email if way == EMAIL else recipient.mobile
            route = ctx.route_address(way, address) if address and ctx.route_address else None
            if route is None:
                missing.append(render(org.locale, f"address.missing.{way}" if not address else f"address.off.{way}"))
                continue
            reached = True
            if (way, address) in sent_to:  # two recipients sharing an address get one message
                continue
            sent_to.add((way, address))
            rows.append(outbox_row(
                key=f"{key_prefix}{way}:{address}", channel=route.channel, address=route.address, body=body,
                kind=kind, now=ctx.now, org_id=org.id, staff_id=recipient.staff_id, payload={"subject": subject},
                segments=None if way == SMS else 1,
                not_before=next_allowed(ctx.now, ctx.quiet(org), ctx.tz(org)) if way == SMS else None))
        if not reached:
            unreached.append(render(org.locale, "address.unreached", name=recipient.name, missing=", ".join(missing)))
    return rows, unreached
