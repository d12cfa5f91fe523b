"""Delivery status callbacks in any order: the final status never moves backwards."""
from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.store import STATUS_RANK

pytestmark = pytest.mark.reliability
STATUSES = ["queued", "sending", "sent", "delivered", "undelivered", "failed", "read"]


def expected_final(start: str, sequence: list[str]) -> str:
    final = start
    for status in sequence:
        if STATUS_RANK[status] > STATUS_RANK[final]:
            final = status
    return final


async def test_random_callback_orders_never_go_backwards(harness):
    from datetime import timedelta

    from core.models import OutboxMessage

    ids = itertools.count(1)
    cases: list[list[str]] = []

    @settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(st.sampled_from(STATUSES), min_size=1, max_size=6))
    def collect(sequence):
        cases.append(sequence)

    collect()
    now = harness.clock()
    for sequence in cases:
        n = next(ids)
        sid = f"SM{n:032d}"
        async with harness.services.sessions.begin() as session:
            row = OutboxMessage(idempotency_key=f"order:{n}", channel="sms", address="+46701234567", kind="reminder",
                                body="x", status="sent", provider_id=sid, not_before=now, created_at=now,
                                segments=1, attempts=1, sent_at=now - timedelta(seconds=1))
            session.add(row)
            await session.flush()
            row_id = row.id
        for status in sequence:
            params = {"MessageSid": sid, "MessageStatus": status, "AccountSid": "AC"}
            response = await harness.post_form(f"/webhooks/twilio/status?m={row_id}", params)
            assert response.status == 204
        final = await harness.scalar("SELECT status FROM outbox WHERE id = :i", i=row_id)
        assert final == expected_final("sent", sequence), sequence
    assert len(cases) >= 100
