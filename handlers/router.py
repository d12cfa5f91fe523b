"""One inbound text in, replies out: identify the sender, parse, route to the conversation."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from core import commands as cmd
from core import messages as text
from core import store
from core.channels import SMS, TELEGRAM
from core.models import Staff
from core.replies import Reply
from core.replies import texts as reply_texts
from core.text import without_controls
from handlers import assistant, coordinator, customer_reminders
from handlers.account import not_linked
from handlers.context import Context, is_coordinator

logger = logging.getLogger(__name__)


class InboundUnavailable(RuntimeError):
    """The text was not handled because the database did not answer in time (or at all): try again later.

    Raised by whatever runs the pipeline (bot.inbound's batcher); the webhooks answer it with 503."""


@dataclass(frozen=True)
class InboundText:
    """One text as a channel delivered it: ``sender`` is an E.164 number or a Telegram user id.

    ``reply_to`` is where the replies go through the outbox (the chat or simulated phone it came
    from); None when the channel answers inline (an SMS's TwiML).
    """
    channel: str  # core.channels: SMS | SIMULATOR | TELEGRAM
    provider_id: str
    sender: str
    body: str
    reply_to: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.channel, self.provider_id


@dataclass
class Handled:
    replies: list[Reply]
    new: bool  # False: the provider id was seen before; the replies are the ones given then (text only)
    people: list[Staff] = field(default_factory=list)  # who the sender is (empty: not ours)

    @property
    def texts(self) -> list[str]:
        return reply_texts(self.replies)


def _telegram_id(sender: str) -> int | None:
    try:
        return int(sender)
    except ValueError:
        return None


def _who(text: InboundText) -> str:
    """The sender as a key that cannot mix a phone number with a chat account."""
    return text.sender if text.channel != TELEGRAM else f"tg:{text.sender}"


async def identify(ctx: Context, texts: list[InboundText]) -> dict[str, list[Staff]]:
    """Everyone each sender is (one person may work for several organisations), in one query."""
    mobiles = [t.sender for t in texts if t.channel != TELEGRAM]
    accounts = {_who(t): _telegram_id(t.sender) for t in texts if t.channel == TELEGRAM}
    by_mobile, by_telegram = await store.staff_by_addresses(
        ctx.session, mobiles, [i for i in accounts.values() if i is not None])
    people = {m: by_mobile.get(m, []) for m in mobiles}
    people.update({who: by_telegram.get(i, []) if i is not None else [] for who, i in accounts.items()})
    return people


async def handle_inbound(ctx: Context, channel: str, provider_id: str, sender: str, body: str) -> Handled:
    """Store one text once and act on it. A repeated provider id gets the replies it got the first time."""
    (handled,) = await handle_inbound_batch(ctx, [InboundText(channel, provider_id, sender, body)])
    return handled


async def handle_inbound_batch(ctx: Context, texts: list[InboundText], *, act_first: bool = False) -> list[Handled]:
    """Store and act on texts that arrived together, in one transaction, as if one after another.

    Under load most texts are assistants' OK after a round, so the work is set-based: one query
    identifies every sender, one insert stores every text, and a run of OKs from different senders
    is applied together (they cannot affect each other). Everything else is dispatched one at a
    time, in arrival order.

    Each (channel, provider id) is acted on once. Stored first (the default), the insert claims the
    ids before anything is done (a repeat changes nothing and gets the reply given the first time),
    and a second statement stores the replies. With ``act_first`` the texts are acted on as new and
    then stored with their replies by the one insert: a statement fewer, and on PostgreSQL a batch's
    time is mostly its statements (docs/benchmarks.md). If the insert finds any of them stored
    before (a provider's retry, or its twin in a batch beside this one), what was done must not
    stand: ``SeenBefore`` is raised, and the caller rolls the transaction back and calls again
    stored first.
    """
    # What a provider delivers may hold control characters no database column takes (NUL): drop them.
    texts = [InboundText(t.channel, without_controls(t.provider_id), without_controls(t.sender),
                         without_controls(t.body), t.reply_to) for t in texts]
    first: dict[tuple[str, str], int] = {}
    for n, t in enumerate(texts):
        first.setdefault(t.key, n)
    unique = [texts[n] for n in sorted(set(first.values()))]
    people_of = await identify(ctx, unique)
    commands = {t.key: cmd.parse_command(t.body) for t in unique}
    rows = {}
    for t in unique:
        people = people_of[_who(t)]
        rows[t.key] = {"channel": t.channel, "provider_id": t.provider_id, "sender": t.sender, "body": t.body,
                       "staff_id": people[0].id if people else None, "org_id": people[0].org_id if people else None,
                       "received_at": ctx.now, "command": type(commands[t.key]).__name__}
    if act_first:
        replies = await _act(ctx, unique, people_of, commands)
        for key, row in rows.items():
            row["reply"] = _stored_reply(replies[key])
        new_ids, earlier = await store.claim_inbound(ctx.session, list(rows.values()))
        if len(new_ids) < len(rows):
            raise SeenBefore(f"{len(rows) - len(new_ids)} of {len(rows)} text(s) were stored before")
    else:
        new_ids, earlier = await store.claim_inbound(ctx.session, list(rows.values()))
        replies = await _act(ctx, [t for t in unique if t.key in new_ids], people_of, commands)
        await store.set_inbound_replies(ctx.session, {new_ids[k]: reply for k, r in replies.items()
                                                      if (reply := _stored_reply(r)) is not None})
    if new_ids:
        logger.info("inbound: %d new text(s), %d repeated", len(new_ids), len(texts) - len(new_ids))

    handled = []
    for n, t in enumerate(texts):
        if t.key in new_ids and first[t.key] == n:
            handled.append(Handled(replies[t.key], True, people_of[_who(t)]))
            continue
        # A repeat gets the reply given the first time, as stored: one text.
        given = earlier[t.key].reply if t.key in earlier else _stored_reply(replies[t.key])
        handled.append(Handled([Reply(given)] if given else [], False, people_of[_who(t)]))
    return handled


class SeenBefore(RuntimeError):
    """Acting first, some texts of the batch turned out to be stored before: roll back, store first."""


def _stored_reply(replies: list[Reply]) -> str | None:
    """What a repeat of the text is answered: the replies' texts as one (None when there were none)."""
    return "\n\n".join(reply_texts(replies)) if replies else None


async def _act(ctx: Context, texts: list[InboundText], people_of: dict[str, list[Staff]],
               commands: dict[tuple[str, str], cmd.Command]) -> dict[tuple[str, str], list[Reply]]:
    """Act on new texts in arrival order; a run of plain OKs from different people goes together."""
    replies: dict[tuple[str, str], list[Reply]] = {}
    acks: list[InboundText] = []  # a run of plain OKs from different people: they commute, so go together
    ack_people: set[int] = set()  # who they are (one person may text from a phone and a chat account)

    async def flush_acks() -> None:
        answers = await assistant.acknowledge_many(ctx, [people_of[_who(t)] for t in acks])
        replies.update(zip((t.key for t in acks), answers))
        acks.clear()
        ack_people.clear()

    for t in texts:
        people = people_of[_who(t)]
        if isinstance(commands[t.key], cmd.Acknowledge) and people:
            ids = {p.id for p in people}
            if ids & ack_people:  # a second OK from one person acknowledges the next reminder: after
                await flush_acks()
            acks.append(t)
            ack_people.update(ids)
            continue
        if acks:
            await flush_acks()
        replies[t.key] = await dispatch(ctx, people, commands[t.key], t.body, f"{t.channel}:{t.provider_id}",
                                        t.channel, t.sender)
    if acks:
        await flush_acks()
    return replies


async def dispatch(ctx: Context, people: list[Staff], command, body: str, provider_key: str,
                   channel: str = SMS, sender: str | None = None) -> list[Reply]:
    if not people:
        if channel != TELEGRAM and sender:
            # A customer's contact answering a reminder: their words go to the team, not into the void.
            contact_replies = await customer_reminders.contact_wrote(ctx, sender, command, body, provider_key)
            if contact_replies:
                return contact_replies
        # A chat account is unknown until linked; a phone number is simply not ours. Nothing about anyone.
        return [not_linked() if channel == TELEGRAM else Reply.of(None, "unknown_sender")]
    # Coordinator commands act in the organisation where the sender is a coordinator.
    leader = next((p for p in people if is_coordinator(p)), None)
    if isinstance(command, cmd.COORDINATOR_COMMANDS) or isinstance(command, cmd.Malformed):
        if leader is None:
            return [Reply.of(await assistant.locale_of(ctx, people), "not_yours")]
        if isinstance(command, cmd.Malformed):
            locale = await assistant.locale_of(ctx, [leader])
            return [Reply.of(locale, command.key, **command.values) if command.key
                    else Reply(command.problem, locale=locale)]
        if isinstance(command, cmd.RemindAll):
            return await coordinator.remind_all(ctx, leader, command)
        if isinstance(command, cmd.RemindOne):
            return await coordinator.remind_one(ctx, leader, command)
        if isinstance(command, cmd.Report):
            return await coordinator.report(ctx, leader, command)
        return await coordinator.status(ctx, leader, command)
    if isinstance(command, cmd.Acknowledge):
        return await assistant.acknowledge(ctx, people)
    if isinstance(command, cmd.Stop):
        return await assistant.stop(ctx, people, provider_key)
    if isinstance(command, cmd.Start):
        return await assistant.start(ctx, people)
    if isinstance(command, cmd.Help):
        if leader:
            locale = await assistant.locale_of(ctx, [leader])
            return [Reply(text.help_coordinator(locale), key="help.coordinator", locale=locale)]
        return [Reply.of(await assistant.locale_of(ctx, people), "assistant.help")]
    assert isinstance(command, cmd.Unknown)
    if leader is not None:
        locale = await assistant.locale_of(ctx, [leader])
        return [Reply(text.unknown_reply(await coordinator.suggestion(ctx, leader, command), coordinator=True,
                                         locale=locale), key="unknown.coordinator", locale=locale)]
    if command.suggestion and len(command.text.split()) == 1:
        locale = await assistant.locale_of(ctx, people)
        return [Reply(text.unknown_reply(await coordinator.suggestion(ctx, people[0], command), coordinator=False,
                                         locale=locale), key="assistant.unknown", locale=locale)]
    return await assistant.free_text(ctx, people, command.text, provider_key)
