"""Channel adapters: one small port, one implementation per outside service."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Outgoing:
    """What an adapter needs of an outbox row."""

    id: int
    address: str
    body: str
    idempotency_key: str
    created_at: object = None
    payload: dict | None = None


@dataclass(frozen=True)
class SendResult:
    # sent: the provider took it. retry: try again later (nothing was sent).
    # failed: never retry. unknown: it may or may not have gone; check before resending.
    outcome: str
    provider_id: str | None = None
    status: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    retry_after: float | None = None
    # The provider looks unreachable or broken (no connection, a timeout, a 5xx), as opposed to
    # refusing this one message or asking us to slow down: enough of these in a row and the
    # dispatcher marks the channel down.
    outage: bool = False


class CannotTell(Exception):
    """The provider has no way to say whether it has a message (Telegram's Bot API lists nothing sent)."""


class Channel(Protocol):
    name: str

    # Optional: ``async def pace(self, msg: Outgoing) -> None`` waits for the provider's per-address
    # limit; the dispatcher calls it before its last check that the claim covers the send.
    # Optional: ``max_rate`` (messages a second in all) and ``askable = False`` when find_sent can
    # only raise CannotTell (the dispatcher then records each provider call before making it).

    async def send(self, msg: Outgoing) -> SendResult: ...

    async def find_sent(self, msg: Outgoing) -> str | None:
        """The provider id of ``msg`` if the provider has it, else None; CannotTell if it cannot say."""
        ...
