"""Customer reminders at scale: the import, and the tick that queues everything due today.

Usage: python -m benchmarks.customer_reminders [--customers 10000] [--backends sqlite,postgresql]
Each customer has two contacts and one weekly reminder due today by e-mail and SMS, so the tick
queues four messages per customer. Each step runs in a fresh process, so peak RSS is its own.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from datetime import datetime, timezone

from benchmarks.run import empty_database, peak_rss_mb

NOW = datetime(2026, 6, 2, 8, 0, tzinfo=timezone.utc)  # 10:00 in Stockholm


def document(customers: int) -> dict:
    return {
        "organisation": {"id": "bench", "name": "Städ AB", "quiet_hours": "off"},
        "staff": [{"id": "ad", "name": "Adam Admin", "roles": ["admin"], "email": "adam@stad.se"}],
        "customers": [{"id": f"k{i}", "name": f"Kund {i:05d}", "area": "Norr", "contacts": [
            {"name": f"Kontakt {i:05d}", "email": f"kund{i}@example.se", "mobile": f"+4670{2000000 + i:07d}"},
            {"name": f"Ekonomi {i:05d}", "email": f"ekonomi{i}@example.se"}]} for i in range(customers)],
        "customer_reminders": [{"id": f"cr{i}", "customer": f"k{i}", "type": "Städning", "title": "Veckostädning",
                                "text": "Hej {{ mottagare }}! Vi kommer till {{ kund }} {{ datum }}.",
                                "due": "2026-06-02", "recurrence": {"every": "week"}, "delivery": "both",
                                "recipients": ["contacts"]} for i in range(customers)],
    }


def settings(url: str):
    from bot.config import Settings

    return Settings.from_env({"PAMINN_DATABASE_URL": url, "SMTP_URL": "smtp://127.0.0.1:9",
                              "TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": "x",
                              "TWILIO_FROM_NUMBER": "+46766860000"})


async def measure(what: str, url: str, customers: int) -> dict:
    from sqlalchemy import text

    from bot.app import build_services, close_services, queue_customer_reminders
    from bot.imports import run_import

    services = await build_services(settings(url), clock=lambda: NOW, migrate=what == "import")
    try:
        started = time.perf_counter()
        if what == "import":
            counts = await run_import(services, document(customers))
            return {"seconds": time.perf_counter() - started, "rss": peak_rss_mb(),
                    "created": counts["customer_reminders"]["created"]}
        run = await queue_customer_reminders(services)
        seconds = time.perf_counter() - started
        async with services.engine.connect() as conn:
            queued = (await conn.execute(text("SELECT count(*) FROM outbox"))).scalar()
        return {"seconds": seconds, "rss": peak_rss_mb(), "reminders": run.reminders, "queued": queued}
    finally:
        await close_services(services)


def fresh(what: str, url: str, customers: int) -> dict:
    out = subprocess.run([sys.executable, "-m", "benchmarks.customer_reminders", "--measure", what, "--url", url,
                          "--customers", str(customers)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=10000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--measure")
    parser.add_argument("--url")
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(asyncio.run(measure(args.measure, args.url, args.customers))))
        return
    print(f"# customer reminders — {args.customers} customers, 2 contacts each, one weekly reminder each due "
          f"today by e-mail and SMS\n")
    for backend in args.backends.split(","):
        with empty_database(backend) as url:
            imported = fresh("import", url, args.customers)
            tick = fresh("tick", url, args.customers)
            print(f"## {backend}\n- import of {args.customers} customers and {imported['created']} reminders: "
                  f"**{imported['seconds']:.2f} s**, peak RSS {imported['rss']:.0f} MB")
            print(f"- tick: {tick['reminders']} reminders due → {tick['queued']} messages queued: "
                  f"**{tick['seconds']:.2f} s** ({tick['queued'] / tick['seconds']:.0f} messages/s), "
                  f"peak RSS {tick['rss']:.0f} MB\n")


if __name__ == "__main__":
    main()
