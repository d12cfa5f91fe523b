"""One inbound text in, replies out: identify the sender, parse, route to the conversation."""
from __future__ import annotations

import logging

from core import commands as cmd
from core import messages as text
from core import store
from core.models import InboundMessage, Staff
from handlers import assistant, coordinator
from handlers.account import NOT_LINKED
from handlers.context import Context, is_coordinator

logger = logging.getLogger(__name__)


async def identify(ctx: Context, channel: str, sender: str) -> list[Staff]:
    """Everyone the sender is: one person may work for several organisations."""
    if channel == "telegram":
        try:
            return await store.staff_by_telegram(ctx.session, int(sender))
        except ValueError:
            return []
    return await store.staff_by_mobile(ctx.session, sender)


async def handle_inbound(ctx: Context, channel: str, provider_id: str, sender: str, body: str
                         ) -> tuple[list[str], bool]:
    """Store the message once and act on it; return the replies and whether it was new.

    A repeated provider id gets the replies it got the first time and changes nothing.
    """
    people = await identify(ctx, channel, sender)
    command = cmd.parse_command(body)
    row = InboundMessage(channel=channel, provider_id=provider_id, sender=sender, body=body,
                         staff_id=people[0].id if people else None, org_id=people[0].org_id if people else None,
                         received_at=ctx.now, command=type(command).__name__)
    earlier = await store.claim_inbound(ctx.session, row)
    if earlier is not None:
        return ([earlier.reply] if earlier.reply else []), False
    replies = await dispatch(ctx, people, command, body, f"{channel}:{provider_id}", channel)
    if replies:
        await store.set_inbound_reply(ctx.session, row.id, "\n\n".join(replies))
    logger.info("inbound %s handled: command=%s known_sender=%s", channel, row.command, bool(people))
    return replies, True


async def dispatch(ctx: Context, people: list[Staff], command, body: str, provider_key: str,
                   channel: str = "sms") -> list[str]:
    if not people:
        # A chat account is unknown until linked; a phone number is simply not ours. Nothing about anyone.
        return [NOT_LINKED if channel == "telegram" else text.UNKNOWN_SENDER]
    # Coordinator commands act in the organisation where the sender is a coordinator.
    leader = next((p for p in people if is_coordinator(p)), None)
    if isinstance(command, cmd.COORDINATOR_COMMANDS) or isinstance(command, cmd.Malformed):
        if leader is None:
            return [text.NOT_YOURS]
        if isinstance(command, cmd.Malformed):
            return [command.problem]
        if isinstance(command, cmd.RemindAll):
            return await coordinator.remind_all(ctx, leader, command)
        if isinstance(command, cmd.RemindOne):
            return await coordinator.remind_one(ctx, leader, command)
        return await coordinator.status(ctx, leader, command)
    if isinstance(command, cmd.Acknowledge):
        return await assistant.acknowledge(ctx, people)
    if isinstance(command, cmd.Stop):
        return await assistant.stop(ctx, people)
    if isinstance(command, cmd.Start):
        return await assistant.start(ctx, people)
    if isinstance(command, cmd.Help):
        return [text.HELP_COORDINATOR if leader else text.HELP_ASSISTANT]
    assert isinstance(command, cmd.Unknown)
    if leader is not None:
        return [text.unknown_reply(command.suggestion, coordinator=True)]
    if command.suggestion and len(command.text.split()) == 1:
        return [text.unknown_reply(command.suggestion, coordinator=False)]
    return await assistant.free_text(ctx, people, command.text, provider_key)
