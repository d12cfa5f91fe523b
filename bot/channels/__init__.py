"""Channel adapters: one small port, one implementation per outside service."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


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


class Channel:
    """The port every adapter implements. ``send`` and ``find_sent`` are the adapter's own; the rest
    are its capabilities, declared here with the defaults most providers have, so the dispatcher
    reads them plainly and an adapter states only where it differs."""

    name: ClassVar[str]
    # Messages a second in all, kept by the dispatcher before a send starts (0: no limit of its own;
    # SMS takes the configured PAMINN_SEND_RATE instead, the number's throughput).
    max_rate: ClassVar[float] = 0.0
    # False when find_sent can only raise CannotTell: the dispatcher then records each provider call
    # durably before making it, and each result at once.
    askable: ClassVar[bool] = True
    # True when ``pace`` waits for a per-address limit; the dispatcher skips the call otherwise.
    paced: ClassVar[bool] = False
    # Sends in flight at once on this channel (0: only the dispatcher's PAMINN_DISPATCH_CONCURRENCY):
    # a provider that opens a connection per send (SMTP) takes fewer than an HTTP API does.
    max_in_flight: ClassVar[int] = 0

    async def pace(self, msg: Outgoing) -> None:
        """Wait for the provider's per-address limit. The dispatcher calls it before its last check
        that the claim covers the send, so a long wait can never push a send past the claim."""

    async def send(self, msg: Outgoing) -> SendResult:
        raise NotImplementedError

    async def find_sent(self, msg: Outgoing) -> str | None:
        """The provider id of ``msg`` if the provider has it, else None; CannotTell if it cannot say."""
        raise NotImplementedError

    async def close(self) -> None:
        """Release what the adapter holds (connections), at shutdown after the dispatcher stopped."""
