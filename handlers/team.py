"""What the team chat hears about deliveries and completed months."""
from __future__ import annotations

from core import store
from core.catalogue import language, render
from core.models import OutboxMessage
from core.months import Month, month_label
from handlers.context import Context
from handlers.outbound import gather_to_team, person_row, to_team


CHANNELS = ("sms", "telegram", "simulator")


def _locale(org) -> str:
    return language(org.locale if org is not None else None)


async def delivery_failed(ctx: Context, msg: OutboxMessage, reason: str) -> None:
    """Record what a permanent failure means for the person, and tell the team."""
    if msg.staff_id is None or msg.org_id is None:
        return
    people = await store.staff_by_ids(ctx.session, [msg.staff_id])
    if not people:
        return
    person = people[0]
    org = await store.get_org(ctx.session, msg.org_id)
    loc = _locale(org)
    if reason == "blocked":
        # The person blocked the bot: reminders go back to SMS, and this one is sent that way now.
        person.preferred_channel = "sms"
        if msg.kind == "reminder" and ctx.route_person is not None:
            row = person_row(ctx, person, msg.body, kind="reminder", key=f"{msg.idempotency_key}:sms")
            if row is not None:
                await store.enqueue(ctx.session, [row])
                return
        what = render(loc, "team.failed.blocked")
    elif reason == "unsubscribed":
        await store.set_opt_out(ctx.session, [person.id], ctx.now)
        what = render(loc, "team.failed.unsubscribed")
    elif reason == "invalid_number":
        await store.mark_mobile_invalid(ctx.session, person.id)
        what = render(loc, "team.failed.invalid_number")
    else:
        what = render(loc, "team.failed.other", reason=reason)
    await to_team(ctx, org, render(loc, "team.failed", name=person.name, what=what), f"team-fail:{msg.id}")


async def delivery_unconfirmed(ctx: Context, msg: OutboxMessage) -> None:
    """A send was cut off and the provider cannot say whether it arrived: tell the team (gathered,
    since one outage cuts off several at once), resend nothing."""
    if msg.kind != "reminder" or msg.staff_id is None or msg.org_id is None:
        return
    people = await store.staff_by_ids(ctx.session, [msg.staff_id])
    if not people:
        return
    org = await store.get_org(ctx.session, msg.org_id)
    loc = _locale(org)
    channel = render(loc, f"channel.{msg.channel}") if msg.channel in CHANNELS else msg.channel
    await gather_to_team(ctx, org, "unconfirmed", render(loc, "team.unconfirmed", channel=channel),
                         [f"• {people[0].name}"], f"{msg.id}")


async def announce_completed_months(ctx: Context, org_id: str) -> list[str]:
    """After new data: tell the team about each reminded month where nobody has anything left."""
    org = await store.get_org(ctx.session, org_id)
    done: list[str] = []
    months = sorted({r.month for r in await store.rounds_awaiting_completion(ctx.session, org_id)})
    for key in months:
        month = Month.parse_key(key)
        if not await store.month_has_unfinished(ctx.session, org_id, month, ctx.tz(org)):
            await store.mark_rounds_complete(ctx.session, org_id, key, ctx.now)
            loc = _locale(org)
            await to_team(ctx, org, render(loc, "team.all_done", month=month_label(month, loc)),
                          f"team-done:{org_id}:{key}")
            done.append(key)
    return done
