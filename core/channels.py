"""The channels a text travels by, the one outbox row that carries a text on any of them, and the port
every channel implements to send it. Pure: the channels themselves (one module each, in webhooks/) do
the talking.

Every text the service sends is an outbox row (recorded, retried, never sent twice); this is the
only place its shape is written out.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from core.segments import count_segments

SMS = "sms"
TELEGRAM = "telegram"
SIMULATOR = "simulator"
EMAIL = "email"
# Where a person's texts come from: a phone number (SMS, the simulator's phones) or a chat account.
PHONE_CHANNELS = frozenset({SMS, SIMULATOR})
# Leaves the payload column out of the row (SQL NULL); a row given ``payload=None`` stores JSON null.
# Rows inserted together must have the same keys, so each caller keeps to one or the other.
NO_PAYLOAD: dict | None = {"_no_payload": True}


def outbox_row(*, key: str, channel: str, address: str, body: str, kind: str, now: datetime,
               org_id: str | None = None, staff_id: int | None = None, not_before: datetime | None = None,
               payload: dict | None = NO_PAYLOAD, segments: int | None = None) -> dict:
    """A pending outbox row for ``body`` to ``address`` on ``channel``, sent no earlier than
    ``not_before`` (now when None); ``key`` makes it once-only. ``segments`` defaults to the SMS
    parts of ``body`` (what an SMS costs; other channels pass their own count)."""
    row: dict[str, Any] = {
        "org_id": org_id, "idempotency_key": key, "channel": channel, "address": address, "staff_id": staff_id,
        "kind": kind, "body": body, "segments": count_segments(body).segments if segments is None else segments,
        "status": "pending", "not_before": not_before or now, "created_at": now, "attempts": 0,
    }
    if payload is not NO_PAYLOAD:
        row["payload"] = payload
    return row


# ---------------------------------------------------------------- the port a channel implements

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
    """The port every channel implements (webhooks/<channel>.py). ``send`` and ``find_sent`` are the
    channel's own; the rest are its capabilities, declared here with the defaults most providers have,
    so the dispatcher reads them plainly and a channel states only where it differs."""

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

    def answer_rows(self, provider_id: str, address: str, replies: list, now: datetime, *,
                    org_id: str | None = None, staff_id: int | None = None) -> list[dict]:
        """The outbox rows that answer an inbound text (``provider_id``) on this channel, to ``address``,
        where it came from: the replies' plain texts, unless the channel shows more (Telegram shows a
        reply's intent as a keyboard)."""
        return plain_answer_rows(self.name, provider_id, address, replies, now, org_id=org_id, staff_id=staff_id)

    async def close(self) -> None:
        """Release what the adapter holds (connections), at shutdown after the dispatcher stopped."""


def plain_answer_rows(channel: str, provider_id: str, address: str, replies: list, now: datetime, *,
                      org_id: str | None = None, staff_id: int | None = None) -> list[dict]:
    """Outbox rows answering an inbound text with the replies' texts alone (``Channel.answer_rows``)."""
    return [outbox_row(key=f"reply:{provider_id}:{n}", channel=channel, address=address, body=reply.text,
                       kind="reply", now=now, org_id=org_id, staff_id=staff_id)
            for n, reply in enumerate(replies)]
