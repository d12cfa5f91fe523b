"""Liveness, readiness, Prometheus metrics and the OpenAPI file."""
from __future__ import annotations

import json
from pathlib import Path

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from webhooks.keys import SERVICES

OPENAPI = Path(__file__).parent.parent / "openapi.json"


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(json.loads(OPENAPI.read_text()))


async def healthz(request: web.Request) -> web.Response:
    """Liveness: 200 while this process runs its loop. The database's answer is reported, not judged
    (that is /readyz): restarting a process does not bring a database back."""
    database = await request.app[SERVICES].readiness.database(timeout=1.0)
    return web.json_response({"status": "ok", "database": {"backend": database.backend,
                                                           "reachable": database.reachable}})


async def readyz(request: web.Request) -> web.Response:
    """Readiness: 503 while the database does not answer a bounded SELECT 1; the outbox backlog and
    each channel's state are reported (a channel that is down does not make a worker unready:
    every worker shares it, and inbound texts are still taken)."""
    readiness = request.app[SERVICES].readiness
    database = await readiness.database()
    snap = await readiness.snapshot() if database.reachable else None
    body = {"status": "ready" if database.reachable else "not_ready",
            "database": {"backend": database.backend, "reachable": database.reachable,
                         "latency_ms": database.latency_ms, **({"error": database.error} if database.error else {})},
            "outbox": None, "channels": None}
    if snap is not None:
        body["outbox"] = {"backlog": [{"channel": b.channel, "status": b.status, "count": b.count,
                                       "oldest_pending_seconds": b.oldest_pending_seconds} for b in snap.backlog],
                          "oldest_pending_seconds": snap.oldest_pending()}
        body["channels"] = {name: {"state": c.state, "consecutive_failures": c.consecutive_failures,
                                   "since": c.since.isoformat() if c.since else None}
                            for name, c in snap.channels.items()}
        body["channel_state_source"] = snap.source
    return web.json_response(body, status=200 if database.reachable else 503)


async def metrics(request: web.Request) -> web.Response:
    """Prometheus: counters summed over every worker, gauges read from the database at scrape time."""
    services = request.app[SERVICES]
    database = await services.readiness.database()
    snap = await services.readiness.snapshot() if database.reachable else None
    body = services.metrics.render(snap, database)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
