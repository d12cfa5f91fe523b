"""The service's logging: one setup, so that no personal data or secret reaches a log line.

Three layers, each enough on its own for what it covers:
1. Libraries that log personal data or secrets at INFO or DEBUG are held at a level where they do
   not (``LIBRARY_LEVELS``), whatever level the root logger is at.
2. Our own code never passes a mobile, personal number, e-mail or message body to a logger; the
   engine is built with ``hide_parameters=True`` (bot/db.py), so a failed statement's parameters
   are not in its exception text.
3. ``RedactingFormatter`` scrubs what slips through anyway (an exception text from a driver, say):
   PostgreSQL's ``DETAIL:`` lines (they quote the key values of a violated constraint), the
   configured secrets, phone numbers, personal numbers, e-mail addresses and Telegram bot tokens.
"""
from __future__ import annotations

import logging
import re
import sys
from typing import Iterable, TextIO

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# logger name -> the lowest level it may log at. A parent covers its children (twilio covers
# twilio.http_client and twilio.async_http_client, which log every request's To, Body and URL at INFO).
LIBRARY_LEVELS: dict[str, int] = {
    "httpx": logging.WARNING,  # every request line at INFO: the Bot API URL holds the bot token
    "httpcore": logging.WARNING,  # request and response traces at DEBUG
    "twilio": logging.WARNING,  # ~14 INFO lines per API call: URL, To, Body, headers
    "telegram": logging.INFO,  # every Bot API call's parameters (chat ids, texts) at DEBUG
    "sqlalchemy": logging.WARNING,  # statements with their parameters at INFO/DEBUG when echo is on
    "aiosqlite": logging.WARNING,  # every statement and its parameters at DEBUG
    "asyncpg": logging.WARNING,
    "alembic": logging.WARNING,  # plugin set-up and every migration step at INFO
    "apscheduler": logging.WARNING,  # "Added job …", "Scheduler started" at every start; misfires still show
    "apscheduler.executors": logging.WARNING,  # "Running job …" twice per dispatch tick; failures still show
    "aiosmtplib": logging.WARNING,
    "aiohttp_retry": logging.WARNING,
}

REDACTED = "[redacted]"
_DETAIL = re.compile(r"^\s*DETAIL:.*$", re.MULTILINE)
_PATTERNS = [
    # A Telegram bot token (also inside a Bot API URL: /bot<token>/sendMessage).
    re.compile(r"(?<!\d)\d{5,}:[A-Za-z0-9_-]{8,}"),
    # E-mail addresses.
    re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
    # Phone numbers in E.164, URL-encoded E.164, 00-prefixed or national form (070-123 45 67).
    re.compile(r"(?:\+|%2[bB])\d{7,15}\b"),
    re.compile(r"(?<![\w.:-])0\d{1,3}[- ]?\d{2,3}(?:[ -]?\d{2}){2,3}\b"),
    # Swedish (and Nordic) personal numbers: YYYYMMDD-XXXX, YYMMDD-XXXX, with or without the dash,
    # and bare 11-digit E.164 numbers without their plus (46701234567).
    re.compile(r"(?<![\w.:-])(?:\d{2})?\d{6}[-+]?\d{4}\b"),
    re.compile(r"(?<![\w.:-])(?:45|46|47|358)\d{8,10}\b"),
]


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without DETAIL lines, known secrets and anything shaped like personal data."""
    text = _DETAIL.sub("DETAIL:  " + REDACTED, text)
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    for pattern in _PATTERNS:
        text = pattern.sub(REDACTED, text)
    return text


class RedactingFormatter(logging.Formatter):
    """A formatter that redacts the message, exception text and stack (never the time or logger name)."""

    def __init__(self, fmt: str = FORMAT, secrets: Iterable[str] = ()) -> None:
        super().__init__(fmt)
        self.secrets: list[str] = []
        self.add_secrets(secrets)

    def add_secrets(self, secrets: Iterable[str | None]) -> None:
        # Short values would redact ordinary words; secrets worth the name are longer.
        found = {s for s in secrets if s and len(s) >= 6}
        self.secrets = sorted(set(self.secrets) | found, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        # A copy: other handlers (pytest's capture, say) still see the record as it was made.
        clean = logging.makeLogRecord(record.__dict__)
        clean.msg, clean.args = redact(record.getMessage(), self.secrets), None
        clean.exc_text = None
        return super().format(clean)

    def formatException(self, ei) -> str:  # noqa: N802 (logging's name)
        return redact(super().formatException(ei), self.secrets)

    def formatStack(self, stack_info: str) -> str:  # noqa: N802
        return redact(super().formatStack(stack_info), self.secrets)


def quiet_libraries() -> None:
    """Hold the libraries of ``LIBRARY_LEVELS`` at their levels (never lower a level set higher)."""
    for name, level in LIBRARY_LEVELS.items():
        logger = logging.getLogger(name)
        if logger.level < level:
            logger.setLevel(level)


def configure_logging(level: int = logging.WARNING, stream: TextIO | None = None,
                      secrets: Iterable[str | None] = ()) -> logging.Handler:
    """The service's logging: one redacting handler on the root logger, libraries held quiet.

    Quiet by default (warnings and errors); `paminn … --verbose` or PAMINN_LOG_LEVEL lowers the root's level,
    never the libraries' (``LIBRARY_LEVELS`` hold whatever the root is at).

    Returns the handler, so the caller can add secrets once settings are read (``add_secrets``).
    """
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(RedactingFormatter(FORMAT, secrets))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h.formatter, RedactingFormatter)]:
        root.removeHandler(old)  # configuring twice must not log everything twice
    root.addHandler(handler)
    root.setLevel(level)
    quiet_libraries()
    return handler


def settings_secrets(settings) -> list[str | None]:
    """The configured values no log line may show."""
    from urllib.parse import urlsplit

    smtp_password = urlsplit(settings.smtp_url).password if settings.smtp_url else None
    return [settings.api_key, settings.twilio_auth_token, settings.telegram_bot_token,
            settings.telegram_webhook_secret, smtp_password]
