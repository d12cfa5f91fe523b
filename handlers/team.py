"""What the team chat hears about deliveries, provider outages and completed months."""
from __future__ import annotations

from datetime import datetime

from babel.numbers import format_decimal

from core import store
from core.catalogue import BABEL_LOCALE, language, render, render_plural
from core.channels import EMAIL, SIMULATOR, SMS, TELEGRAM
from core.models import OutboxMessage
from core.months import Month, month_label
from handlers.context import Context, require_org
from handlers.outbound import gather_to_team, person_row, rewrite_waiting, to_team

CHANNELS = (SMS, TELEGRAM, SIMULATOR)


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
    org = await require_org(ctx, msg.org_id)
    loc = _locale(org)
    if reason == "blocked":
        # The person blocked the bot: reminders go back to SMS, and this one is sent that way now.
        person.preferred_channel = SMS
        if msg.kind == "reminder" and ctx.route_person is not None:
            row = person_row(ctx, person, msg.body, kind="reminder", key=f"{msg.idempotency_key}:sms")
            if row is not None:
                await ctx.enqueue([row])
                # The month's history follows the copy that may still go, so the person counts as
                # waiting (then reminded once it is sent), not as never reminded.
                await store.copy_history(ctx.session, msg.idempotency_key, row["idempotency_key"], ctx.now)
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
    org = await require_org(ctx, msg.org_id)
    loc = _locale(org)
    channel = render(loc, f"channel.{msg.channel}") if msg.channel in CHANNELS else msg.channel
    await gather_to_team(ctx, org, "unconfirmed", render(loc, "team.unconfirmed", channel=channel),
                         [f"• {people[0].name}"], f"{msg.id}")


async def announce_completed_months(ctx: Context, org_id: str) -> list[str]:
    """After new data: tell the team about each reminded month where nobody has anything left."""
    org = await require_org(ctx, org_id)
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


PROVIDERS = (SMS, TELEGRAM, EMAIL)  # each is a ``provider.<channel>`` in the catalogue
EXPIRED_NAMES_SHOWN = 40


def _number(n: int, locale: str = "sv") -> str:
    """``1 565`` as a Swede writes it, ``1.565`` as a Dane does: the organisation's way."""
    lang = language(locale)
    return format_decimal(n, locale="sv" if lang == "sv" else BABEL_LOCALE[lang])


def _provider(channel: str, locale: str) -> str:
    return render(locale, f"provider.{channel}") if channel in PROVIDERS else channel


async def reminders_expired(ctx: Context, rows: list[OutboxMessage]) -> None:
    """Reminders whose validity ran out unsent: name them, gathered, to whoever started each round
    and to the team chat. They count as not reminded, so the next PÅMINN ALLA offers them again."""
    keys = [r.idempotency_key for r in rows if r.kind == "reminder" and r.staff_id is not None]
    by_round: dict[tuple, list[str]] = {}
    for org_id, round_id, requested_by, name, month in await store.expired_reminder_rounds(ctx.session, keys):
        by_round.setdefault((org_id, round_id, requested_by, month), []).append(name)
    orgs = await store.orgs_by_ids(ctx.session, {k[0] for k in by_round})
    coordinators = {s.id: s for s in await store.staff_by_ids(
        ctx.session, sorted({k[2] for k in by_round if k[2] is not None}))}
    for (org_id, round_id, requested_by, month), names in sorted(by_round.items(), key=lambda kv: str(kv[0])):
        org = orgs.get(org_id)
        if org is None:
            continue
        tag = f"{org_id}:{round_id}"
        loc = _locale(org)
        await _gather_names(ctx, f"team-expired:{tag}:", names, month, loc,
                            lambda body, key, org=org: to_team(ctx, org, body, key,
                                                                  not_before=ctx.now + ctx.team_ack_window))
        coordinator = coordinators.get(requested_by)
        if coordinator is not None:
            async def to_coordinator(body: str, key: str, person=coordinator) -> bool:
                row = person_row(ctx, person, body, kind="notice", key=key,
                                 not_before=ctx.now + ctx.team_ack_window)
                if row is not None:
                    await ctx.enqueue([row])
                return row is not None

            await _gather_names(ctx, f"expired:{tag}:", names, month, loc, to_coordinator)


async def _gather_names(ctx: Context, prefix: str, names: list[str], month: str, locale: str, queue) -> None:
    """Add ``names`` to the expiry notice still waiting to go under ``prefix``, or queue a new one
    that waits a window for more (one outage expires many reminders, a batch at a time)."""
    open_msg = await store.pending_team_message(ctx.session, prefix, ctx.now)
    if open_msg is not None:
        known = list((open_msg.payload or {}).get("names", []))
        all_names = sorted(known + [n for n in names if n not in known])
        rewrite_waiting(open_msg, expired_text(all_names, month, locale))
        open_msg.payload = {**(open_msg.payload or {}), "names": all_names}
        return
    key = f"{prefix}{ctx.now.strftime('%Y%m%dT%H%M%S%f')}"
    if await queue(expired_text(names, month, locale), key):
        await store.set_payload(ctx.session, key, {"names": names})


def expired_text(names: list[str], month: str, locale: str = "sv") -> str:
    """``12 påminnelser för maj 2026 kunde inte skickas: Anna A, Bo B, …`` (names, never numbers)."""
    label = month_label(Month.parse_key(month), locale)
    shown = ", ".join(names[:EXPIRED_NAMES_SHOWN])
    more = render(locale, "more", n=len(names) - EXPIRED_NAMES_SHOWN) if len(names) > EXPIRED_NAMES_SHOWN else ""
    return render_plural(locale, "team.expired", len(names), count=_number(len(names), locale), month=label,
                         names=shown, more=more)


async def channel_down(ctx: Context, channel: str, since: datetime) -> dict[str, int]:
    """Tell each organisation with messages waiting on ``channel`` that its provider is not answering.

    Queued like any team message: a team chat on a channel that is up hears it now, one on the down
    channel when it is back. Returns the waiting count per organisation.
    """
    waiting = await store.waiting_by_org(ctx.session, channel)
    orgs = await store.orgs_by_ids(ctx.session, waiting)
    for org_id, n in sorted(waiting.items()):
        org = orgs[org_id]
        at = ctx.local(org, since).strftime("%H:%M")
        loc = _locale(org)
        await to_team(ctx, org, render_plural(loc, "team.down", n, provider=_provider(channel, loc), at=at,
                                              count=_number(n, loc)),
                      f"team-down:{channel}:{_stamp(since)}:{org_id}")
    return waiting


async def channel_up(ctx: Context, channel: str, since: datetime) -> dict[str, int]:
    """Tell the organisations that heard of the outage that ``channel`` answers again, with their backlog."""
    told = await store.orgs_with_key_prefix(ctx.session, f"team-down:{channel}:{_stamp(since)}:")
    waiting = await store.waiting_by_org(ctx.session, channel)
    orgs = await store.orgs_by_ids(ctx.session, told)
    for org_id in told:
        org = orgs[org_id]
        n = waiting.get(org_id, 0)
        loc = _locale(org)
        await to_team(ctx, org, render_plural(loc, "team.up", n, provider=_provider(channel, loc),
                                              at=ctx.local(org, since).strftime("%H:%M"), count=_number(n, loc)),
                      f"team-up:{channel}:{_stamp(since)}:{org_id}")
    return waiting


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%S")
