"""The running service's parts, built once by the composition root and shared by the edges."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Mapping

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from telegram.ext import Application

from bot import imports
from bot.config import Settings
from bot.dispatcher import Dispatcher
from bot.inbound import InboundBatcher
from bot.readiness import Readiness
from bot.routing import Routes
from bot.template_workers import TemplateWorkers
from core.channels import Channel
from core.templates import Renderer
from handlers.context import Context

logger = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Metrics:
    """Prometheus counters and latencies, in a registry of our own (one per app, so tests stay apart).

    Under ``paminn serve --workers N`` the parent sets PROMETHEUS_MULTIPROC_DIR: every worker's
    counters are then kept in files there, and a scrape on any worker adds up all of them.
    Gauges are not counted per process at all: they are read from the database at scrape time.
    """

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

    def render(self, snapshot, database) -> bytes:
        """The exposition: counters (every worker's, when multiprocess), then the database's gauges."""
        scrape = CollectorRegistry(auto_describe=False)
        directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if directory:
            MultiProcessCollector(scrape, directory)
        else:
            scrape.register(self.registry)
        scrape.register(DatabaseGauges(snapshot, database))
        return generate_latest(scrape)


class DatabaseGauges:
    """Gauges from one bounded read of the database (bot.readiness), so any worker answers the same.

    When the read did not answer in time, only ``paminn_database_up 0`` is reported: a missing
    backlog series is an unknown, not a zero.
    """

    def __init__(self, snapshot, database) -> None:
        self._snapshot = snapshot
        self._database = database

    def collect(self):
        up = GaugeMetricFamily("paminn_database_up", "1 when the database answered this scrape in time")
        up.add_metric([], 1.0 if self._database.reachable and self._snapshot is not None else 0.0)
        yield up
        if self._database.latency_ms is not None:
            latency = GaugeMetricFamily("paminn_database_ping_seconds", "Time for SELECT 1 at this scrape")
            latency.add_metric([], self._database.latency_ms / 1000)
            yield latency
        snap = self._snapshot
        if snap is None:
            return
        backlog = GaugeMetricFamily("paminn_outbox_backlog", "Unsettled outbox messages by channel and status",
                                    labels=["channel", "status"])
        counts = {(row.channel, row.status): row.count for row in snap.backlog}
        for channel in snap.channels:
            for status in ("pending", "sending", "unknown"):
                counts.setdefault((channel, status), 0)  # a zero is a reading: a series that stays put
        for (channel, status), n in sorted(counts.items()):
            backlog.add_metric([channel, status], n)
        yield backlog
        oldest = GaugeMetricFamily("paminn_outbox_oldest_pending_seconds",
                                   "Age of the oldest pending message that is due or was tried, by channel",
                                   labels=["channel"])
        ages = snap.oldest_pending()
        for channel in sorted(set(snap.channels) | set(ages)):
            oldest.add_metric([channel], ages.get(channel, 0.0))
        yield oldest
        down = GaugeMetricFamily("paminn_channel_down", "1 while an outbound channel is down", labels=["channel"])
        failures = GaugeMetricFamily("paminn_channel_consecutive_failures",
                                     "Transient failures of an outbound channel since it last worked",
                                     labels=["channel"])
        for name, state in sorted(snap.channels.items()):
            down.add_metric([name], 1.0 if state.state == "down" else 0.0)
            failures.add_metric([name], state.consecutive_failures)
        yield down
        yield failures
        total = GaugeMetricFamily("paminn_channels_down", "Outbound channels down")
        total.add_metric([], sum(1 for state in snap.channels.values() if state.state == "down"))
        yield total


class Wakeup:
    """Asks for a dispatch now rather than at the next tick (replies should feel instant).

    Made first by the composition root and handed to everything that queues messages (as
    ``Services.kick``); the scheduler connects its dispatch job when it starts and disconnects it
    when it stops. Unconnected (tests, the CLI) a call does nothing.
    """

    def __init__(self) -> None:
        self._target: Callable[[], None] | None = None

    def connect(self, target: Callable[[], None]) -> None:
        self._target = target

    def disconnect(self) -> None:
        self._target = None

    def __call__(self) -> None:
        if self._target is not None:
            self._target()


@dataclass(frozen=True)
class Contexts:
    """Makes the handler Context of one transaction: the time, and the policies the edge decides."""

    settings: Settings
    routes: Routes
    templates: Renderer
    clock: Callable[[], datetime] = utcnow

    def __call__(self, session: AsyncSession, now: datetime | None = None) -> Context:
        s = self.settings
        return Context(
            session=session, now=now or self.clock(), default_timezone=s.timezone,
            default_quiet_hours=s.quiet_hours, team_ack_window=timedelta(seconds=s.team_ack_window),
            route_person=self.routes.person, route_team=self.routes.team, route_address=self.routes.address,
            templates=self.templates,
        )


@dataclass(frozen=True)
class Services:
    """Everything the edges (webhooks, the scheduler, the CLI) use, built once by bot.app.build_services."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    routes: Routes
    contexts: Contexts
    channels: Mapping[str, Channel]  # the outbound channels by name, all of them, read-only
    dispatcher: Dispatcher
    inbound: InboundBatcher  # webhook texts handled a batch per transaction
    readiness: Readiness  # bounded reads for /readyz, /healthz, /metrics
    templates: TemplateWorkers  # organisations' texts, rendered off the event loop
    kick: Wakeup  # ask for a dispatch now
    metrics: Metrics
    clock: Callable[[], datetime] = utcnow
    telegram: Application | None = None  # python-telegram-bot's, when TELEGRAM_BOT_TOKEN is set

    def context(self, session: AsyncSession, now: datetime | None = None) -> Context:
        return self.contexts(session, now)

    async def run_import(self, doc: object) -> dict[str, dict[str, int]]:
        """The import use case (bot.imports) for the API; core.importer.ImportError_ when refused."""
        return await imports.run_import(self, doc)
