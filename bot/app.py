"""The composition root: ``create_app`` builds everything; nothing happens at import time."""
from __future__ import annotations

import asyncio
import functools
import json
import logging
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from types import MappingProxyType

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.config import Settings
from bot.db import check_at_head, make_engine, make_sessionmaker, upgrade
from bot.dispatcher import Dispatcher
from bot.inbound import InboundBatcher, handle_in_transaction
from bot.logs import quiet_libraries
from bot.readiness import Readiness
from bot.routing import Routes
from bot.services import Contexts, Metrics, Services, Wakeup, utcnow
from bot.template_workers import TemplateWorkers
from core.channels import Channel
from core.templates import LIMITS
from handlers.customer_reminders import CustomerReminderRun, plan_due_customer_reminders, queue_planned, tick_time
from webhooks import api, intake, telegram, twilio
from webhooks.email import EmailChannel
from webhooks.keys import SERVICES
from webhooks.simulator import SimulatorChannel
from webhooks.telegram import TelegramChannel
from webhooks.twilio import TwilioSMS

logger = logging.getLogger(__name__)
SCHEDULER = web.AppKey("scheduler", AsyncIOScheduler)


def build_channels(settings: Settings, public_url: str | None) -> dict[str, Channel]:
    channels: dict[str, Channel] = {"simulator": SimulatorChannel()}
    if settings.twilio_enabled:
        channels["sms"] = TwilioSMS(
            settings.twilio_account_sid, settings.twilio_auth_token, from_number=settings.twilio_from_number,
            messaging_service_sid=settings.twilio_messaging_service_sid, api_base=settings.twilio_api_base,
            status_callback=f"{public_url}/webhooks/twilio/status" if public_url else None,
            timeout=settings.send_timeout,
        )
    if settings.smtp_url:
        channels["email"] = EmailChannel(settings.smtp_url, settings.email_from, timeout=settings.send_timeout)
    return channels


async def build_services(settings: Settings, clock=utcnow, migrate: bool = True) -> Services:
    """Engine, migrations, channels and dispatcher, built once in dependency order; call inside a
    running event loop."""
    quiet_libraries()  # however the service is embedded, libraries must not log personal data
    engine = make_engine(settings.database_url)
    if migrate:
        await upgrade(engine)
    sessions = make_sessionmaker(engine)
    routes = Routes.from_settings(settings)
    templates = TemplateWorkers(size=settings.template_workers,
                                limits=replace(LIMITS, seconds=settings.template_seconds))
    contexts = Contexts(settings, routes, templates, clock)
    kick = Wakeup()  # connected by the scheduler, when there is one
    channels = build_channels(settings, settings.public_url)
    application = None
    if settings.telegram_bot_token:
        application = telegram.build_application(settings, None)
        await application.initialize()  # getMe: fails early on a wrong token or base URL
        channels["telegram"] = TelegramChannel(application.bot)
    outbound = MappingProxyType(channels)  # complete now: read-only from here on
    dispatcher = Dispatcher(
        sessions, outbound, make_context=contexts, rate=settings.send_rate,
        concurrency=settings.dispatch_concurrency, batch=settings.dispatch_batch,
        lease_seconds=settings.lease_seconds, clock=clock,
        check_after_seconds=max(30.0, 2 * settings.send_timeout), send_timeout=settings.send_timeout,
        validity_seconds=settings.message_validity, max_backoff=settings.retry_max_backoff,
        down_after=settings.channel_down_after, probe_interval=settings.probe_interval,
    )
    # The batcher's handler runs per batch, only after ``services`` below exists.
    # On PostgreSQL a second batch may start beside a running one after INBOUND_PIPELINE seconds (bot.inbound).
    inbound = InboundBatcher(lambda texts, act_first: handle_in_transaction(services, texts, act_first),
                             wait=settings.inbound_wait,
                             pipeline=INBOUND_PIPELINE if engine.dialect.name == "postgresql" else None)
    services = Services(
        settings=settings, engine=engine, sessions=sessions, routes=routes, contexts=contexts,
        channels=outbound, dispatcher=dispatcher, inbound=inbound,
        readiness=Readiness(engine, tuple(outbound), clock), templates=templates, kick=kick,
        metrics=Metrics(), clock=clock, telegram=application)
    if application is not None:
        application.bot_data["services"] = services  # where the PTB handlers (webhooks.telegram) find it
    return services


