"""The service's log formatter: personal data and secrets never reach a log line."""
from __future__ import annotations

import io
import logging

import pytest

from bot.logs import LIBRARY_LEVELS, REDACTED, configure_logging, redact


@pytest.mark.parametrize("line, leaked", [
    ("POST http://127.0.0.1:4000/bot123456:TEST-token/sendMessage", "123456:TEST-token"),
    ("to +46701234567", "+46701234567"),
    ("To=%2B46701234567&Body=x", "46701234567"),
    ("PÅMINN 070-123 45 67 maj", "070-123 45 67"),
    ("PÅMINN 0701234567 maj", "0701234567"),
    ("pnr 19900101-1234", "19900101-1234"),
    ("pnr 900101-1234", "900101-1234"),
    ("pnr 199001011234", "199001011234"),
    ("mail anna@example.se", "anna@example.se"),
    ('duplicate key\nDETAIL:  Key (sender)=(Anna Andersson) already exists.', "Anna Andersson"),
])
def test_redact_removes_personal_data(line, leaked):
    assert leaked not in redact(line)
    assert REDACTED in redact(line)


@pytest.mark.parametrize("line", [
    "dispatched 12 rows: {'sent': 12}",
    "outbox row 5 (sms) is unconfirmed: not resent, reported",
    "provider id SM00000000000000000000000000000001",
    "Running upgrade 0005 -> 0006, 2026-06-02 08:00:00",
])
def test_redact_leaves_ordinary_lines(line):
    assert redact(line) == line


def test_configured_handler_redacts_messages_tracebacks_and_secrets():
    stream = io.StringIO()
    root = logging.getLogger()
    before = root.level, list(root.handlers)
    handler = configure_logging(logging.DEBUG, stream=stream, secrets=["operator-key-123"])
    try:
        log = logging.getLogger("paminn.test")
        log.info("sending to %s with key %s", "+46701234567", "operator-key-123")
        try:
            raise ValueError("bad number 070-123 45 67")
        except ValueError:
            log.exception("failed")
    finally:
        root.removeHandler(handler)
        root.setLevel(before[0])
    out = stream.getvalue()
    assert "+46701234567" not in out and "operator-key-123" not in out and "070-123 45 67" not in out
    assert "sending to [redacted] with key [redacted]" in out
    assert "ValueError: bad number [redacted]" in out  # the traceback is kept, the number is not


def test_libraries_that_log_personal_data_are_held_quiet():
    root = logging.getLogger()
    level = root.level
    handler = configure_logging(logging.DEBUG, stream=io.StringIO())
    try:
        for name in ("twilio.http_client", "twilio.async_http_client", "httpx", "httpcore.http11",
                     "sqlalchemy.engine.Engine", "aiosqlite"):
            assert not logging.getLogger(name).isEnabledFor(logging.INFO), name
        assert not logging.getLogger("telegram.Bot").isEnabledFor(logging.DEBUG)
        assert set(LIBRARY_LEVELS) >= {"twilio", "httpx", "httpcore", "telegram", "sqlalchemy"}
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
