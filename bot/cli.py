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

    from handlers.auto_rounds import run_auto_rounds

    async def run(services):
        customer = await queue_customer_reminders(services)
        print(f"customer reminders: {customer.reminders} due, {customer.messages} messages queued")
        auto = await run_auto_rounds(services)  # claims its slots like the scheduler's tick: safe beside it
        print(f"automatic rounds: {auto.rounds} run, {auto.escalated} assistants escalated")
        return await services.dispatcher.run_once()
    stats = asyncio.run(_with_services(settings, run))
    print(f"sent {stats.sent}, retried {stats.retried}, failed {stats.failed}, unknown {stats.unknown}, "
          f"reconciled {stats.reconciled}, resent after check {stats.resent_after_check}")
    return 0


# ---------------------------------------------------------------- person and retention (privacy)


async def _person(session, args):
    from handlers.privacy import find_person

    return await find_person(session, args.org, host_id=args.id, kind=args.kind, contact=args.contact)


def cmd_person_export(args, settings: Settings) -> int:
    """Print everything held on one person as JSON (to stdout only: it is never logged)."""
    from handlers.privacy import PersonError, export_person

    async def run(services):
        async with services.sessions() as session:
            return await export_person(session, await _person(session, args))
    try:
        data = asyncio.run(_with_services(settings, run))
    except PersonError as exc:
        print(f"paminn person export: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(data, ensure_ascii=False, indent=2))
    return 0


def cmd_person_erase(args, settings: Settings) -> int:
    """Remove everything held on one person (anonymous counts stay); asks first unless --yes."""
    from handlers.privacy import PersonError, erase_person

    async def run(services):
        async with services.sessions() as session:  # find (or refuse) before asking; ask outside a transaction
            person = await _person(session, args)
        if not args.yes and not _confirm(f"Erase everything held on {person.kind} {args.id or args.contact} "
                                         f"of {args.org}? This cannot be undone. [y/N] "):
            return None
        async with services.sessions.begin() as session:
            return await erase_person(session, await _person(session, args), services.clock())
    try:
        erased = asyncio.run(_with_services(settings, run))
    except PersonError as exc:
        print(f"paminn person erase: {exc}", file=sys.stderr)
        return 2
    if erased is None:
        print("paminn person erase: nothing was changed", file=sys.stderr)
        return 1
    removed = ", ".join(f"{k} {v}" for k, v in erased.rows_removed.items())
    print(f"erased: {erased.outbox_blanked} outbound and {erased.inbound_blanked} inbound messages blanked, "
          f"{erased.mentions_scrubbed} mentions removed elsewhere; rows removed: {removed}")
    return 0


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        print("paminn person erase: not a terminal to ask on; pass --yes to erase", file=sys.stderr)
        return False
    return input(question).strip().lower() in ("y", "yes", "j", "ja")


def cmd_retention_run(args, settings: Settings) -> int:
    """Blank message bodies older than PAMINN_RETENTION_DAYS (or --days) once and exit."""
    from handlers.privacy import PersonError, apply_retention

    days = args.days if args.days is not None else settings.retention_days
    if days < 1:
        print("paminn retention run: --days must be 1 or more", file=sys.stderr)
        return 2

    async def run(services):
        async with services.sessions.begin() as session:
            return await apply_retention(session, services.clock(), days, args.org)
    try:
        counts = asyncio.run(_with_services(settings, run))
    except PersonError as exc:
        print(f"paminn retention run: {exc}", file=sys.stderr)
        return 2
    print(f"bodies older than {days} days blanked: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


def add_privacy_commands(sub) -> None:
    person = sub.add_parser("person", help="one person's data: export or erase")
    person_sub = person.add_subparsers(dest="person_command", required=True)
    for name, func, help_text in (("export", cmd_person_export, "print everything held on one person as JSON"),
                                  ("erase", cmd_person_erase, "remove everything held on one person")):
        p = person_sub.add_parser(name, help=help_text)
        p.add_argument("--org", required=True, help="the organisation's id")
        who = p.add_mutually_exclusive_group(required=True)
        who.add_argument("--id", help="the host system's id of a staff member or care recipient")
        who.add_argument("--contact", help="a customer contact's mobile or e-mail")
        p.add_argument("--kind", choices=("staff", "care_recipient"), help="when an id is both")
        if name == "erase":
            p.add_argument("--yes", action="store_true", help="do not ask first")
        p.set_defaults(func=func)
    retention = sub.add_parser("retention", help="message bodies past PAMINN_RETENTION_DAYS")
    retention_sub = retention.add_subparsers(dest="retention_command", required=True)
    p = retention_sub.add_parser("run", help="blank message bodies older than the retention period, once")
    p.add_argument("--org", help="only this organisation's messages")
    p.add_argument("--days", type=int, help="instead of PAMINN_RETENTION_DAYS")
    p.set_defaults(func=cmd_retention_run)


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


# ---------------------------------------------------------------- API keys (docs/api-keys.md)


def cmd_keys_create(args, settings: Settings) -> int:
    from core import store
    from core.api_access import AccessError, check_key_name, hash_key, new_key, parse_scopes

    try:
        name, scopes = check_key_name(args.name), parse_scopes(args.scope)
    except AccessError as exc:
        print(f"paminn keys create: {exc}; nothing was created", file=sys.stderr)
        return 2
    key = new_key()

    async def run(services):
        async with services.sessions.begin() as session:
            if await store.get_org(session, args.org) is None:
                return f"no organisation {args.org!r}; import it first (paminn import FILE.json)"
            existing = await store.api_key_named(session, args.org, name)
            if existing is not None:
                state = "revoked" if existing.revoked_at else "in use"
                return f"{args.org!r} already has a key named {name!r} ({state}); choose another name"
            await store.add_api_key(session, args.org, name, hash_key(key), scopes, services.clock())
        return None
    problem = asyncio.run(_with_services(settings, run))
    if problem:
        print(f"paminn keys create: {problem}; nothing was created", file=sys.stderr)
        return 2
    print(key)
    print(f"key {name!r} for {args.org!r} with scopes {', '.join(scopes)}: shown only now, store it safely; "
          f"send it as 'Authorization: Bearer <key>'", file=sys.stderr)
    return 0


def _when(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "-"


def cmd_keys_list(args, settings: Settings) -> int:
    from core import store

    async def run(services):
        async with services.sessions() as session:
            if args.org is not None and await store.get_org(session, args.org) is None:
                return None
            return await store.list_api_keys(session, args.org)
    keys = asyncio.run(_with_services(settings, run))
    if keys is None:
        print(f"paminn keys list: no organisation {args.org!r}", file=sys.stderr)
        return 2
    rows = [("name", "org", "scopes", "created", "last used", "revoked")]
    rows += [(k.name, k.org_id, k.scopes, _when(k.created_at), _when(k.last_used_at), _when(k.revoked_at))
             for k in keys]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    if not keys:
        print("(no keys)")
    return 0


def cmd_keys_revoke(args, settings: Settings) -> int:
    from core import store

    async def run(services):
        async with services.sessions.begin() as session:
            if await store.get_org(session, args.org) is None:
                return f"no organisation {args.org!r}", None
            before = await store.api_key_named(session, args.org, args.name)
            was_revoked = before is not None and before.revoked_at is not None
            key = await store.revoke_api_key(session, args.org, args.name, services.clock())
            if key is None:
                return f"{args.org!r} has no key named {args.name!r} (paminn keys list --org {args.org})", None
            return None, ("already revoked at " if was_revoked else "revoked at ") + _when(key.revoked_at)
    problem, done = asyncio.run(_with_services(settings, run))
    if problem:
        print(f"paminn keys revoke: {problem}", file=sys.stderr)
        return 2
    print(f"key {args.name!r} of {args.org!r} {done}; it opens nothing from now on")
    return 0


def _keys_parser(sub) -> None:
    keys = sub.add_parser("keys", help="API keys per organisation (shown once, stored as a hash)")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    p = keys_sub.add_parser("create", help="create a key; prints it once")
    p.add_argument("--org", required=True)
    p.add_argument("--name", required=True, help="what the key is for, e.g. lonesystem (unique per organisation)")
    p.add_argument("--scope", required=True, help="comma-separated: import, events, buffer, read")
    p.set_defaults(func=cmd_keys_create)
    p = keys_sub.add_parser("list", help="keys (never the keys themselves)")
    p.add_argument("--org")
    p.set_defaults(func=cmd_keys_list)
    p = keys_sub.add_parser("revoke", help="revoke a key at once")
    p.add_argument("--org", required=True)
    p.add_argument("--name", required=True)
    p.set_defaults(func=cmd_keys_revoke)


def main(argv: list[str] | None = None) -> int:
    from bot.logs import configure_logging, settings_secrets

    # Before anything else logs: libraries held quiet, personal data and secrets redacted.
    log_handler = configure_logging(logging.INFO)
    parser = argparse.ArgumentParser(prog="paminn", description="Påminn reminder service")
    sub = parser.add_subparsers(dest="command", required=True)
    add_privacy_commands(sub)  # person export/erase, retention run
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
    _keys_parser(sub)
    args = parser.parse_args(argv)
    settings = _settings()
    log_handler.formatter.add_secrets(settings_secrets(settings))
    return args.func(args, settings)


if __name__ == "__main__":
    raise SystemExit(main())