async def close_services(services: Services) -> None:
    # Before the channels close: sends in flight get their grace, unsent rows go back at once.
    await services.dispatcher.shutdown(services.settings.shutdown_grace)
    await services.inbound.close()
    await services.templates.close()
    if services.telegram is not None:
        await services.telegram.shutdown()
    for channel in services.channels.values():
        await channel.close()
    await services.engine.dispose()


def create_app(settings: Settings, *, clock=utcnow, scheduler: bool = True,
               telegram_polling: bool = False, migrate: bool = True) -> web.Application:
    """The web application: webhooks, API, health, metrics, the simulator when on, and the ticking scheduler."""
    # Each route reads its body itself, within its own limit (webhooks.intake.read_body).
    app = web.Application(client_max_size=api.MAX_IMPORT, middlewares=[intake.undecodable_headers])

    async def services_ctx(app: web.Application):
        services = await build_services(settings, clock, migrate=migrate)
        if not migrate:  # a worker of `serve --workers`: its parent migrated
            await check_at_head(services.engine)
        app[SERVICES] = services
        poller = None
        if services.telegram is not None:
            if telegram_polling:
                poller = asyncio.create_task(_poll_telegram(services))
            elif settings.public_url:
                await services.telegram.bot.set_webhook(
                    url=f"{settings.public_url}/webhooks/telegram", secret_token=settings.telegram_webhook_secret,
                    allowed_updates=telegram.UPDATE_TYPES)
        yield
        if poller is not None:
            poller.cancel()
        await close_services(services)

    async def scheduler_ctx(app: web.Application):
        services = app[SERVICES]
        # Babel reads a locale's data on first use (tens of ms each): read them off the loop now,
        # not in the first tick.
        await asyncio.to_thread(_load_locales)
        ticks = RunningTicks()
        tick = AsyncIOScheduler(timezone=settings.timezone, job_defaults={
            "coalesce": True, "max_instances": 1, "misfire_grace_time": 60})
        tick.add_job(ticks.track(_dispatch_tick), "interval", args=[services],
                     seconds=max(settings.dispatch_interval, 0.2),
                     id="dispatch", next_run_time=datetime.now(timezone.utc))
        tick.add_job(ticks.track(_customer_reminder_tick), "interval", args=[services], seconds=60,
                     id="customer-reminders",
                     next_run_time=datetime.now(timezone.utc))
        # Automatic rounds and escalation: every process ticks; each slot and escalation is claimed once.
        tick.add_job(ticks.track(_auto_round_tick), "interval", args=[services], seconds=60, id="auto-rounds",
                     next_run_time=datetime.now(timezone.utc))
        # Daily, and soon after a start (a service restarted more often than daily still runs it).
        tick.add_job(ticks.track(_retention_tick), "interval", args=[services], hours=24, id="retention",
                     next_run_time=datetime.now(timezone.utc) + timedelta(minutes=1))
        if services.telegram is not None:
            tick.add_job(ticks.track(telegram.reprocess_stored_updates), "interval",
                         args=[services.telegram, services],
                         seconds=30, id="telegram-recover")
        tick.start()
        app[SCHEDULER] = tick
        services.kick.connect(lambda: _kick(tick))
        yield
        # No new ticks; then the dispatcher (stop claiming, finish or hand back what is in flight);
        # then the ticks still running get the grace to finish: the scheduler's shutdown cancels a
        # running tick, which would leave claimed rows to their lease and a connection half-closed.
        tick.pause()
        await services.dispatcher.shutdown(settings.shutdown_grace)
        await ticks.finish(settings.shutdown_grace)
        tick.shutdown(wait=False)
        services.kick.disconnect()

    app.cleanup_ctx.append(services_ctx)
    if scheduler:
        app.cleanup_ctx.append(scheduler_ctx)
    twilio.setup(app)
    telegram.setup(app)
    api.setup(app)
    if settings.simulator:
        from webhooks import simulator

        simulator.setup(app)
    return app


