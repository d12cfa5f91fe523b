"""The assistant's conversation: OK, STOPP, START, HJÄLP, and free text to the coordinator."""
from __future__ import annotations

from core import messages as text
from core import store
from core.catalogue import render
from core.models import Organisation, Staff
from core.months import Month, month_label
from core.replies import Reply
from handlers.context import Context, require_org
from handlers.outbound import gather_to_team, to_team


async def acknowledge(ctx: Context, people: list[Staff]) -> list[Reply]:
    return (await acknowledge_many(ctx, [people]))[0]


async def acknowledge_many(ctx: Context, senders: list[list[Staff]]) -> list[list[Reply]]:
    """OK from several senders (each given as everyone that sender is): each acknowledges their
    newest unacknowledged reminder; the team chats hear it gathered. No two senders may share a person
    (their OKs do not commute: the second acknowledges the next reminder, so it goes in a later call).

    Set-based, so the burst of OKs after a round costs a few statements, not a few per OK.
    """
    chosen = await store.acknowledge_newest(ctx.session, [[p.id for p in people] for people in senders], ctx.now)
    staff = {p.id: p for people in senders for p in people}
    orgs = await store.orgs_by_ids(ctx.session, [p.org_id for people in senders for p in people])
    team_lines: dict[str, list[tuple[str, Staff]]] = {}
    replies = []
    for people, reminder in zip(senders, chosen):
        if reminder is None:
            replies.append([Reply.of(_locale(orgs[people[0].org_id]), "assistant.nothing_to_ack")])
            continue
        _, _, staff_id, month_key = reminder
        month, person = Month.parse_key(month_key), staff[staff_id]
        loc = _locale(orgs[person.org_id])
        line = render(loc, "team.ack_line", name=person.name, month=month_label(month, loc))
        team_lines.setdefault(person.org_id, []).append((line, person))
        replies.append([Reply(text.ack_reply(month, loc), key="assistant.ack", locale=loc)])
    for org_id, lines in team_lines.items():
        header = render(_locale(orgs[org_id]), "team.ack_header")
        await gather_to_team(ctx, orgs[org_id], "ack", header, [line for line, _ in lines],
                             f"{ctx.now.timestamp():.0f}:{lines[0][1].id}")
    return replies


def _locale(org: Organisation | None) -> str:
    return (org.locale if org is not None else None) or "sv"


async def locale_of(ctx: Context, people: list[Staff]) -> str:
    """The language to answer a person in: their (first) organisation's."""
    return _locale(await store.get_org(ctx.session, people[0].org_id))


async def stop(ctx: Context, people: list[Staff], provider_key: str) -> list[Reply]:
    newly_stopped = [p for p in people if p.opted_out_at is None]  # a repeated STOPP changes nothing
    await store.set_opt_out(ctx.session, [p.id for p in people], ctx.now)
    for p in newly_stopped:
        org = await require_org(ctx, p.org_id)
        await to_team(ctx, org, render(_locale(org), "team.stopped", name=p.name), f"team-stop:{provider_key}:{p.id}")
    return [Reply.of(await locale_of(ctx, people), "assistant.stopped")]


async def start(ctx: Context, people: list[Staff]) -> list[Reply]:
    await store.set_opt_out(ctx.session, [p.id for p in people], None)
    return [Reply.of(await locale_of(ctx, people), "assistant.started")]


async def free_text(ctx: Context, people: list[Staff], body: str, provider_key: str) -> list[Reply]:
    """Pass an assistant's own words on to the team chat, with their name."""
    forwarded = False
    for p in people:
        org = await require_org(ctx, p.org_id)
        forwarded |= await to_team(ctx, org, render(_locale(org), "team.forwarded", name=p.name, body=body),
                                   f"team-fwd:{provider_key}:{p.id}")
    locale = await locale_of(ctx, people)
    if forwarded:
        return [Reply.of(locale, "assistant.forwarded")]
    return [Reply(text.unknown_reply(None, coordinator=False, locale=locale), key="assistant.unknown", locale=locale)]
