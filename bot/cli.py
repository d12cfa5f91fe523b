"""The ``paminn`` console command."""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
import sys
from pathlib import Path

from bot.config import ConfigError, Settings


def _settings() -> Settings:
    try:
        from dotenv import load_dotenv

        load_dotenv(".env", override=False)
        return Settings.from_env()
    except ConfigError as exc:
        print(f"paminn: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


async def _with_services(settings: Settings, fn):
    from bot.app import build_services, close_services

    services = await build_services(settings)
    try:
        return await fn(services)
    finally:
        await close_services(services)


def cmd_db_upgrade(args, settings: Settings) -> int:
    async def run(services):
        print(f"database at head ({services.engine.dialect.name})")
    asyncio.run(_with_services(settings, run))
    return 0


def cmd_import(args, settings: Settings) -> int:
    from bot.imports import ImportError_, format_counts, run_import
    from webhooks.intake import JSONRefused, parse_json

    path = Path(args.file)
    try:
        doc = parse_json(path.read_bytes())  # as the API reads it: no lone surrogates, no absurd nesting
    except FileNotFoundError:
        print(f"paminn import: no file {path}", file=sys.stderr)
        return 2
    except JSONRefused as exc:
        print(f"paminn import: {path} was refused: {str(exc).replace('the body', 'the file')}; nothing was written",
              file=sys.stderr)
        return 2

    async def run(services):
        return await run_import(services, doc)
    try:
        counts = asyncio.run(_with_services(settings, run))
    except ImportError_ as exc:
        print(f"paminn import: {path} was refused; nothing was written. Fix these:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print(format_counts(counts))
    return 0


async def load_demo(services, assistants: int = 40) -> dict:
    from sqlalchemy import update

    from bot.demo import TEAM_CHAT, demo_document
    from bot.imports import run_import
    from core.models import Organisation, Staff

    counts = await run_import(services, demo_document(services.clock(), assistants, services.settings.timezone))
    async with services.sessions.begin() as session:
        # Only here is an organisation marked simulated (the import never does): the simulator acts for it alone.
        await session.execute(update(Organisation).where(Organisation.id == "demo")
                              .values(team_chat=TEAM_CHAT, simulated=True))
        await session.execute(update(Staff).where(Staff.org_id == "demo").values(simulated=True))
    return counts


async def database_is_empty(services) -> bool:
    from sqlalchemy import func, select

    from core.models import Organisation

    async with services.sessions() as session:
        return (await session.scalar(select(func.count()).select_from(Organisation))) == 0


def cmd_demo_data(args, settings: Settings) -> int:
    from bot.imports import format_counts

    counts = asyncio.run(_with_services(settings, lambda s: load_demo(s, args.assistants)))
    print(format_counts(counts))
    print("demo organisation 'demo' loaded; coordinator Karin Koordinator texts from 070-111 00 00")
    return 0


def cmd_send_due(args, settings: Settings) -> int:
    from bot.app import queue_customer_reminders

    async def run(services):
        customer = await queue_customer_reminders(services)
        print(f"customer reminders: {customer.reminders} due, {customer.messages} messages queued")
        return await services.dispatcher.run_once()
    stats = asyncio.run(_with_services(settings, run))
    print(f"sent {stats.sent}, retried {stats.retried}, failed {stats.failed}, unknown {stats.unknown}, "
          f"reconciled {stats.reconciled}, resent after check {stats.resent_after_check}")
    return 0


def cmd_serve(args, settings: Settings) -> int:
    from aiohttp import web

    from bot.app import create_app

    if args.workers > 1:
        # Before anything is counted: the workers' counters go to one directory, emptied of an
        # earlier run's (counters this process keeps, if it was given one, land there too).
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_directory()
    elif os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)
    if args.demo_if_empty:
        async def seed(services):
            if await database_is_empty(services):
                await load_demo(services)
                print("the database was empty: loaded the demo organisation")
        asyncio.run(_with_services(settings, seed))
    host = args.host or ("127.0.0.1" if settings.simulator else "0.0.0.0")
    if settings.simulator and host not in ("127.0.0.1", "localhost", "::1") and args.expose_simulator is None:
        print("paminn serve: the simulator lets anyone speak as the demo's phones; it listens on loopback only. "
              "Pass --expose-simulator HOST (the name browsers will use) to serve it on another address.",
              file=sys.stderr)
        return 2
    if args.expose_simulator is not None:
        settings = dataclasses.replace(settings, simulator_hosts=simulator_hosts(args.expose_simulator, host))
        if settings.simulator and not settings.simulator_hosts:
            print(f"paminn serve: the simulator answers only requests for 127.0.0.1/localhost; pass "
                  f"--expose-simulator HOST to name the host browsers use for {host}", file=sys.stderr)
    simulator_note = "  (phone simulator at /)" if settings.simulator else ""
    print(f"Påminn is running on http://{host}:{args.port}/{simulator_note}", flush=True)
    if args.workers > 1:
        async def migrate_once(services):  # build_services migrated; workers find the schema at head
            return None
        asyncio.run(_with_services(settings, migrate_once))
        return supervise_workers(args, host)
    app = create_app(settings, telegram_polling=args.telegram_polling)
    web.run_app(app, host=host, port=args.port, print=None, access_log=None, reuse_port=args.reuse_port)
    return 0


def simulator_hosts(value: str, listen_host: str) -> tuple[str, ...]:
    """The Host headers an exposed simulator answers besides loopback: those named, else the listening address."""
    named = tuple(h.strip() for h in value.split(",") if h.strip())
    if named:
        return named
    if listen_host in ("0.0.0.0", "::", ""):
        return ()  # no one name to allow: browsers get 421 until HOST is given
    return (f"[{listen_host}]" if ":" in listen_host else listen_host,)


def supervise_workers(args, host: str) -> int:
    """Run N `paminn serve` processes on one port (SO_REUSEPORT); restart any that dies.

    Migrations already ran in this parent, so workers start on a schema at head. Any worker
    takes any webhook; dispatchers share the outbox through row claims and leases. Workers keep
    their Prometheus counters in one directory (PROMETHEUS_MULTIPROC_DIR), so a scrape that lands
    on any of them reports the sum of all.
    """
    import signal
    import subprocess
    import time

    command = [sys.executable, "-m", "bot.cli", "serve", "--host", host, "--port", str(args.port), "--reuse-port"]
    if args.expose_simulator is not None:
        command += ["--expose-simulator", args.expose_simulator]
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": os.environ.get("PROMETHEUS_MULTIPROC_DIR") or metrics_directory()}
    workers = [subprocess.Popen(command, env=env) for _ in range(args.workers)]
    stopping = False

    def stop(signum, _frame):
        nonlocal stopping
        stopping = True
        for worker in workers:
            worker.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping:
        for i, worker in enumerate(workers):
            if worker.poll() is not None and not stopping:
                print(f"paminn serve: worker {worker.pid} exited ({worker.returncode}); starting another",
                      file=sys.stderr, flush=True)
                workers[i] = subprocess.Popen(command, env=env)
        time.sleep(0.5)
    for worker in workers:
        worker.wait(timeout=15)
    return 0


def metrics_directory() -> str:
    """Where workers keep their counters: PROMETHEUS_MULTIPROC_DIR if set, else a new temporary
    directory removed at exit. Files of an earlier run are removed first, as prometheus-client
    requires (they would add old counts to the new ones); a restarted worker's files stay, so
    counters never go backwards."""
    import atexit
    import shutil
    import tempfile

    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not given:
        directory = tempfile.mkdtemp(prefix="paminn-metrics-")
        atexit.register(shutil.rmtree, directory, True)
        return directory
    path = Path(given)
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("*.db"):
        if old.name.split("_", 1)[0] in ("counter", "histogram", "gauge", "summary"):
            old.unlink()
    return str(path)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # These log SQL parameters or request bodies at DEBUG: personal numbers and message texts.
    for noisy in ("aiosqlite", "sqlalchemy.engine", "twilio.http_client", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(prog="paminn", description="Påminn reminder service")
    sub = parser.add_subparsers(dest="command", required=True)
    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="run migrations to head").set_defaults(func=cmd_db_upgrade)
    p = sub.add_parser("import", help="idempotent upsert of an import file")
    p.add_argument("file")
    p.set_defaults(func=cmd_import)
    p = sub.add_parser("demo-data", help="load the demo organisation")
    p.add_argument("--assistants", type=int, default=40)
    p.set_defaults(func=cmd_demo_data)
    p = sub.add_parser("serve", help="web server, Telegram bot and scheduler")
    p.add_argument("--host")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--demo-if-empty", action="store_true", help="load the demo organisation into an empty database")
    p.add_argument("--expose-simulator", nargs="?", const="", metavar="HOST",
                   help="serve the simulator beyond loopback, to requests for HOST[:PORT] (comma-separated; "
                        "without HOST: the --host address)")
    p.add_argument("--workers", type=int, default=1, help="processes on one port (SO_REUSEPORT)")
    p.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--telegram-polling", action="store_true",
                   help="fetch Telegram updates by long polling instead of a webhook (no public URL needed)")
    p.set_defaults(func=cmd_serve)
    sub.add_parser("send-due", help="queue due customer reminders, then dispatch due messages once") \
        .set_defaults(func=cmd_send_due)
    args = parser.parse_args(argv)
    return args.func(args, _settings())


if __name__ == "__main__":
    raise SystemExit(main())
