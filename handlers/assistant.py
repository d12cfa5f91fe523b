"""The assistant's conversation: OK, STOPP, START, HJÄLP, and free text to the coordinator."""
from __future__ import annotations

from core import store
from core import messages as text
from core.models import Staff
from core.months import Month, month_label
from handlers.context import Context
from handlers.outbound import gather_to_team, to_team


async def acknowledge(ctx: Context, people: list[Staff]) -> list[str]:
    latest = await store.latest_unacknowledged(ctx.session, [p.id for p in people])
    if latest is None:
        return [text.NO_REMINDER_TO_ACK]
    latest.acknowledged_at = ctx.now
    month = Month.parse_key(latest.month)
    person = next(p for p in people if p.id == latest.staff_id)
    org = await store.get_org(ctx.session, person.org_id)
    await gather_to_team(ctx, org, "ack", "Har bekräftat påminnelsen:",
                         f"✓ {person.name} ({month_label(month)})", f"{ctx.now.timestamp():.0f}:{person.id}")
    return [text.ack_reply(month)]


async def stop(ctx: Context, people: list[Staff]) -> list[str]:
    await store.set_opt_out(ctx.session, [p.id for p in people], ctx.now)
    for p in people:
        org = await store.get_org(ctx.session, p.org_id)
        await to_team(ctx, org, f"{p.name} har stängt av sina påminnelser (STOPP).",
                      f"team-stop:{p.id}:{ctx.now.timestamp():.0f}")
    return [text.STOPPED]


async def start(ctx: Context, people: list[Staff]) -> list[str]:
    await store.set_opt_out(ctx.session, [p.id for p in people], None)
    return [text.STARTED]


async def free_text(ctx: Context, people: list[Staff], body: str, provider_key: str) -> list[str]:
    """Pass an assistant's own words on to the team chat, with their name."""
    forwarded = False
    for p in people:
        org = await store.get_org(ctx.session, p.org_id)
        forwarded |= await to_team(ctx, org, f"Meddelande från {p.name}: {body}", f"team-fwd:{provider_key}:{p.id}")
    return [text.forwarded_reply() if forwarded else text.unknown_reply(None, coordinator=False)]
