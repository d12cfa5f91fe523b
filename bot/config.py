"""Settings, read once from an injected mapping (the environment plus an optional .env file)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping
from zoneinfo import ZoneInfo

from core.quiet import parse_quiet_hours
from core.retry import DEFAULT_VALIDITY, parse_duration


class ConfigError(ValueError):
    pass


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "on", "true", "yes", "ja")


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite+aiosqlite:///./paminn.db"
    public_url: str | None = None
    api_key: str | None = None
    timezone: str = "Europe/Stockholm"
    quiet_hours: str = "21:00-08:00"
    send_rate: float = 10.0
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_from_number: str | None = None
    twilio_messaging_service_sid: str | None = None
    twilio_api_base: str = "https://api.twilio.com"
    telegram_bot_token: str | None = None
    telegram_webhook_secret: str | None = None
    telegram_api_base: str = "https://api.telegram.org/bot"
    smtp_url: str | None = None
    email_from: str = "Påminn <noreply@paminn.se>"
    simulator: bool = False
    # Host headers (besides the loopback names) the simulator answers: `paminn serve --expose-simulator HOST`.
    simulator_hosts: tuple[str, ...] = ()
    # Believe X-Forwarded-Proto/-Host for the Twilio signature URL (PAMINN_TRUST_PROXY=on, behind a TLS proxy).
    trust_proxy: bool = False
    # Internal knobs (documented in the README, not in the contract).
    dispatch_interval: float = 2.0
    dispatch_batch: int = 400
    dispatch_concurrency: int = 20
    send_timeout: float = 15.0
    lease_seconds: float = 60.0
    team_ack_window: float = 60.0
    inbound_wait: float = 10.0  # s an inbound webhook waits for the database before answering 503
    # Outages (docs/outages.md): how long a message is retried (organisations may set their own),
    # the longest pause between tries, how many transient failures in a row mark a channel down,
    # how often a down channel is probed, and how long shutdown waits for sends in flight.
    message_validity: int = DEFAULT_VALIDITY
    retry_max_backoff: float = 300.0
    channel_down_after: int = 5
    probe_interval: float = 30.0
    shutdown_grace: float = 5.0
    # Days message bodies (outbox, inbound texts and replies, event values) are kept before being blanked.
    retention_days: int = 90
    template_workers: int = 2  # processes rendering organisations' texts (bot/template_workers.py)
    template_seconds: float = 0.5  # time one rendering may take before it is refused as too costly

    @property
    def twilio_enabled(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token
                    and (self.twilio_from_number or self.twilio_messaging_service_sid))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        """Read settings; raise ConfigError naming the variable and what to set it to."""
        env = dict(os.environ if env is None else env)
        get = lambda k: (env.get(k) or "").strip() or None  # noqa: E731

        def number(key: str, default: float) -> float:
            raw = get(key)
            if raw is None:
                return default
            try:
                value = float(raw)
            except ValueError:
                raise ConfigError(f"{key}={raw!r} must be a number") from None
            if value < 0:
                raise ConfigError(f"{key}={raw!r} must not be negative")
            return value

        def count(key: str, default: int, what: str) -> int:
            """A whole number of ``what``, at least 1."""
            value = number(key, default)
            if value < 1 or value != int(value):
                raise ConfigError(f"{key}={get(key)!r} must be a whole number of {what}, at least 1")
            return int(value)

        tz = get("PAMINN_TIMEZONE") or "Europe/Stockholm"
        try:
            ZoneInfo(tz)
        except Exception:
            raise ConfigError(f"PAMINN_TIMEZONE={tz!r} is not a time zone; use e.g. Europe/Stockholm") from None
        quiet = get("PAMINN_QUIET_HOURS") or "21:00-08:00"
        try:
            parse_quiet_hours(quiet)
        except ValueError as exc:
            raise ConfigError(f"PAMINN_QUIET_HOURS: {exc}") from None
        try:
            validity = parse_duration(get("PAMINN_MESSAGE_VALIDITY") or DEFAULT_VALIDITY, "PAMINN_MESSAGE_VALIDITY")
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        concurrency = count("PAMINN_DISPATCH_CONCURRENCY", cls.dispatch_concurrency, "sends at once")
        down_after = count("PAMINN_CHANNEL_DOWN_AFTER", 5, "failures")
        raw_retention = get("PAMINN_RETENTION_DAYS") or "90"
        if not raw_retention.isdigit() or int(raw_retention) < 1:
            raise ConfigError(f"PAMINN_RETENTION_DAYS={raw_retention!r} must be a whole number of days, 1 or more "
                              "(message bodies older than that are blanked)")
        settings = cls(
            database_url=get("PAMINN_DATABASE_URL") or cls.database_url,
            public_url=(get("PAMINN_PUBLIC_URL") or "").rstrip("/") or None,
            api_key=get("PAMINN_API_KEY"),
            timezone=tz,
            quiet_hours=quiet,
            send_rate=number("PAMINN_SEND_RATE", 10.0),
            twilio_account_sid=get("TWILIO_ACCOUNT_SID"),
            twilio_auth_token=get("TWILIO_AUTH_TOKEN"),
            twilio_from_number=get("TWILIO_FROM_NUMBER"),
            twilio_messaging_service_sid=get("TWILIO_MESSAGING_SERVICE_SID"),
            twilio_api_base=(get("TWILIO_API_BASE") or cls.twilio_api_base).rstrip("/"),
            telegram_bot_token=get("TELEGRAM_BOT_TOKEN"),
            telegram_webhook_secret=get("TELEGRAM_WEBHOOK_SECRET"),
            telegram_api_base=(get("TELEGRAM_API_BASE") or cls.telegram_api_base).rstrip("/"),
            smtp_url=get("SMTP_URL"),
            email_from=get("PAMINN_EMAIL_FROM") or cls.email_from,
            simulator=_flag(get("PAMINN_SIMULATOR"), False),
            trust_proxy=_flag(get("PAMINN_TRUST_PROXY"), False),
            dispatch_interval=number("PAMINN_DISPATCH_INTERVAL", 2.0),
            dispatch_concurrency=concurrency,
            team_ack_window=number("PAMINN_TEAM_ACK_WINDOW", 60.0),
            lease_seconds=number("PAMINN_LEASE_SECONDS", 60.0),
            send_timeout=number("PAMINN_SEND_TIMEOUT", 15.0),
            inbound_wait=number("PAMINN_INBOUND_WAIT", 10.0),
            message_validity=validity,
            retry_max_backoff=number("PAMINN_RETRY_MAX_BACKOFF", 300.0),
            channel_down_after=down_after,
            probe_interval=number("PAMINN_PROBE_INTERVAL", 30.0),
            shutdown_grace=number("PAMINN_SHUTDOWN_GRACE", 5.0),
            retention_days=int(raw_retention),
            template_workers=max(1, int(number("PAMINN_TEMPLATE_WORKERS", 2))),
            template_seconds=number("PAMINN_TEMPLATE_SECONDS", 0.5) or 0.5,
        )
        if settings.public_url and ("#" in settings.public_url or "?" in settings.public_url):
            raise ConfigError("PAMINN_PUBLIC_URL must be the service's base URL (e.g. https://paminn.example.se), "
                              "without '?' or '#': Twilio's connection overrides go on the webhook URL in "
                              "Twilio's console, e.g. https://paminn.example.se/webhooks/twilio/sms#rc=3&rp=ct,rt,5xx")
        if not 0 < settings.inbound_wait < 15:
            raise ConfigError(f"PAMINN_INBOUND_WAIT={settings.inbound_wait:g} must be above 0 and below 15 "
                              "(seconds): Twilio gives up on a webhook after 15 s; e.g. 10")
        if settings.lease_seconds <= settings.send_timeout:
            raise ConfigError(f"PAMINN_LEASE_SECONDS ({settings.lease_seconds:g}) must be longer than "
                              f"PAMINN_SEND_TIMEOUT ({settings.send_timeout:g}): a claim must outlive a send")
        if settings.smtp_url:
            from webhooks.email import parse_smtp_url

            try:
                parse_smtp_url(settings.smtp_url)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
        if settings.telegram_bot_token and not settings.telegram_webhook_secret:
            raise ConfigError("TELEGRAM_WEBHOOK_SECRET must be set when TELEGRAM_BOT_TOKEN is")
        if settings.twilio_account_sid and not settings.twilio_auth_token:
            raise ConfigError("TWILIO_AUTH_TOKEN must be set when TWILIO_ACCOUNT_SID is")
        if settings.twilio_account_sid and not (settings.twilio_from_number or settings.twilio_messaging_service_sid):
            raise ConfigError("set TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID with TWILIO_ACCOUNT_SID")
        return settings
