"""Mixed load (issue #10): a round, inbound webhooks and a customer-reminder tick at once, in one process.

Usage: python -m benchmarks.mixed [--assistants 20000] [--customers 10000] [--concurrency 50]

One Påminn app on PostgreSQL (the real app and its scheduler, in this process, on a loopback port) while:
- a coordinator's signed ``PÅMINN ALLA <last month>`` queues one SMS to each of the assistants, which the
  scheduler's dispatcher sends to the loopback fake Twilio (its own process), pacing off;
- a load generator (its own process) keeps ``--concurrency`` signed ``OK`` webhooks from the reminded
  assistants in flight until the round has gone out;
- a customer-reminder tick queues the SMS of ``--customers`` reminders due today, started as the round starts.

The tick is run by this benchmark (the scheduler's own customer-reminder job is paused, so the two do not
split the work and the duration is the tick's): the reminders are imported inactive and switched on at once.
Speed is printed PASS/FAIL against the issue's targets but never fails the run (the machine is shared);
a lost or doubled message, at the fake or in the database, exits 1.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import sys
import time
import uuid
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from bot.runtime import run as run_on_loop
from bot.runtime import tune_gc

if TYPE_CHECKING:
    from core.months import Month

PG_DEFAULT = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
ORG = "mixed"
TZ = "Europe/Stockholm"
COORDINATOR = "+46700000001"
WARM_UP = "+46709999999"  # the one SMS that warms the dispatcher up before the round
ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"p99_ms": 150.0, "dispatch_per_s": 1000.0, "tick_s": 5.0}


def assistant_mobile(i: int) -> str:
    return f"+4670{1000000 + i:07d}"


def customer_mobile(i: int) -> str:
    return f"+4672{i:07d}"


def document(assistants: int, customers: int, now: datetime) -> tuple[dict, "Month"]:
    """The organisation: every assistant with one unfinished shift last month; every customer one SMS contact
    and one weekly reminder due today."""
    from core.months import Month

    local = now.astimezone(ZoneInfo(TZ))
    last = Month(local.year, local.month).shift(-1)
    tz = ZoneInfo(TZ)
    shifts = []
    for i in range(assistants):
        start = datetime(last.year, last.month, i % 28 + 1, 8, 0, tzinfo=tz)
        shifts.append({"id": f"s{i}", "staff": f"a{i}", "care_recipient": f"r{i % 100}",
                       "start": start.isoformat(), "end": start.replace(hour=16).isoformat()})
    return {
        "organisation": {"id": ORG, "name": "Blandad Last AB", "quiet_hours": "off"},
        "staff": [{"id": "c1", "name": "Karin Koordinator", "mobile": COORDINATOR, "roles": ["coordinator"]}]
        + [{"id": f"a{i}", "name": f"Assistent {i:05d}", "mobile": assistant_mobile(i)} for i in range(assistants)],
        "care_recipients": [{"id": f"r{j}", "name": f"Brukare {j:03d}"} for j in range(100)],
        "shifts": shifts,
        "customers": [{"id": f"k{i}", "name": f"Kund {i:05d}", "area": "Norr", "contacts": [
            {"name": f"Kontakt {i:05d}", "mobile": customer_mobile(i)}]} for i in range(customers)],
        "customer_reminders": [{"id": f"cr{i}", "customer": f"k{i}", "type": "Städning", "title": "Veckostädning",
                                "text": "Hej {{ mottagare }}! Vi kommer till {{ kund }} {{ datum }}.",
                                "due": local.date().isoformat(), "recurrence": {"every": "week"},
                                "delivery": "sms", "recipients": ["contacts"]} for i in range(customers)],
    }, last


def settings(url: str, port: int, fake_port: int):
    from bot.config import Settings
    from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN

    # The dispatcher's concurrency may be tried other than the default: PAMINN_DISPATCH_CONCURRENCY=50 make bench-mixed
    tried = {k: os.environ[k] for k in ("PAMINN_DISPATCH_CONCURRENCY",) if k in os.environ}
    return Settings.from_env({**tried,
        "PAMINN_DATABASE_URL": url, "PAMINN_PUBLIC_URL": f"http://127.0.0.1:{port}", "PAMINN_SEND_RATE": "0",
        "PAMINN_QUIET_HOURS": "off", "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": "+46766860000", "TWILIO_API_BASE": f"http://127.0.0.1:{fake_port}"})


def signed(url: str, params: dict) -> tuple[str, dict]:
    from twilio.request_validator import RequestValidator

    from tests.fakes.twilio import AUTH_TOKEN

    return urlencode(params), {"Content-Type": "application/x-www-form-urlencoded",
                               "X-Twilio-Signature": RequestValidator(AUTH_TOKEN).compute_signature(url, params)}


# ---------------------------------------------------------------- the load generator (its own process)


async def generate(url: str, concurrency: int, assistants: int) -> dict:
    """Prints READY; on a line on stdin keeps ``concurrency`` OKs in flight until stdin closes."""
    import aiohttp

    latencies: list[float] = []
    errors = unexpected = counter = 0
    loop = asyncio.get_running_loop()
    print("READY", flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)
    stop = loop.run_in_executor(None, sys.stdin.read)

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal errors, unexpected, counter
        while not stop.done():
            n, counter = counter, counter + 1
            # Senders in the round's order, each once (then again, if the round outlasts them).
            params = {"MessageSid": f"SMok{n:030d}", "From": assistant_mobile(n % assistants),
                      "To": "+46766860000", "Body": "OK"}
            body, headers = signed(url, params)
            started = time.perf_counter()
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    answer = await response.read()
                    if response.status != 200:
                        errors += 1
                    elif b"<Message>Tack!" not in answer:
                        unexpected += 1
            except aiohttp.ClientError:
                errors += 1
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.monotonic()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    elapsed = time.monotonic() - started
    latencies.sort()
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    return {"requests": counter, "errors": errors, "unexpected": unexpected, "seconds": elapsed,
            "senders": min(counter, assistants), "p50": q[49], "p95": q[94], "p99": q[98],
            "max": latencies[-1] if latencies else 0.0}


# ---------------------------------------------------------------- the measurement


async def measure(url: str, assistants: int, customers: int, concurrency: int = 50, timeout: float | None = None,
                  log=print) -> dict:
    """Run the mixed load against the empty PostgreSQL schema at ``url``; return figures and problems found."""
    import aiohttp
    from aiohttp import web
    from sqlalchemy import text

    from benchmarks.load import free_port
    from bot.app import SCHEDULER, build_services, close_services, create_app, queue_customer_reminders
    from bot.config import Settings
    from bot.imports import run_import
    from core.months import month_name
    from webhooks.keys import SERVICES

    timeout = timeout or 60 + (assistants + customers) / 100
    now = datetime.now(timezone.utc)
    doc, month = document(assistants, customers, now)
    t0 = time.perf_counter()
    services = await build_services(Settings.from_env({"PAMINN_DATABASE_URL": url}))
    try:
        await run_import(services, doc)
        async with services.engine.begin() as conn:  # held back until the tick below
            await conn.execute(text("UPDATE customer_reminders SET active = false WHERE org_id = :org"),
                               {"org": ORG})
    finally:
        await close_services(services)
    del doc
    log(f"- data imported in {time.perf_counter() - t0:.1f} s (not measured)")

    fake = await asyncio.create_subprocess_exec(sys.executable, "-m", "tests.fakes.twilio", "--port", "0",
                                                cwd=ROOT, stdout=asyncio.subprocess.PIPE)
    generator = runner = None
    try:
        fake_port = int((await fake.stdout.readline()).split()[1])
        fake_base = f"http://127.0.0.1:{fake_port}"
        port = free_port()
        webhook = f"http://127.0.0.1:{port}/webhooks/twilio/sms"
        app = create_app(settings(url, port, fake_port))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        app[SCHEDULER].pause_job("customer-reminders")
        services = app[SERVICES]
        await warm_up(services, fake_base)
        generator = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "benchmarks.mixed", "--generate", webhook, "--concurrency", str(concurrency),
            "--assistants", str(assistants), cwd=ROOT, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE)
        if (await generator.stdout.readline()).strip() != b"READY":
            raise RuntimeError("the load generator did not start")

        async with aiohttp.ClientSession() as http:
            command = f"PÅMINN ALLA {month_name(month)}"
            body, headers = signed(webhook, {"MessageSid": "SMround" + "0" * 28, "From": COORDINATOR,
                                             "To": "+46766860000", "Body": command})
            started = time.perf_counter()
            cpu_started = time.process_time()
            async with http.post(webhook, data=body, headers=headers) as response:
                reply = await response.text()
                round_status = response.status
            round_s = time.perf_counter() - started
            round_committed = time.time()
            if round_status != 200:
                raise RuntimeError(f"the round's webhook answered {round_status}")
            said = reply.split("<Message>")[1].split("</Message>")[0].splitlines()[0] if "<Message>" in reply else reply
            log(f"- {command} → webhook answered in {round_s:.2f} s: {said}")

            generator.stdin.write(b"go\n")
            await generator.stdin.drain()
            async with services.engine.begin() as conn:
                await conn.execute(text("UPDATE customer_reminders SET active = true WHERE org_id = :org"),
                                   {"org": ORG})
            tick_started = time.perf_counter()
            tick_wall = time.time()
            run = await queue_customer_reminders(services)
            tick_s = time.perf_counter() - tick_started
            services.kick()  # as the scheduler's tick does

            expected = assistants + customers + 1  # and the warm-up SMS
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                async with http.get(f"{fake_base}/_count") as response:
                    if (await response.json())["messages"] >= expected:
                        break
                await asyncio.sleep(0.1)
            # The dispatcher records results every 50 rows or 0.5 s: wait for the last ones.
            while time.monotonic() < deadline:
                async with services.engine.connect() as conn:
                    open_rows = (await conn.execute(text(
                        "SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending', 'unknown')"))).scalar()
                if not open_rows:
                    break
                await asyncio.sleep(0.1)
            window_s, cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
            generator.stdin.close()
            load = json.loads((await generator.stdout.read()).decode().strip().splitlines()[-1])
            await generator.wait()
            await runner.cleanup()  # the dispatcher stops: anything it would still send shows at the fake below
            runner = None
            async with http.get(f"{fake_base}/_messages") as response:
                sent = await response.json()
            async with http.get(f"{fake_base}/_count") as response:
                create_requests = (await response.json())["requests"]
    finally:
        if generator is not None and generator.returncode is None:
            generator.kill()
            await generator.wait()
        if runner is not None:
            await runner.cleanup()
        fake.terminate()
        await fake.wait()

    database = await read_database(url)
    figures = judge(assistants, customers, round_s, round_committed, tick_s, tick_wall, run, load, sent,
                    create_requests, database)
    figures.update(window_s=window_s, cpu_s=cpu_s)
    return figures


async def warm_up(services, fake_base: str) -> None:
    """What a server that has been up a while has done already: sent an SMS (the Twilio client's modules
    imported, its connection open) and rendered a text (the template workers started)."""
    import aiohttp

    from core import store
    from core.templates import RenderJob

    now = services.clock()
    async with services.sessions.begin() as session:
        await store.enqueue(session, [{
            "org_id": None, "idempotency_key": "mixed-warm-up", "channel": "sms", "address": WARM_UP,
            "staff_id": None, "kind": "reply", "body": "Hej", "segments": 1, "status": "pending",
            "not_before": now, "created_at": now, "attempts": 0}])
    services.kick()
    await services.templates.render_many([RenderJob("Hej {{ mottagare }}!", {"mottagare": "Anna"})])
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            async with http.get(f"{fake_base}/_count") as response:
                if (await response.json())["messages"]:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError("the warm-up SMS did not reach the fake Twilio")


async def read_database(url: str) -> dict:
    conn = await connect(url)
    try:
        one = conn.fetchval
        return {
            "reminder_rows": await one("SELECT count(*) FROM outbox WHERE kind = 'reminder'"),
            "reminder_sent": await one("SELECT count(*) FROM outbox WHERE kind = 'reminder' AND status = 'sent'"),
            "reminder_addresses": await one("SELECT count(DISTINCT address) FROM outbox WHERE kind = 'reminder'"),
            "customer_rows": await one("SELECT count(*) FROM outbox WHERE kind = 'customer-reminder'"),
            "customer_sent": await one(
                "SELECT count(*) FROM outbox WHERE kind = 'customer-reminder' AND status = 'sent'"),
            "customer_addresses": await one(
                "SELECT count(DISTINCT address) FROM outbox WHERE kind = 'customer-reminder'"),
            "other_rows": await one("SELECT count(*) FROM outbox WHERE kind NOT IN ('reminder', 'customer-reminder') "
                                    "AND idempotency_key <> 'mixed-warm-up'"),
            "reminders_marked": await one("SELECT count(*) FROM customer_reminders WHERE last_sent_due IS NOT NULL"),
            "history": await one("SELECT count(*) FROM reminder_history"),
            "acknowledged": await one("SELECT count(*) FROM reminder_history WHERE acknowledged_at IS NOT NULL"),
            "inbound_ok": await one("SELECT count(*) FROM inbound WHERE provider_id LIKE 'SMok%'"),
        }
    finally:
        await conn.close()


def judge(assistants: int, customers: int, round_s: float, round_committed: float, tick_s: float,
          tick_wall: float, run, load: dict, sent: list[dict], create_requests: int, db: dict) -> dict:
    """The figures, and every way a message was lost or doubled (``problems``)."""
    round_numbers = {assistant_mobile(i) for i in range(assistants)}
    customer_numbers = {customer_mobile(i) for i in range(customers)}
    sent = [m for m in sent if m["to"] != WARM_UP]
    create_requests -= 1
    at_fake = Counter(m["to"] for m in sent)
    problems = []

    def exactly_once(numbers: set[str], what: str) -> None:
        lost = sum(1 for n in numbers if at_fake[n] == 0)
        doubled = sum(1 for n in numbers if at_fake[n] > 1)
        if lost or doubled:
            problems.append(f"{what} at the fake: {lost} lost, {doubled} doubled")

    exactly_once(round_numbers, "round SMS")
    exactly_once(customer_numbers, "customer-reminder SMS")
    strays = sum(n for to, n in at_fake.items() if to not in round_numbers and to not in customer_numbers)
    if strays:
        problems.append(f"{strays} SMS at the fake to numbers neither in the round nor customers")
    for label, rows, done, addresses, want in (
            ("round", db["reminder_rows"], db["reminder_sent"], db["reminder_addresses"], assistants),
            ("customer-reminder", db["customer_rows"], db["customer_sent"], db["customer_addresses"], customers)):
        if not rows == done == addresses == want:
            problems.append(f"{label} outbox: {rows} rows ({addresses} addresses), {done} sent; expected {want}")
    if run.reminders != customers or run.messages != customers or db["reminders_marked"] != customers:
        problems.append(f"tick: {run.reminders} reminders and {run.messages} messages queued, "
                        f"{db['reminders_marked']} marked sent; expected {customers}")
    if db["other_rows"]:
        problems.append(f"{db['other_rows']} outbox rows neither round nor customer reminders")
    if db["history"] != assistants:
        problems.append(f"{db['history']} reminder history rows for {assistants} reminded")
    if load["errors"] or load["unexpected"]:
        problems.append(f"OK webhooks: {load['errors']} errors, {load['unexpected']} unexpected replies")
    if db["inbound_ok"] != load["requests"] or db["acknowledged"] != load["senders"]:
        problems.append(f"OK webhooks: {db['inbound_ok']} stored for {load['requests']} sent, "
                        f"{db['acknowledged']} reminders acknowledged for {load['senders']} senders")
    round_last = max((m["at"] for m in sent if m["to"] in round_numbers), default=round_committed)
    all_last = max((m["at"] for m in sent), default=round_committed)
    customer_last = max((m["at"] for m in sent if m["to"] in customer_numbers), default=tick_wall)
    round_dispatch_s = max(round_last - round_committed, 1e-9)
    return {
        "round_webhook_s": round_s, "round_dispatch_s": round_dispatch_s,
        "round_at_fake": sum(1 for m in sent if m["to"] in round_numbers),
        "round_per_s": sum(1 for m in sent if m["to"] in round_numbers) / round_dispatch_s,
        "all_dispatch_s": all_last - round_committed, "all_per_s": len(sent) / max(all_last - round_committed, 1e-9),
        "tick_s": tick_s, "tick_reminders": run.reminders, "tick_messages": run.messages,
        "customer_delivered_s": customer_last - tick_wall, "at_fake": len(sent), "create_requests": create_requests,
        "load": load, "db": db, "problems": problems,
    }


async def connect(url: str):
    import asyncpg

    base, _, query = url.partition("?")
    schema = dict(p.split("=", 1) for p in query.split("&") if p).get("search_path")
    return await asyncpg.connect(base.replace("postgresql+asyncpg://", "postgresql://"), timeout=5,
                                 server_settings={"search_path": schema} if schema else None)


def report(r: dict, assistants: int, customers: int, concurrency: int) -> None:
    load, db = r["load"], r["db"]

    def verdict(ok: bool) -> str:
        return "**PASS**" if ok else "**FAIL**"

    print(f"- round: {r['round_at_fake']} of {assistants} SMS at the fake Twilio "
          f"{r['round_dispatch_s']:.2f} s after the round committed; with the customer reminders, "
          f"{r['at_fake']} SMS in {r['all_dispatch_s']:.2f} s ({r['all_per_s']:.0f} msg/s), "
          f"{r['create_requests']} create requests")
    print(f"- OK webhooks: {load['requests']} in {load['seconds']:.1f} s at concurrency {concurrency} "
          f"({load['requests'] / max(load['seconds'], 1e-9):.0f} req/s), from {load['senders']} assistants; "
          f"max {load['max']:.0f} ms")
    print(f"- tick: {r['tick_reminders']} reminders due → {r['tick_messages']} SMS queued; all delivered at the "
          f"fake {r['customer_delivered_s']:.2f} s after the tick began")
    print(f"- the app's process used {r['cpu_s']:.1f} s of CPU in the {r['window_s']:.1f} s from the round to the "
          f"last SMS recorded ({r['cpu_s'] / r['window_s'] * 100:.0f}% of one core; the rest of the machine ran the "
          f"generator, the fake, PostgreSQL and whatever else was running)\n")
    print("| | measured | target | |")
    print("|---|---|---|---|")
    print(f"| webhook `OK` p50 / p95 / p99 | {load['p50']:.0f} / {load['p95']:.0f} / **{load['p99']:.0f} ms** | "
          f"p99 < {TARGETS['p99_ms']:.0f} ms | {verdict(load['p99'] < TARGETS['p99_ms'])} |")
    print(f"| round dispatch ({assistants} SMS) | **{r['round_per_s']:.0f} msg/s** ({r['round_dispatch_s']:.2f} s) | "
          f"≥ {TARGETS['dispatch_per_s']:.0f} msg/s | {verdict(r['round_per_s'] >= TARGETS['dispatch_per_s'])} |")
    print(f"| customer-reminder tick ({customers} due) | **{r['tick_s']:.2f} s** | < {TARGETS['tick_s']:.0f} s | "
          f"{verdict(r['tick_s'] < TARGETS['tick_s'])} |")
    print()
    if r["problems"]:
        print("**LOST OR DOUBLED:**")
        for problem in r["problems"]:
            print(f"- {problem}")
    else:
        print(f"Nothing lost or doubled: each of the {assistants} assistants and {customers} customer contacts got "
              f"exactly one SMS at the fake; outbox {db['reminder_sent']} + {db['customer_sent']} rows sent, "
              f"{db['history']} reminded, {db['reminders_marked']} customer reminders marked sent; "
              f"{db['inbound_ok']} OK texts stored for {load['requests']} sent, {db['acknowledged']} reminders "
              f"acknowledged for {load['senders']} senders, every reply a TwiML `Tack!`.")


async def fresh_schema(base: str) -> str | None:
    """A new schema of our own on ``base``; None when PostgreSQL cannot be reached."""
    import asyncpg

    try:
        conn = await connect(base)
    except (OSError, asyncio.TimeoutError, asyncpg.PostgresError) as exc:
        print(f"mixed load skipped: PostgreSQL at {base.split('@')[-1]} is unreachable ({type(exc).__name__}); "
              f"set PAMINN_BENCH_DATABASE_URL to run it")
        return None
    schema = f"mixed_{uuid.uuid4().hex[:12]}"
    await conn.execute(f'CREATE SCHEMA "{schema}"')
    await conn.close()
    return f"{base}{'&' if '?' in base else '?'}search_path={schema}"


async def drop_schema(url: str) -> None:
    conn = await connect(url.partition("?")[0])
    await conn.execute(f'DROP SCHEMA "{url.split("search_path=")[1].split("&")[0]}" CASCADE')
    await conn.close()


async def bench(args) -> int:
    url = await fresh_schema(os.environ.get("PAMINN_BENCH_DATABASE_URL", PG_DEFAULT))
    if url is None:
        return 0
    print(f"# mixed load — one process on PostgreSQL: a round of {args.assistants} SMS, signed `OK` webhooks at "
          f"concurrency {args.concurrency}, a customer-reminder tick of {args.customers} due; {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}\n")
    try:
        r = await measure(url, args.assistants, args.customers, args.concurrency)
    finally:
        await drop_schema(url)
    report(r, args.assistants, args.customers, args.concurrency)
    return 1 if r["problems"] else 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--assistants", type=int, default=20000)
    parser.add_argument("--customers", type=int, default=10000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--generate")
    args = parser.parse_args()
    if args.generate:
        print(json.dumps(run_on_loop(generate(args.generate, args.concurrency, args.assistants))))
        return
    # The dispatch job is kicked while it runs: the scheduler's "skipped: maximum number of running
    # instances" warnings are expected here, not news.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    tune_gc()  # as `paminn serve` does (there after the app is built; the thresholds are what matter here)
    sys.exit(run_on_loop(bench(args)))  # the loop `paminn serve` runs on


if __name__ == "__main__":
    main()
