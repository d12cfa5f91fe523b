"""``paminn serve``: the web server, webhooks, API, Telegram bot and scheduler, in one or N processes."""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import sys
from pathlib import Path

from bot.cli.common import command, logger, with_services
from bot.cli.data import database_is_empty, load_demo
from bot.config import Settings
from bot.runtime import new_event_loop, tune_gc


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
        asyncio.run(with_services(settings, seed))
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
    if not args.worker:  # a worker of --workers: its parent printed the banner
        print(start_banner(settings, host, args.port, telegram_polling=args.telegram_polling), flush=True)
    logger.info("dispatch every %ss (%d at a time), send rate %s/s, default time zone %s, quiet hours %s, "
                "bodies kept %d days", settings.dispatch_interval, settings.dispatch_batch, settings.send_rate,
                settings.timezone, settings.quiet_hours, settings.retention_days)
    if args.workers > 1:
        async def migrate_once(services):  # build_services migrated; workers find the schema at head
            return None
        asyncio.run(with_services(settings, migrate_once))
        return supervise_workers(args, host)
    # A worker only checks the schema its parent migrated: on SQLite a second upgrade would wait for
    # the single write lock behind the other worker's traffic, and could time out and die.
    app = create_app(settings, telegram_polling=args.telegram_polling, migrate=not args.worker)
    tune_gc()
    web.run_app(app, host=host, port=args.port, print=None, access_log=None,
                reuse_port=args.reuse_port or args.worker, loop=new_event_loop())
    return 0


def start_banner(settings: Settings, host: str, port: int, *, telegram_polling: bool = False) -> str:
    """The few lines `paminn serve` starts with: where it listens, what it sends through, where its data is.

    Never a secret: the database URL is shown without its password, channels only by name.
    """
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/"
    channels = []
    if settings.twilio_enabled:
        channels.append("SMS (Twilio)")
    if settings.telegram_bot_token:
        channels.append("Telegram (" + ("long polling" if telegram_polling else "webhook") + ")")
    if settings.smtp_url:
        channels.append("e-mail (SMTP)")
    if settings.simulator:
        channels.append("the phone simulator")
    lines = [f"Påminn is running on {url}"]
    if settings.simulator:
        lines.append(f"  phone simulator: {url}")
    lines.append("  channels: " + (", ".join(channels) if channels else
                                   "none (set TWILIO_*, TELEGRAM_* or SMTP_URL, or PAMINN_SIMULATOR=on)"))
    lines.append(f"  database: {describe_database(settings.database_url)}")
    lines.append("  settings: docs/configuration.md; more log lines: --verbose or PAMINN_LOG_LEVEL=INFO; "
                 "stop with Ctrl+C")
    return "\n".join(lines)


def describe_database(database_url: str) -> str:
    """The database for a person to read: a SQLite file's full path, or a server URL without its password."""
    from sqlalchemy.engine import make_url

    try:
        url = make_url(database_url)
    except Exception:  # noqa: BLE001 (the engine reports a bad URL itself; never echo it here)
        return "(unreadable URL)"
    if url.get_backend_name() == "sqlite":
        return f"SQLite file {Path(url.database).resolve()}" if url.database not in (None, "", ":memory:") \
            else "SQLite in memory"
    # A password in the query (``?password=…``) is as secret as the one before the host.
    query = {k: v for k, v in url.query.items() if not any(w in k.lower() for w in ("pass", "secret", "key", "token"))}
    return url.set(query=query).render_as_string(hide_password=True)


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

    command = [sys.executable, "-m", "bot.cli", "serve", "--host", host, "--port", str(args.port), "--worker"]
    if args.expose_simulator is not None:
        command += ["--expose-simulator", args.expose_simulator]
    if args.verbose:
        command.append("--verbose")
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


def add_serve_command(sub) -> None:
    p = command(sub, "serve", "web server, webhooks, API, Telegram bot and scheduler",
                epilog="Settings come from the environment or .env: docs/configuration.md.\n"
                       "examples:\n  PAMINN_SIMULATOR=on paminn serve --demo-if-empty\n"
                       "  paminn serve --host 0.0.0.0 --port 8080 --workers 2")
    p.add_argument("--host", help="address to listen on (default 127.0.0.1 with the simulator on, else 0.0.0.0)")
    p.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080)")
    p.add_argument("--demo-if-empty", action="store_true", help="load the demo organisation into an empty database")
    p.add_argument("--expose-simulator", nargs="?", const="", metavar="HOST",
                   help="serve the simulator beyond loopback, to requests for HOST[:PORT] (comma-separated; "
                        "without HOST: the --host address)")
    p.add_argument("--workers", type=int, default=1, help="processes on one port (SO_REUSEPORT; default 1)")
    p.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)  # share the port with other processes
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)  # set by --workers for its children
    p.add_argument("--telegram-polling", action="store_true",
                   help="fetch Telegram updates by long polling instead of a webhook (no public URL needed)")
    p.set_defaults(func=cmd_serve)
