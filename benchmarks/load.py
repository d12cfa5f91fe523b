"""Load: signed inbound `OK` SMS at concurrency 50 against one `paminn serve` on PostgreSQL,
beside a bare aiohttp "hello" app on the same machine as the ceiling.

Usage: python -m benchmarks.load [--seconds 60] [--concurrency 50]
The generator runs in its own process; the server's memory is read from /proc at 10 s and at the end.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from urllib.parse import urlencode

PG_DEFAULT = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
AUTH_TOKEN = "load-token"
ASSISTANTS = 1000


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def wait_up(url: str) -> None:
    for _ in range(200):
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not come up")


async def generate(url: str, seconds: float, concurrency: int, signed: bool) -> dict:
    """Run the load; return throughput and latencies (ms)."""
    import aiohttp
    from twilio.request_validator import RequestValidator

    validator = RequestValidator(AUTH_TOKEN)
    latencies: list[float] = []
    errors = 0
    unexpected = 0  # answered 200, but not with a TwiML "Tack! …" reply
    counter = 0
    deadline = time.monotonic() + seconds

    async def worker(w: int, session: aiohttp.ClientSession) -> None:
        nonlocal errors, counter, unexpected
        while time.monotonic() < deadline:
            counter += 1
            params = {"MessageSid": f"SMload{w:04d}{counter:024d}", "From": f"+4670700{counter % ASSISTANTS:04d}",
                      "To": "+46766860000", "Body": "OK"}
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            if signed:
                headers["X-Twilio-Signature"] = validator.compute_signature(url, params)
            started = time.perf_counter()
            try:
                async with session.post(url, data=urlencode(params), headers=headers) as response:
                    body = await response.read()
                    if response.status != 200:
                        errors += 1
                    elif signed and b"<Message>Tack!" not in body:
                        unexpected += 1
            except aiohttp.ClientError:
                errors += 1
            latencies.append((time.perf_counter() - started) * 1000)

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.monotonic()
        await asyncio.gather(*(worker(w, session) for w in range(concurrency)))
        elapsed = time.monotonic() - started
    latencies.sort()
    q = statistics.quantiles(latencies, n=100)
    return {"requests": len(latencies), "errors": errors + unexpected, "per_s": len(latencies) / elapsed,
            "p50": q[49], "p99": q[98]}


def hello_app(port: int) -> None:
    from aiohttp import web

    async def hello(request):
        await request.read()
        return web.Response(text="hello")

    app = web.Application()
    app.router.add_post("/webhooks/twilio/sms", hello)
    app.router.add_get("/healthz", lambda r: web.Response(text="ok"))
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


async def prepare(url: str) -> None:
    """An organisation with 1,000 assistants, each just reminded, so their OK has something to acknowledge."""
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo

    from bot.app import build_services, close_services
    from bot.config import Settings
    from bot.imports import run_import
    from core.months import Month

    local = datetime.now(timezone.utc).astimezone(ZoneInfo("Europe/Stockholm"))
    last = Month(local.year, local.month).shift(-1)
    start = f"{last.key}-10T08:00:00+02:00"
    doc = {"organisation": {"id": "load", "name": "Load AB", "quiet_hours": "off"},
           "staff": [{"id": f"a{i}", "name": f"Assistent {i:04d}", "mobile": f"+4670700{i:04d}"}
                     for i in range(ASSISTANTS)],
           "care_recipients": [{"id": "r1", "name": "Rolf"}],
           "shifts": [{"id": f"s{i}", "staff": f"a{i}", "care_recipient": "r1", "start": start,
                       "end": start.replace("T08", "T16")} for i in range(ASSISTANTS)],
           "reminder_history": [{"staff": f"a{i}", "month": last.key, "sent_at": local.isoformat()}
                                for i in range(ASSISTANTS)]}
    services = await build_services(Settings.from_env({"PAMINN_DATABASE_URL": url}))
    try:
        await run_import(services, doc)
    finally:
        await close_services(services)


async def work_done(base: str, schema: str) -> tuple[int, int]:
    """What the server did, read from the database: texts stored, reminders acknowledged."""
    import asyncpg

    conn = await asyncpg.connect(base.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        stored = await conn.fetchval(f"SELECT count(*) FROM {schema}.inbound")
        acknowledged = await conn.fetchval(
            f"SELECT count(*) FROM {schema}.reminder_history WHERE acknowledged_at IS NOT NULL")
    finally:
        await conn.close()
    return stored, acknowledged


def run_load(url: str, seconds: float, concurrency: int, signed: bool, server_pid: int) -> dict:
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks.load", "--generate", url, "--seconds", str(seconds),
                             "--concurrency", str(concurrency)] + (["--signed"] if signed else []),
                            stdout=subprocess.PIPE, text=True)
    time.sleep(min(10, seconds / 2))
    at_10 = rss_mb(server_pid)
    out, _ = proc.communicate()
    result = json.loads(out.strip().splitlines()[-1])
    result["rss_10s"], result["rss_end"] = at_10, rss_mb(server_pid)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--generate")
    parser.add_argument("--signed", action="store_true")
    parser.add_argument("--hello", type=int)
    args = parser.parse_args()
    if args.hello:
        hello_app(args.hello)
        return
    if args.generate:
        print(json.dumps(asyncio.run(generate(args.generate, args.seconds, args.concurrency, args.signed))))
        return
    import asyncpg

    base = os.environ.get("PAMINN_BENCH_DATABASE_URL", PG_DEFAULT)
    schema = f"load_{int(time.time())}"

    async def schema_op(sql: str) -> None:
        conn = await asyncpg.connect(base.replace("postgresql+asyncpg://", "postgresql://"))
        await conn.execute(sql)
        await conn.close()

    asyncio.run(schema_op(f"CREATE SCHEMA {schema}"))
    db_url = f"{base}?search_path={schema}"
    asyncio.run(prepare(db_url))
    port, hello_port = free_port(), free_port()
    public = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PAMINN_DATABASE_URL": db_url, "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
           "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "TWILIO_FROM_NUMBER": "+46766860000", "PAMINN_PUBLIC_URL": public,
           "TWILIO_API_BASE": "http://127.0.0.1:9", "PAMINN_DISPATCH_INTERVAL": "3600"}
    server = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    hello = subprocess.Popen([sys.executable, "-m", "benchmarks.load", "--hello", str(hello_port)])
    try:
        wait_up(f"{public}/healthz")
        wait_up(f"http://127.0.0.1:{hello_port}/healthz")
        ceiling = run_load(f"http://127.0.0.1:{hello_port}/webhooks/twilio/sms", args.seconds, args.concurrency,
                           False, hello.pid)
        paminn = run_load(f"{public}/webhooks/twilio/sms", args.seconds, args.concurrency, True, server.pid)
        stored, acknowledged = asyncio.run(work_done(base, schema))
    finally:
        server.terminate()
        hello.terminate()
        asyncio.run(schema_op(f"DROP SCHEMA {schema} CASCADE"))
    if stored != paminn["requests"] or acknowledged != ASSISTANTS:
        raise SystemExit(f"work missing: {stored} texts stored for {paminn['requests']} requests, "
                         f"{acknowledged} of {ASSISTANTS} reminders acknowledged")
    share = paminn["per_s"] / ceiling["per_s"] * 100
    growth = (paminn["rss_end"] - paminn["rss_10s"]) / paminn["rss_10s"] * 100
    print(f"# make bench-load — signed inbound OK SMS, concurrency {args.concurrency}, {args.seconds:.0f} s, "
          f"one process on PostgreSQL\n")
    print("| | requests | errors | req/s | p50 ms | p99 ms | RSS at 10 s | RSS at end |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in (("bare aiohttp hello (ceiling)", ceiling), ("Påminn /webhooks/twilio/sms", paminn)):
        print(f"| {name} | {r['requests']} | {r['errors']} | {r['per_s']:.0f} | {r['p50']:.1f} | {r['p99']:.1f} | "
              f"{r['rss_10s']:.0f} MB | {r['rss_end']:.0f} MB |")
    print(f"\nEvery request was stored and answered: {stored} inbound rows for {paminn['requests']} requests, "
          f"{acknowledged} of {ASSISTANTS} reminders acknowledged, replies checked by the generator.")
    print(f"Påminn reaches {share:.0f}% of the ceiling (target ≥ 30%); p99 {paminn['p99']:.0f} ms (target < 100 ms); "
          f"memory grew {growth:+.1f}% from 10 s to the end (target within 10%).")


if __name__ == "__main__":
    main()
