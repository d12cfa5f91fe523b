"""A whole day of the service with every log line captured: none shows a person's data or a secret.

The service's own logging setup (bot.logs.configure_logging) is installed with the root logger at
DEBUG, so every library logs whatever its own level lets through: twilio, httpx/httpcore (the Bot
API's URLs), python-telegram-bot, SQLAlchemy, aiosqlite/asyncpg and aiohttp's access log (which
TestServer keeps on, with the query string, stricter than `paminn serve`, which turns it off).
"""
from __future__ import annotations

import io
import itertools
import json
import logging

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.logs import LIBRARY_LEVELS, configure_logging
from core.phones import display
from tests.builders import ANNA, COORD, GUSTAV, IVAR, JONNA, may_org, set_team_chat
from tests.conftest import start_harness
from tests.fakes.telegram import TOKEN, FakeTelegram
from tests.fakes.twilio import AUTH_TOKEN, FakeTwilio, Fault

API_KEY = "operator-key-9f8e7d6c5b4a"
SECRET = "tg-webhook-secret-7788"
KARIN_TG, GROUP = 5001, -100777
FREE_TEXT = "Jag är sjuk idag och hinner inte rapportera"
FAILING_TEXT = "Mitt personnummer är 19900101-1234, ring mig på 070-123 45 67"


class Capture(logging.Handler):
    """Every record as it was made (before the service's formatter redacts anything)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def service_logs():
    """The service's logging at DEBUG into a buffer; the raw records alongside. Restored afterwards."""
    root = logging.getLogger()
    saved = root.level, {name: logging.getLogger(name).level for name in LIBRARY_LEVELS}
    stream = io.StringIO()
    handler = configure_logging(logging.DEBUG, stream=stream)
    handler.formatter.add_secrets([API_KEY, TOKEN, SECRET, AUTH_TOKEN])  # as bot.cli does from the settings
    raw = Capture()
    root.addHandler(raw)
    yield stream, raw
    root.removeHandler(handler)
    root.removeHandler(raw)
    root.setLevel(saved[0])
    for name, level in saved[1].items():
        logging.getLogger(name).setLevel(level)


def org_document() -> dict:
    doc = may_org()
    for n, person in enumerate(doc["staff"], start=10):
        person["personal_number"] = f"198{n % 10}0{n % 9 + 1}{n:02d}-{n:02d}{n:02d}"
        person["email"] = f"person{n}@example.se"
    doc["staff"][2]["personal_number"] = "19900101-1234"  # Anna, whose number the failing text quotes
    doc["staff"][2]["mobile"] = "070-123 45 67"  # a national form, as host systems send them
    return doc


def phone_forms(e164: str) -> set[str]:
    national = display(e164)
    return {e164, e164[1:], national, national.replace("-", ""), "".join(c for c in national if c.isdigit())}


def pn_forms(pn: str) -> set[str]:
    return {pn, pn.replace("-", ""), pn[2:], pn[2:].replace("-", "")}


async def post_update(h, update: dict):
    response = await h.client.post("/webhooks/telegram", data=json.dumps(update),
                                   headers={"X-Telegram-Bot-Api-Secret-Token": SECRET,
                                            "Content-Type": "application/json"})
    assert response.status == 200


