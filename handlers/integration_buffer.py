"""The integration buffer: confirmed visits handed to an external system in batches it acknowledges.

A poll leases up to N ready visits under a new batch token; the system acknowledges what it took;
what it does not acknowledge before the lease runs out is offered again, so nothing is lost and,
as long as the system acknowledges, nothing is taken twice. Visits that cannot go wait with their
reasons until an import fixes the data.
"""
from __future__ import annotations

import secrets
from datetime import timedelta

from core import store
from core.buffer import REASONS
from handlers.context import Context

LEASE = timedelta(minutes=10)
NOT_ACKNOWLEDGED = ("not in this batch, or its lease ran out (those visits are offered again): "
                    "take them from a new poll")
MAX_BATCH = 100


async def lease_batch(ctx: Context, org_id: str, limit: int) -> dict:
    token = secrets.token_urlsafe(16)
    until = ctx.now + LEASE
    leased = await store.lease_visits(ctx.session, org_id, limit, token, ctx.now, until)
    return {
        "batch": token if leased else None, "lease_until": until.isoformat() if leased else None,
        "items": [{
            "id": visit.external_id, "start": visit.start_at.isoformat(), "end": visit.end_at.isoformat(),
            # The external system needs the person's identity; it never goes to logs, replies or chat.
            "staff": {"id": staff.external_id, "personal_number": staff.personal_number,
                      "sd_number": staff.sd_number},
            "customer": {"id": customer.external_id, "name": customer.name},
        } for visit, staff, customer in leased],
    }


async def acknowledge(ctx: Context, org_id: str, batch: str, ids: list[str]) -> dict:
    done = await store.acknowledge_visits(ctx.session, org_id, batch, ids, ctx.now)
    missing = sorted(set(ids) - set(done))
    answer: dict = {"acknowledged": done, "not_acknowledged": missing}
    if missing:
        answer["note"] = NOT_ACKNOWLEDGED
    return answer


async def waiting(ctx: Context, org_id: str) -> dict:
    return {"items": [{
        "id": visit.external_id, "start": visit.start_at.isoformat(), "staff": staff_id, "customer": customer_id,
        "reasons": [{"code": code, "text": REASONS[code]} for code in visit.reasons or []],
    } for visit, staff_id, customer_id in await store.waiting_visits(ctx.session, org_id)]}
