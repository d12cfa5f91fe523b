"""What the team chat hears about deliveries and completed months."""
from __future__ import annotations

from core import store
from core.models import OutboxMessage
from core.months import Month, month_label
from handlers.context import Context
from handlers.outbound import gather_to_team, person_row, to_team


CHANNEL_NAMES = {"sms": "SMS", "telegram": "Telegram", "simulator": "simulatorn"}
UNCONFIRMED_HEADER = ("Osäker leverans: {channel} avbröts mitt i sändningen, så vi vet inte om påminnelsen kom fram "
                      "till dessa. Den skickas inte om av sig själv; skriv PÅMINN <namn> om den behövs.")


async def delivery_failed(ctx: Context, msg: OutboxMessage, reason: str) -> None:
    """Record what a permanent failure means for the person, and tell the team."""
    if msg.staff_id is None or msg.org_id is None:
        return
    people = await store.staff_by_ids(ctx.session, [msg.staff_id])
    if not people:
        return
    person = people[0]
    if reason == "blocked":
        # The person blocked the bot: reminders go back to SMS, and this one is sent that way now.
        person.preferred_channel = "sms"
        if msg.kind == "reminder" and ctx.route_person is not None:
            row = person_row(ctx, person, msg.body, kind="reminder", key=f"{msg.idempotency_key}:sms")
            if row is not None:
                await store.enqueue(ctx.session, [row])
                return
        what = "har blockerat boten i Telegram; påminnelserna går som SMS"
    elif reason == "unsubscribed":
        await store.set_opt_out(ctx.session, [person.id], ctx.now)
        what = "har avregistrerat sig från SMS (STOP hos operatören); påminnelserna är avstängda"
    elif reason == "invalid_number":
        await store.mark_mobile_invalid(ctx.session, person.id)
        what = "har ett ogiltigt mobilnummer; rätta det i verksamhetssystemet"
    else:
        what = f"kunde inte nås ({reason})"
    org = await store.get_org(ctx.session, msg.org_id)
    await to_team(ctx, org, f"Leverans misslyckades: {person.name} {what}.", f"team-fail:{msg.id}")


async def delivery_unconfirmed(ctx: Context, msg: OutboxMessage) -> None:
    """A send was cut off and the provider cannot say whether it arrived: tell the team (gathered,
    since one outage cuts off several at once), resend nothing."""
    if msg.kind != "reminder" or msg.staff_id is None or msg.org_id is None:
        return
    people = await store.staff_by_ids(ctx.session, [msg.staff_id])
    if not people:
        return
    channel = CHANNEL_NAMES.get(msg.channel, msg.channel)
    org = await store.get_org(ctx.session, msg.org_id)
    await gather_to_team(ctx, org, "unconfirmed", UNCONFIRMED_HEADER.format(channel=channel),
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
            await to_team(ctx, org, f"Alla har rapporterat för {month_label(month)}. 🎉", f"team-done:{org_id}:{key}")
            done.append(key)
    return done
