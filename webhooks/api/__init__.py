"""The JSON API for host systems, one module per subject (``data``, ``buffer``, ``events``, ``rounds``,
``health``) behind one door (``door``: keys, scopes, audit, masking); the routes are listed here."""
from __future__ import annotations

from aiohttp import web

from webhooks.api.buffer import buffer_ack, buffer_poll, buffer_waiting
from webhooks.api.data import customer_reminders, delete_route, get_audit, import_data
from webhooks.api.door import MAX_IMPORT, PUBLIC, ROUTE_SCOPES, api_door, scope_for
from webhooks.api.events import get_event, post_event
from webhooks.api.health import OPENAPI, healthz, metrics, openapi, readyz
from webhooks.api.rounds import get_rounds, get_rounds_csv

__all__ = ["MAX_IMPORT", "OPENAPI", "PUBLIC", "ROUTE_SCOPES", "scope_for", "setup"]


def setup(app: web.Application) -> None:
    app.middlewares.append(api_door)
    app.router.add_post("/api/v1/import", import_data)
    app.router.add_get("/api/v1/organisations/{org}/customer-reminders", customer_reminders)
    app.router.add_post("/api/v1/organisations/{org}/buffer/poll", buffer_poll)
    app.router.add_post("/api/v1/organisations/{org}/buffer/ack", buffer_ack)
    app.router.add_get("/api/v1/organisations/{org}/buffer/waiting", buffer_waiting)
    app.router.add_post("/api/v1/organisations/{org}/events", post_event)
    app.router.add_get("/api/v1/organisations/{org}/events/{event}", get_event)
    app.router.add_get("/api/v1/organisations/{org}/audit", get_audit)
    app.router.add_get("/api/v1/organisations/{org}/rounds", get_rounds)
    app.router.add_get("/api/v1/organisations/{org}/rounds.csv", get_rounds_csv)
    app.router.add_delete("/api/v1/organisations/{org}/customer-reminders/{reminder}",
                          delete_route("customer_reminder", "reminder"))
    app.router.add_delete("/api/v1/organisations/{org}/notification-templates/{template}",
                          delete_route("notification_template", "template"))
    app.router.add_delete("/api/v1/organisations/{org}/visits/{visit}", delete_route("visit", "visit"))
    app.router.add_get("/api/v1/openapi.json", openapi)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
