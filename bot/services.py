"""The running service's parts, built once by the composition root and shared by the edges."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

from prometheus_client import CollectorRegistry, Counter, Histogram
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.routing import Routes
from handlers.context import Context

logger = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Metrics:
    """Prometheus counters and latencies, in a registry of our own (one per app, so tests stay apart)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.inbound = Counter("paminn_inbound_total", "Inbound messages", ["channel", "outcome"],
                               registry=self.registry)
        self.rejected = Counter("paminn_rejected_requests_total", "Refused webhook/API requests",
                                ["route", "reason"], registry=self.registry)
        self.outbound = Counter("paminn_outbound_total", "Outbox send outcomes", ["outcome"],
                                registry=self.registry)
        self.customer_reminders = Counter("paminn_customer_reminder_messages_total",
                                          "Customer reminder messages queued, and recipients not reached",
                                          ["outcome"], registry=self.registry)
        self.events = Counter("paminn_events_total", "Events reported by host systems", ["outcome"],
                              registry=self.registry)
        self.buffer = Counter("paminn_buffer_visits_total", "Visits handed out and acknowledged", ["action"],
                              registry=self.registry)
        self.telegram_given_up = Counter("paminn_telegram_updates_given_up_total",
                                         "Stored Telegram updates given up after repeated failed tries",
                                         registry=self.registry)
        self.latency = Histogram("paminn_request_seconds", "Webhook handling time", ["route"],
                                 registry=self.registry,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker
    routes: Routes
    metrics: Metrics = field(default_factory=Metrics)
    clock: Callable[[], datetime] = utcnow
    dispatcher: object | None = None
    channels: dict = field(default_factory=dict)
    telegram: object | None = None  # python-telegram-bot Application, when TELEGRAM_BOT_TOKEN is set
    inbound: object | None = None  # bot.inbound.InboundBatcher: webhook texts handled a batch per transaction
    templates: object | None = None  # bot.template_workers.TemplateWorkers: organisations' texts, off the loop
    # Set by the scheduler: ask for a dispatch now. A no-op without one (tests, CLI).
    kick: Callable[[], None] = lambda: None

    def context(self, session: AsyncSession, now: datetime | None = None) -> Context:
        s = self.settings
        return Context(
            session=session, now=now or self.clock(), default_timezone=s.timezone,
            default_quiet_hours=s.quiet_hours, team_ack_window=timedelta(seconds=s.team_ack_window),
            route_person=self.routes.person, route_team=self.routes.team, route_address=self.routes.address,
            **({"templates": self.templates} if self.templates is not None else {}),
        )
