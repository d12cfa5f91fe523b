"""The channels a text travels by, and the one outbox row that carries a text on any of them. Pure.

Every text the service sends is an outbox row (recorded, retried, never sent twice); this is the
only place its shape is written out.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

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


# Twilio's error codes that say something about the person's number, whether they come back from a
# send (REST errors, 21xxx) or in a delivery status callback (30xxx): the reason
# handlers.team.delivery_failed acts on. Every other code is a failure with no consequence for the number.
ERRORS: dict[str, str] = {
    "21211": "invalid_number",  # not a valid phone number
    "21614": "invalid_number",  # not a mobile number
    "21610": "unsubscribed",  # the person texted STOP to our number
    "30005": "invalid_number",  # unknown destination handset
    "30006": "invalid_number",  # a landline, or a carrier that cannot be reached
}


def failure_reason(error_code: object) -> str | None:
    """What a Twilio error code means for the person's number (``ERRORS``), or None when nothing."""
    return ERRORS.get(str(error_code)) if error_code else None
