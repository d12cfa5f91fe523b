"""The running service's parts, built once by the composition root and shared by the edges."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.routing import Routes
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
    readiness: object | None = None  # bot.readiness.Readiness: bounded reads for /readyz, /healthz, /metrics
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
