"""The customer reminder tick runs in every process: two at once still queue each due date once."""
from __future__ import annotations

import asyncio

import pytest

from bot.app import build_services, close_services, queue_customer_reminders
from tests.builders import load
from tests.conftest import make_settings, start_harness
from tests.mailbox import Mailbox

pytestmark = pytest.mark.reliability
CUSTOMERS = 300


async def test_two_processes_ticking_at_once_queue_each_reminder_once(db_url, fake_twilio, clock):
    mailbox = await Mailbox().start()
    smtp = f"smtp://127.0.0.1:{mailbox.port}"
    # The suite's 10 s send timeout suits single sends; here it could put an e-mail that a busy machine's SMTP
    # server answers slowly in doubt (never resent: counted as lost below). This test is about the ticks.
    patient = {"SMTP_URL": smtp, "PAMINN_SEND_TIMEOUT": "20"}
    h = await start_harness(db_url, fake_twilio, clock, **patient)
    other = await build_services(make_settings(db_url, fake_twilio, **patient), clock=clock, migrate=False)
    try:
        await load(h, {
            "organisation": {"id": "org1", "name": "Städ AB"},
            "customers": [{"id": f"k{i}", "name": f"Kund {i:03d}",
                           "contacts": [{"name": f"Kontakt {i:03d}", "email": f"kund{i}@example.se"}]}
                          for i in range(CUSTOMERS)],
            "customer_reminders": [{"id": f"cr{i}", "customer": f"k{i}", "title": "Städning",
                                    "text": "Vi kommer {{ datum }}.", "due": "2026-06-02",
                                    "recurrence": {"every": "week"}, "delivery": "email"}
                                   for i in range(CUSTOMERS)],
        })
        runs = await asyncio.gather(queue_customer_reminders(h.services), queue_customer_reminders(other),
                                    queue_customer_reminders(h.services))
        assert sum(r.reminders for r in runs) == CUSTOMERS
        assert await h.scalar("SELECT count(*) FROM outbox WHERE kind = 'customer-reminder'") == CUSTOMERS
        await asyncio.gather(h.dispatch(), other.dispatcher.run_once())
        await h.dispatch()
        received = sorted(m["To"] for m in mailbox.messages)
        statuses = await h.rows("SELECT status, error_code, count(*) FROM outbox GROUP BY status, error_code")
        assert [tuple(s) for s in statuses] == [("sent", None, CUSTOMERS)], statuses
        assert received == sorted(f"kund{i}@example.se" for i in range(CUSTOMERS))
        assert {m.get_content().strip() for m in mailbox.messages} == {"Vi kommer 2 juni 2026."}
        assert await h.scalar("SELECT count(*) FROM customer_reminders WHERE next_due = '2026-06-09'") == CUSTOMERS
    finally:
        await close_services(other)
        await h.client.close()
        await mailbox.close()