def update_from(update_id: int, text: str = "", **extra) -> dict:
    msg = {"message_id": update_id + 1000, "date": 1780000000, "text": text,
           "from": {"id": KARIN_TG, "is_bot": False, "first_name": "Karin"},
           "chat": {"id": KARIN_TG, "type": "private"}, **extra}
    if text.startswith("/"):
        msg["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return {"update_id": update_id, "message": msg}


async def run_scenario(h) -> None:
    api = {"Authorization": f"Bearer {API_KEY}"}
    response = await h.client.post("/api/v1/import", json=org_document(), headers=api)
    assert response.status == 200, await response.text()
    response = await h.client.get("/api/v1/organisations/org1/customer-reminders?customer=k1", headers=api)
    assert response.status == 200
    await set_team_chat(h, address=f"telegram:{GROUP}")

    replies = await h.sms(COORD, "PÅMINN ALLA maj")
    assert replies[0].startswith("4 påminnelser för maj 2026 skickade")
    assert (await h.dispatch()).sent >= 4
    assert {m.to for m in h.fake.messages} >= {ANNA, GUSTAV, IVAR, JONNA}
    assert (await h.sms(ANNA, "OK"))[0].startswith("Tack!")
    assert await h.sms(GUSTAV, "STOPP")
    await h.sms(IVAR, FREE_TEXT)
    await h.dispatch()
    assert any(FREE_TEXT in c.params.get("text", "") for c in h.tg.sent(GROUP))  # passed on to the team chat

    # A send cut off midway: the dispatcher asks Twilio's message list (To=<the number>) before resending.
    h.fake.faults.append(Fault(drop=True))
    assert (await h.sms(COORD, "PÅMINN Anna maj"))[0].startswith("Påminnelse för maj 2026 skickad")
    assert (await h.dispatch()).unknown == 1
    h.clock.advance(minutes=5)
    checked = await h.dispatch()
    assert checked.reconciled + checked.resent_after_check == 1

    first = h.fake.messages[0]
    row_id = first.status_callback.split("?m=")[1]
    params = {"MessageSid": first.sid, "MessageStatus": "delivered", "To": first.to, "From": "+46766860000",
              "AccountSid": "AC" + "0" * 32}
    response = await h.post_form(f"/webhooks/twilio/status?m={row_id}", params)
    assert response.status == 204

    ids = itertools.count(1)
    await post_update(h, update_from(next(ids), contact={"phone_number": COORD, "first_name": "Karin",
                                                         "user_id": KARIN_TG}))
    await post_update(h, update_from(next(ids), "/status maj ALLA"))
    await h.dispatch()
    assert any("Anna Andersson" in t for t in h.tg.texts(KARIN_TG))  # the reply went out through the Bot API

    # A database error mid-request: the text's row violates a (test-made) unique index on the sender.
    await h.execute("CREATE UNIQUE INDEX ix_test_one_sms_per_sender ON inbound (sender) "
                    "WHERE channel = 'sms' AND command IN ('Unknown', 'Acknowledge')")
    response = await h.post_form("/webhooks/twilio/sms", {"MessageSid": "SM" + "f" * 32, "From": ANNA,
                                                          "To": "+46766860000", "Body": FAILING_TEXT,
                                                          "AccountSid": "AC" + "0" * 32})
    assert response.status == 500
    await h.execute("DROP INDEX ix_test_one_sms_per_sender")


def needles(doc: dict, bodies: list[str]) -> set[str]:
    found = {API_KEY, TOKEN, SECRET, AUTH_TOKEN, FREE_TEXT, FAILING_TEXT}
    for person in doc["staff"]:
        found.add(person["name"])
        found.add(person["email"])
        found |= pn_forms(person["personal_number"])
        if person.get("mobile"):
            from core.phones import to_e164

            found |= phone_forms(to_e164(person["mobile"]))
    found |= {b for b in bodies if len(b) >= 8}
    # Their beginnings too: a body whose numbers were redacted must not show the rest of it.
    found |= {b[:16] for b in found if len(b) >= 16}
    return found


async def quiet_fake(fake, app):
    """Start a fake Twilio/Telegram without an access log: its log lines are the test's, not the service's."""
    fake.server = TestServer(app, host="127.0.0.1", port=0)
    await fake.server.start_server(access_log=None)
    return fake


async def test_no_personal_data_or_secret_in_any_log_line(db_url, clock, service_logs):
    stream, raw = service_logs
    twilio = FakeTwilio()
    await quiet_fake(twilio, twilio.app())
    tg = FakeTelegram()
    tg_app = web.Application()
    tg_app.router.add_post("/bot{token}/{method}", tg._handle)
    await quiet_fake(tg, tg_app)
    h = await start_harness(db_url, twilio, clock, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_WEBHOOK_SECRET=SECRET,
                            TELEGRAM_API_BASE=tg.api_base, PAMINN_API_KEY=API_KEY, PAMINN_TEAM_ACK_WINDOW="0")
    h.tg = tg

    async def execute(sql: str) -> None:
        from sqlalchemy import text

        async with h.services.engine.begin() as conn:
            await conn.execute(text(sql))
    h.execute = execute
    try:
        await run_scenario(h)
        bodies = [r[0] for r in await h.rows("SELECT body FROM outbox")]
        bodies += [r[0] for r in await h.rows("SELECT body FROM inbound")]
        bodies += [r[0] for r in await h.rows("SELECT reply FROM inbound WHERE reply IS NOT NULL")]
    finally:
        await h.client.close()
        await tg.close()
        await twilio.close()
    logged = stream.getvalue()
    # The scenario did log, through every path that could leak: requests, sends, the failure.
    assert "POST /webhooks/twilio/sms" in logged and "POST /webhooks/telegram" in logged  # aiohttp.access
    assert "GET /api/v1/organisations/org1/customer-reminders?customer=k1" in logged
    assert "an inbound text could not be handled" in logged and "IntegrityError" in logged
    assert "hide_parameters=True" in logged  # SQLAlchemy's note in place of the failed statement's values
    assert "dispatched" in logged

    leaks = sorted(n for n in needles(org_document(), bodies) if n in logged)
    assert leaks == [], f"found in the logs: {leaks}"
    # Not only redacted: the libraries and our code never put any of it in a log message at all.
    # (A driver's exception text can quote a violated key's values: the formatter removes those.)
    messages = "\n".join(r.getMessage() for r in raw.records)
    leaks = sorted(n for n in needles(org_document(), bodies) if n in messages)
    assert leaks == [], f"logged (then redacted): {leaks}"
    assert "[redacted]" not in messages