class RunningTicks:
    """The scheduler's ticks that are running, so a shutdown can let them finish first."""

    def __init__(self) -> None:
        self.running: set[asyncio.Task] = set()

    def track(self, job):
        @functools.wraps(job)
        async def tracked(*args, **kwargs):
            task = asyncio.current_task()
            self.running.add(task)
            try:
                return await job(*args, **kwargs)
            finally:
                self.running.discard(task)
        return tracked

    async def finish(self, grace: float) -> None:
        if self.running:
            await asyncio.wait(set(self.running), timeout=grace)


INBOUND_PIPELINE = 0.015  # seconds: about half an inbound batch's time under load
# Reminders per tick transaction. Each batch is worked out on the event loop that also answers the
# webhooks, so it is kept small enough not to hold them up: under the mixed load batches of 2,000 made
# the tick 2.4 s but held the loop ~100 ms at a time (OK p99 ~270 ms); 500 take ~3.3 s with ~30 ms holds.
# On SQLite the batch's transaction also holds the one write lock every webhook waits for.
TICK_BATCH = 500


async def queue_customer_reminders(services: Services) -> CustomerReminderRun:
    """Queue every customer reminder whose day has come, a bounded batch per transaction."""
    total, tick = CustomerReminderRun(), tick_time()
    limit = TICK_BATCH
    while True:
        exhausted = tick.exhausted()
        async with services.sessions.begin() as session:
            batch = await plan_due_customer_reminders(services.context(session), limit=limit, tick=tick)
        if not batch.claimed:
            return total
        # Rendered between the two transactions, off the event loop: a costly text holds no lock.
        results = await services.templates.render_many(batch.jobs, tick)
        async with services.sessions.begin() as session:
            run = await queue_planned(services.context(session), batch, results)
        total.add(run)
        # Due ones sort first: a batch that settled none means none are left, unless an organisation
        # ran out of rendering time in it (the next batch passes over that organisation).
        if run.reminders == 0 and not run.failed and tick.exhausted() <= exhausted:
            return total


async def _customer_reminder_tick(services: Services) -> None:
    try:
        run = await queue_customer_reminders(services)
        services.metrics.customer_reminders.labels("queued").inc(run.messages)
        services.metrics.customer_reminders.labels("unreached").inc(len(run.unreachable))
        services.metrics.customer_reminders.labels("failed").inc(len(run.failed))
        if run.messages:
            services.kick()
    except Exception:
        logger.exception("customer reminder tick failed; the next tick tries again")


async def _auto_round_tick(services: Services) -> None:
    from handlers.auto_rounds import run_auto_rounds

    try:
        run = await run_auto_rounds(services)  # isolates organisations itself
        if run.messages:
            services.kick()
    except Exception:
        logger.exception("automatic round tick failed; the next tick tries again")


async def _retention_tick(services: Services) -> None:
    from handlers.privacy import apply_retention

    try:
        async with services.sessions.begin() as session:
            counts = await apply_retention(session, services.clock(), services.settings.retention_days)
        logger.info("retention: bodies older than %d days blanked: %s", services.settings.retention_days, counts)
    except Exception:
        logger.exception("retention run failed; it runs again tomorrow")


async def _dispatch_tick(services: Services) -> None:
    try:
        stats = await services.dispatcher.run_once()
        for outcome, n in stats.outcomes.items():
            services.metrics.outbound.labels(outcome).inc(n)
    except Exception:
        logger.exception("dispatch tick failed; the next tick tries again")


async def _poll_telegram(services: Services) -> None:
    """For trying a real bot from a laptop without a public URL: long-poll getUpdates."""
    bot = services.telegram.bot
    await bot.delete_webhook()
    offset = None
    while True:
        try:
            updates = await bot.get_updates(offset=offset, timeout=25, allowed_updates=telegram.UPDATE_TYPES)
        except Exception:
            logger.warning("getUpdates failed; trying again shortly")
            await asyncio.sleep(5)
            continue
        for update in updates:
            offset = update.update_id + 1
            data = update.to_dict()
            await telegram.accept_update(services, data, json.dumps(data))


def _load_locales() -> None:
    from datetime import date

    from babel.dates import format_date

    from core.importer import LOCALES

    for locale in LOCALES:
        format_date(date(2026, 1, 1), "d MMMM y", locale=locale)


def _kick(tick: AsyncIOScheduler) -> None:
    """Dispatch now rather than at the next tick (replies in the simulator should feel instant)."""
    job = tick.get_job("dispatch")
    if job is not None:
        job.modify(next_run_time=datetime.now(timezone.utc))
