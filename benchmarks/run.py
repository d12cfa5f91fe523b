"""`make bench`: selection at scale, the naive way beside it, and dispatch throughput.

Usage: python -m benchmarks.run [--backends sqlite,postgresql] [--assistants 20000] [--shifts 1000000]
Figures go to stdout as Markdown; docs/benchmarks.md keeps the latest run with its command.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

from bot.runtime import run as run_on_loop

PG_DEFAULT = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
NOW = datetime(2026, 6, 2, 8, 0, tzinfo=timezone.utc)  # 10:00 in Stockholm: May is last month
COORD = "+46700000001"


def rows(assistants: int, recipients: int, shifts: int, seed: int = 1):
    """Plain tuples for the organisation: a third of the assistants have something left to do in May."""
    rng = random.Random(seed)
    staff = [(1, "bench", "c1", "Karin Koordinator", COORD, "coordinator")]
    for i in range(assistants):
        mobile = None if i % 50 == 0 else f"+4670{1000000 + i:07d}"
        staff.append((i + 2, "bench", f"a{i}", f"Assistent {i:05d}", mobile, "assistant"))
    care = [(j + 1, "bench", f"r{j}", f"Brukare {j:04d}", j % 100 != 0) for j in range(recipients)]
    month_start = datetime(2026, 4, 30, 22, 0)  # 1 May 00:00 Stockholm, naive UTC as stored
    per = shifts // assistants
    shift_rows = []
    sid = 0
    for i in range(assistants):
        lagging = i % 3 == 0
        home = rng.randrange(recipients) + 1
        for k in range(per):
            start = month_start + timedelta(minutes=rng.randrange(0, 30 * 24 * 60))
            done = not (lagging and k == per - 1)
            sid += 1
            shift_rows.append((sid, "bench", f"s{sid}", i + 2, home, start, start + timedelta(hours=8), done, done))
    return staff, care, shift_rows


async def populate(url: str, assistants: int, recipients: int, shifts: int) -> None:
    from bot.app import build_services, close_services
    from bot.config import Settings

    services = await build_services(Settings.from_env({"PAMINN_DATABASE_URL": url}))
    await close_services(services)
    staff, care, shift_rows = rows(assistants, recipients, shifts)
    if url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(url.split("///", 1)[1])
        conn.execute("INSERT INTO organisations (id, name, app_name, app_link, locale, round_seq, quiet_hours) "
                     "VALUES ('bench', 'Bench AB', 'Coordinare', 'https://app.coordinare.se', 'sv', 0, 'off')")
        conn.executemany("INSERT INTO staff (id, org_id, external_id, name, mobile, roles, mobile_invalid, "
                         "reminders_enabled, preferred_channel, simulated) VALUES (?,?,?,?,?,?,0,1,'sms',0)", staff)
        conn.executemany("INSERT INTO care_recipients (id, org_id, external_id, name, reminders_enabled) "
                         "VALUES (?,?,?,?,?)", care)
        conn.executemany("INSERT INTO shifts (id, org_id, external_id, staff_id, care_recipient_id, start_at, "
                         "end_at, reported, signed) VALUES (?,?,?,?,?,?,?,?,?)",
                         [(*r[:5], r[5].isoformat(sep=" "), r[6].isoformat(sep=" "), r[7], r[8]) for r in shift_rows])
        conn.commit()
        conn.execute("ANALYZE")
        conn.close()
        return
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://").split("?")[0],
                                 server_settings=_pg_settings(url))
    await conn.execute("INSERT INTO organisations (id, name, app_name, app_link, locale, round_seq, quiet_hours) "
                       "VALUES ('bench', 'Bench AB', 'Coordinare', 'https://app.coordinare.se', 'sv', 0, 'off')")
    await conn.copy_records_to_table("staff", records=[(*s, False, True, "sms", False) for s in staff], columns=[
        "id", "org_id", "external_id", "name", "mobile", "roles", "mobile_invalid", "reminders_enabled",
        "preferred_channel", "simulated"])
    await conn.copy_records_to_table("care_recipients", records=care,
                                     columns=["id", "org_id", "external_id", "name", "reminders_enabled"])
    await conn.copy_records_to_table("shifts", records=shift_rows, columns=[
        "id", "org_id", "external_id", "staff_id", "care_recipient_id", "start_at", "end_at", "reported", "signed"])
    for table in ("staff", "care_recipients", "shifts", "outbox", "reminder_history", "reminder_rounds", "inbound"):
        seq = await conn.fetchval(f"SELECT pg_get_serial_sequence('{table}', 'id')")
        if seq:
            await conn.execute(f"SELECT setval('{seq}', (SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)")
    await conn.execute("ANALYZE")
    await conn.close()


def _pg_settings(url: str) -> dict:
    if "search_path=" in url:
        return {"search_path": url.split("search_path=")[1].split("&")[0]}
    return {}


async def measure_round(url: str) -> dict:
    """Time PÅMINN ALLA from the inbound text to every outbox row committed; run in a fresh process."""
    from bot.app import build_services, close_services
    from bot.config import Settings
    from core import store
    from core.eligibility import split
    from core.months import Month
    from handlers.router import handle_inbound

    services = await build_services(Settings.from_env({"PAMINN_DATABASE_URL": url, "PAMINN_QUIET_HOURS": "off"}),
                                    clock=lambda: NOW, migrate=False)
    try:
        started = time.perf_counter()
        async with services.sessions.begin() as session:
            replies = (await handle_inbound(services.context(session, NOW), "sms", "SMbench1", COORD,
                                            "PÅMINN ALLA maj")).texts
        round_s = time.perf_counter() - started
        outbox = await _count(services, "SELECT count(*) FROM outbox")
        async with services.sessions() as session:
            started = time.perf_counter()
            candidates = await store.select_candidates(session, "bench", Month(2026, 5), "Europe/Stockholm")
            done = await store.count_with_shifts(session, "bench", Month(2026, 5), "Europe/Stockholm")
            split(candidates, NOW + timedelta(hours=3), done=done - len(candidates))
            set_based_s = time.perf_counter() - started
    finally:
        await close_services(services)
    return {"round_s": round_s, "outbox_rows": outbox, "reply": replies[0], "select_s": set_based_s,
            "candidates": len(candidates), "peak_rss_mb": peak_rss_mb()}


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM; ru_maxrss would carry the parent's peak over exec)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def measure_naive(url: str) -> dict:
    """The same selection, one query per assistant (what an ORM loop would do)."""
    from sqlalchemy import func, or_, select

    from bot.app import build_services, close_services
    from bot.config import Settings
    from core.models import CareRecipient, ReminderHistory, Shift, Staff
    from core.months import Month

    services = await build_services(Settings.from_env({"PAMINN_DATABASE_URL": url}), migrate=False)
    lo, hi = Month(2026, 5).bounds_utc("Europe/Stockholm")
    try:
        async with services.sessions() as session:
            started = time.perf_counter()
            staff = list(await session.scalars(select(Staff).where(Staff.org_id == "bench")))
            due = 0
            for person in staff:
                unfinished = or_(Shift.reported.is_(False), Shift.signed.is_(False))
                row = (await session.execute(
                    select(func.count(), func.max(ReminderHistory.sent_at))
                    .select_from(Shift).join(CareRecipient, CareRecipient.id == Shift.care_recipient_id)
                    .outerjoin(ReminderHistory, (ReminderHistory.staff_id == Shift.staff_id)
                               & (ReminderHistory.month == "2026-05"))
                    .where(Shift.staff_id == person.id, Shift.start_at >= lo, Shift.start_at < hi, unfinished,
                           CareRecipient.reminders_enabled.is_(True)))).one()
                due += bool(row[0] and person.mobile)
            naive_s = time.perf_counter() - started
    finally:
        await close_services(services)
    return {"naive_s": naive_s, "naive_due": due}


async def _count(services, sql: str) -> int:
    from sqlalchemy import text

    async with services.engine.connect() as conn:
        return (await conn.execute(text(sql))).scalar()


def in_fresh_process(what: str, url: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "benchmarks.run", "--measure", what, "--url", url],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


async def measure_dispatch(url: str, messages: int) -> dict:
    """Dispatch ``messages`` SMS to the fake Twilio (its own process), pacing off."""
    from sqlalchemy import insert

    from bot.app import build_services, close_services
    from bot.config import Settings
    from core.channels import SMS, outbox_row
    from core.models import OutboxMessage

    fake = subprocess.Popen([sys.executable, "-m", "tests.fakes.twilio", "--port", "0"], stdout=subprocess.PIPE,
                            text=True)
    port = int(fake.stdout.readline().split()[1])
    from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN

    settings = Settings.from_env({
        "PAMINN_DATABASE_URL": url, "PAMINN_SEND_RATE": "0", "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "TWILIO_FROM_NUMBER": "+46766860000",
        "TWILIO_API_BASE": f"http://127.0.0.1:{port}", "PAMINN_PUBLIC_URL": "https://paminn.example.se"})
    services = await build_services(settings)
    try:
        now = datetime.now(timezone.utc)
        async with services.sessions.begin() as session:
            await session.execute(insert(OutboxMessage), [outbox_row(
                key=f"bench-dispatch:{now.timestamp()}:{i}", channel=SMS, address=f"+4670{2000000 + i:07d}",
                body="Hej! bench", kind="reminder", now=now, segments=1) for i in range(messages)])
        started = time.perf_counter()
        stats = await services.dispatcher.run_once()
        elapsed = time.perf_counter() - started
    finally:
        await close_services(services)
        fake.terminate()
    return {"dispatch_s": elapsed, "sent": stats.sent, "per_s": stats.sent / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--assistants", type=int, default=20000)
    parser.add_argument("--recipients", type=int, default=2000)
    parser.add_argument("--shifts", type=int, default=1000000)
    parser.add_argument("--dispatch", type=int, default=5000)
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--measure")
    parser.add_argument("--url")
    args = parser.parse_args()
    if args.measure:
        fn = {"round": measure_round, "naive": measure_naive}[args.measure]
        print(json.dumps(run_on_loop(fn(args.url))))  # the loop `paminn serve` runs on
        return
    print(f"# make bench — {args.assistants} assistants, {args.recipients} care recipients, "
          f"{args.shifts} shifts in the month; {os.cpu_count()} cores\n")
    for backend in args.backends.split(","):
        with empty_database(backend) as url:
            t0 = time.perf_counter()
            asyncio.run(populate(url, args.assistants, args.recipients, args.shifts))
            print(f"## {backend}\n- data loaded in {time.perf_counter() - t0:.1f} s (not measured below)")
            r = in_fresh_process("round", url)
            print(f"- PÅMINN ALLA → {r['outbox_rows']} outbox rows committed: **{r['round_s']:.2f} s**, "
                  f"peak RSS of that process **{r['peak_rss_mb']:.0f} MB**")
            print(f"  - reply: {r['reply'].splitlines()[0]}")
            print(f"- set-based selection alone ({r['candidates']} candidates): {r['select_s']:.2f} s")
            if not args.skip_naive:
                n = in_fresh_process("naive", url)
                print(f"- naive selection (one query per assistant): {n['naive_s']:.2f} s — "
                      f"**{n['naive_s'] / r['select_s']:.0f}×** the set-based query")
            d = asyncio.run(measure_dispatch(url, args.dispatch))
            print(f"- dispatch of {d['sent']} SMS to the loopback fake Twilio, pacing off: "
                  f"**{d['per_s']:.0f} messages/s** ({d['dispatch_s']:.2f} s)\n")


@contextmanager
def empty_database(backend: str) -> Iterator[str]:
    """A fresh database URL for ``backend`` (a SQLite file, or a new PostgreSQL schema), removed afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        if backend == "sqlite":
            yield f"sqlite+aiosqlite:///{tmp}/bench.db"
            return
        url = asyncio.run(_fresh_schema(os.environ.get("PAMINN_BENCH_DATABASE_URL", PG_DEFAULT)))
        try:
            yield url
        finally:
            asyncio.run(_drop_schema(url))


async def _fresh_schema(base: str) -> str:
    import asyncpg

    schema = f"bench_{int(time.time())}"
    conn = await asyncpg.connect(base.replace("postgresql+asyncpg://", "postgresql://"))
    await conn.execute(f"CREATE SCHEMA {schema}")
    await conn.close()
    return f"{base}?search_path={schema}"


async def _drop_schema(url: str) -> None:
    import asyncpg

    schema = url.split("search_path=")[1]
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://").split("?")[0])
    await conn.execute(f"DROP SCHEMA {schema} CASCADE")
    await conn.close()


if __name__ == "__main__":
    main()
