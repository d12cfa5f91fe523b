"""The composition root: ``create_app`` builds everything; nothing happens at import time."""
from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime, timezone

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.channels.simulator import SimulatorChannel
from bot.config import Settings
from bot.db import make_engine, make_sessionmaker, upgrade
from bot.dispatcher import Dispatcher
from bot.inbound import InboundBatcher, handle_in_transaction
from bot.readiness import Readiness
from bot.routing import Routes
from bot.services import Services, utcnow
from bot import telegram_app
from handlers.customer_reminders import CustomerReminderRun, queue_due_customer_reminders
from webhooks import api, intake, telegram, twilio
from webhooks.keys import SERVICES

logger = logging.getLogger(__name__)
SCHEDULER = web.AppKey("scheduler", AsyncIOScheduler)


def build_channels(settings: Settings, public_url: str | None) -> dict:
    channels: dict = {"simulator": SimulatorChannel()}
    if settings.twilio_enabled:
        from bot.channels.twilio_sms import TwilioSMS

        channels["sms"] = TwilioSMS(
            settings.twilio_account_sid, settings.twilio_auth_token, from_number=settings.twilio_from_number,
            messaging_service_sid=settings.twilio_messaging_service_sid, api_base=settings.twilio_api_base,
            status_callback=f"{public_url}/webhooks/twilio/status" if public_url else None,
            timeout=settings.send_timeout,
        )
    if settings.smtp_url:
        from bot.channels.email import EmailChannel

        channels["email"] = EmailChannel(settings.smtp_url, settings.email_from, timeout=settings.send_timeout)
    return channels


async def build_services(settings: Settings, clock=utcnow, migrate: bool = True) -> Services:
    """Engine, migrations, channels and dispatcher; call inside a running event loop."""
    engine = make_engine(settings.database_url)
    if migrate:
        await upgrade(engine)
    services = Services(settings=settings, engine=engine, sessions=make_sessionmaker(engine),
                        routes=Routes.from_settings(settings), clock=clock)
    services.channels = build_channels(settings, settings.public_url)
    services.readiness = Readiness(engine, lambda: list(services.channels), clock)
    services.inbound = InboundBatcher(lambda texts: handle_in_transaction(services, texts),
                                      wait=settings.inbound_wait)
    if settings.telegram_bot_token:
        from bot.channels.telegram import TelegramChannel
        from bot.telegram_app import build_application

        services.telegram = build_application(settings, services)
        await services.telegram.initialize()  # getMe: fails early on a wrong token or base URL
        services.channels["telegram"] = TelegramChannel(services.telegram.bot)
    services.dispatcher = Dispatcher(
        services.sessions, services.channels, make_context=services.context, rate=settings.send_rate,
        concurrency=settings.dispatch_concurrency, batch=settings.dispatch_batch,
        lease_seconds=settings.lease_seconds, max_attempts=settings.max_attempts, clock=clock,
        check_after_seconds=max(30.0, 2 * settings.send_timeout), send_timeout=settings.send_timeout,
    )
    return services


async def close_services(services: Services) -> None:
    await services.inbound.close()
    if services.telegram is not None:
        await services.telegram.shutdown()
    for channel in services.channels.values():
        close = getattr(channel, "close", None)
        if close:
            await close()
    await services.engine.dispose()


def create_app(settings: Settings, *, clock=utcnow, scheduler: bool = True,
               telegram_polling: bool = False) -> web.Application:
    """The web application: webhooks, API, health, metrics, the simulator when on, and the ticking scheduler."""
    # Each route reads its body itself, within its own limit (webhooks.intake.read_body).
    app = web.Application(client_max_size=api.MAX_IMPORT, middlewares=[intake.undecodable_headers])

    async def services_ctx(app: web.Application):
        services = await build_services(settings, clock)
        app[SERVICES] = services
        poller = None
        if services.telegram is not None:
            if telegram_polling:
                poller = asyncio.create_task(_poll_telegram(services))
            elif settings.public_url:
                await services.telegram.bot.set_webhook(
                    url=f"{settings.public_url}/webhooks/telegram", secret_token=settings.telegram_webhook_secret,
                    allowed_updates=telegram_app.UPDATE_TYPES)
        yield
        if poller is not None:
            poller.cancel()
        await close_services(services)

    async def scheduler_ctx(app: web.Application):
        services = app[SERVICES]
        tick = AsyncIOScheduler(timezone=settings.timezone, job_defaults={
            "coalesce": True, "max_instances": 1, "misfire_grace_time": 60})
        tick.add_job(_dispatch_tick, "interval", args=[services], seconds=max(settings.dispatch_interval, 0.2),
                     id="dispatch", next_run_time=datetime.now(timezone.utc))
        tick.add_job(_customer_reminder_tick, "interval", args=[services], seconds=60, id="customer-reminders",
                     next_run_time=datetime.now(timezone.utc))
        if services.telegram is not None:
            tick.add_job(telegram_app.reprocess_stored_updates, "interval", args=[services.telegram, services],
                         seconds=30, id="telegram-recover")
        tick.start()
        app[SCHEDULER] = tick
        services.kick = lambda: _kick(tick)
        yield
        tick.shutdown(wait=False)

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


async def queue_customer_reminders(services: Services) -> CustomerReminderRun:
    """Queue every customer reminder whose day has come, a bounded batch per transaction."""
    total = CustomerReminderRun()
    while True:
        async with services.sessions.begin() as session:
            run = await queue_due_customer_reminders(services.context(session))
        total.reminders += run.reminders
        total.messages += run.messages
        total.skipped_due_dates += run.skipped_due_dates
        total.unreachable += run.unreachable
        if run.reminders == 0:  # due ones sort first: a batch that sent nothing means none are left
            return total


async def _customer_reminder_tick(services: Services) -> None:
    try:
        run = await queue_customer_reminders(services)
        services.metrics.customer_reminders.labels("queued").inc(run.messages)
        services.metrics.customer_reminders.labels("unreached").inc(len(run.unreachable))
        if run.messages:
            services.kick()
    except Exception:
        logger.exception("customer reminder tick failed; the next tick tries again")


async def _dispatch_tick(services: Services) -> None:
    try:
        stats = await services.dispatcher.run_once()
        for outcome, n in stats.outcomes.items():
            services.metrics.outbound.labels(outcome).inc(n)
    except Exception:
        logger.exception("dispatch tick failed; the next tick tries again")


async def _poll_telegram(services: Services) -> None:
    """For trying a real bot from a laptop without a public URL: long-poll getUpdates."""
    from webhooks.telegram import accept_update

    bot = services.telegram.bot
    await bot.delete_webhook()
    offset = None
    while True:
        try:
            updates = await bot.get_updates(offset=offset, timeout=25, allowed_updates=telegram_app.UPDATE_TYPES)
        except Exception:
            logger.warning("getUpdates failed; trying again shortly")
            await asyncio.sleep(5)
            continue
        for update in updates:
            offset = update.update_id + 1
            data = update.to_dict()
            await accept_update(services, data, json.dumps(data))


def _kick(tick: AsyncIOScheduler) -> None:
    """Dispatch now rather than at the next tick (replies in the simulator should feel instant)."""
    job = tick.get_job("dispatch")
    if job is not None:
        job.modify(next_run_time=datetime.now(timezone.utc))
