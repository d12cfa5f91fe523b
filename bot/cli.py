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

logger = logging.getLogger("bot.cli")  # not __main__ when run as `python -m bot.cli`


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
    from core.safe_json import JSONRefused, parse_json

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
    from bot.demo import TEAM_CHAT, demo_document
    from bot.imports import run_import
    from core import store

    counts = await run_import(services, demo_document(services.clock(), assistants, services.settings.timezone))
    async with services.sessions.begin() as session:
        # Only here is an organisation marked simulated (the import never does): the simulator acts for it alone.
        await store.mark_simulated(session, "demo", TEAM_CHAT)
    return counts


async def database_is_empty(services) -> bool:
    from core import store

    async with services.sessions() as session:
        return await store.count_orgs(session) == 0


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
    person = _command(sub, "person", "one person's data: export or erase (docs/privacy.md)")
    person_sub = person.add_subparsers(dest="person_command", required=True, metavar="ACTION")
    for name, func, help_text in (("export", cmd_person_export, "print everything held on one person as JSON"),
                                  ("erase", cmd_person_erase, "remove everything held on one person")):
        p = _command(person_sub, name, help_text)
        p.add_argument("--org", required=True, help="the organisation's id")
        who = p.add_mutually_exclusive_group(required=True)
        who.add_argument("--id", help="the host system's id of a staff member or care recipient")
        who.add_argument("--contact", help="a customer contact's mobile or e-mail")
        p.add_argument("--kind", choices=("staff", "care_recipient"), help="when an id is both")
        if name == "erase":
            p.add_argument("--yes", action="store_true", help="do not ask first")
        p.set_defaults(func=func)
    retention = _command(sub, "retention", "message bodies past PAMINN_RETENTION_DAYS")
    retention_sub = retention.add_subparsers(dest="retention_command", required=True, metavar="ACTION")
    p = _command(retention_sub, "run", "blank message bodies older than the retention period, once")
    p.add_argument("--org", help="only this organisation's messages (default: every organisation's)")
    p.add_argument("--days", type=int, help="instead of PAMINN_RETENTION_DAYS (default 90)")
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
    if not args.worker:  # a worker of --workers: its parent printed the banner
        print(start_banner(settings, host, args.port, telegram_polling=args.telegram_polling), flush=True)
    logger.info("dispatch every %ss (%d at a time), send rate %s/s, default time zone %s, quiet hours %s, "
                "bodies kept %d days", settings.dispatch_interval, settings.dispatch_batch, settings.send_rate,
                settings.timezone, settings.quiet_hours, settings.retention_days)
    if args.workers > 1:
        async def migrate_once(services):  # build_services migrated; workers find the schema at head
            return None
        asyncio.run(_with_services(settings, migrate_once))
        return supervise_workers(args, host)
    # A worker only checks the schema its parent migrated: on SQLite a second upgrade would wait for
    # the single write lock behind the other worker's traffic, and could time out and die.
    app = create_app(settings, telegram_polling=args.telegram_polling, migrate=not args.worker)
    web.run_app(app, host=host, port=args.port, print=None, access_log=None,
                reuse_port=args.reuse_port or args.worker)
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
    keys = _command(sub, "keys", "API keys per organisation (shown once, stored as a hash; docs/api-keys.md)")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    p = _command(keys_sub, "create", "create a key; prints it once, on stdout",
                 epilog="example:\n  paminn keys create --org demo --name lonesystem --scope import,events")
    p.add_argument("--org", required=True, help="the organisation's id (as in its import file)")
    p.add_argument("--name", required=True, help="what the key is for, e.g. lonesystem (unique per organisation)")
    p.add_argument("--scope", required=True, help="comma-separated: import, events, buffer, read")
    p.set_defaults(func=cmd_keys_create)
    p = _command(keys_sub, "list", "list keys: names, scopes, when created, last used and revoked (never the keys)")
    p.add_argument("--org", help="only this organisation's keys (default: every organisation's)")
    p.set_defaults(func=cmd_keys_list)
    p = _command(keys_sub, "revoke", "revoke a key at once; it opens nothing from then on")
    p.add_argument("--org", required=True, help="the organisation's id")
    p.add_argument("--name", required=True, help="the key's name, as `paminn keys list` shows it")
    p.set_defaults(func=cmd_keys_revoke)


# ---------------------------------------------------------------- the parser, logging levels


EPILOG = """\
examples:
  paminn demo-data                      load a demo organisation (simulated phones, a team chat)
  PAMINN_SIMULATOR=on paminn serve      serve it; the phone simulator is at http://127.0.0.1:8080/
  paminn import org.json                import (upsert) an organisation, its staff and shifts
  paminn keys create --org ORG --name lonesystem --scope import,events
  paminn serve --verbose                also show the service's INFO log lines

The import file's format: docs/import-format.md. Settings (environment variables or a .env file):
docs/configuration.md. Commands: `paminn COMMAND --help`; the chat commands: docs/commands.md.
"""
LOG_LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING, "ERROR": logging.ERROR}
QUIET = logging.WARNING  # by default: warnings and errors only; a start prints its own few lines


def _command(sub, name: str, help_text: str, epilog: str | None = None) -> argparse.ArgumentParser:
    """A subcommand whose one-line help is also its description, with --verbose like every command."""
    p = sub.add_parser(name, help=help_text, description=help_text, epilog=epilog,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    return p


def _add_verbose(parser: argparse.ArgumentParser) -> None:
    """Give every command that runs (a parser without subcommands) the same --verbose."""
    subcommands = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subcommands:
        parser.add_argument("-v", "--verbose", action="store_true",
                            help="also log the service's INFO lines (PAMINN_LOG_LEVEL=DEBUG for even more); "
                                 "libraries stay quiet and personal data is redacted either way")
    for action in subcommands:
        for child in action.choices.values():
            _add_verbose(child)


def log_level(verbose: bool, environ) -> int:
    """The root logger's level: quiet (warnings) unless --verbose or PAMINN_LOG_LEVEL asks for more."""
    raw = (environ.get("PAMINN_LOG_LEVEL") or "").strip().upper()
    if raw and raw not in LOG_LEVELS:
        raise ConfigError(f"PAMINN_LOG_LEVEL={raw[:20]!r} is not a level; set it to one of "
                          f"{', '.join(LOG_LEVELS)} (or leave it out: warnings only, --verbose for INFO)")
    level = LOG_LEVELS.get(raw, QUIET)
    return min(level, logging.INFO) if verbose else level


def build_parser() -> argparse.ArgumentParser:
    """Every command, argument and its help: `paminn --help`, `paminn COMMAND --help`."""
    parser = argparse.ArgumentParser(
        prog="paminn", description="Påminn: reminders to personal assistants and notifications to customers, "
                                   "by SMS, Telegram and e-mail.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_privacy_commands(sub)  # person export/erase, retention run
    db = _command(sub, "db", "database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    _command(db_sub, "upgrade", "run the Alembic migrations to head (serve does this at start too)") \
        .set_defaults(func=cmd_db_upgrade)
    p = _command(sub, "import", "idempotent upsert of an import file; prints created/updated/unchanged per kind",
                 epilog="The file's format, field by field: docs/import-format.md.\n"
                        "example:\n  paminn import org.json")
    p.add_argument("file", help="a JSON import document (docs/import-format.md); refused whole on any error")
    p.set_defaults(func=cmd_import)
    p = _command(sub, "demo-data", "load the demo organisation 'demo' (simulated phones, a team chat)")
    p.add_argument("--assistants", type=_at_least_one, default=40, metavar="N",
                   help="how many assistants the demo has (1 or more; default 40)")
    p.set_defaults(func=cmd_demo_data)
    p = _command(sub, "serve", "web server, webhooks, API, Telegram bot and scheduler",
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
    _command(sub, "send-due",
             "queue due customer reminders and automatic rounds, then dispatch due messages once and exit") \
        .set_defaults(func=cmd_send_due)
    _keys_parser(sub)
    _add_verbose(parser)
    return parser


def _at_least_one(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is too few: the demo needs at least 1 assistant")
    return value


def main(argv: list[str] | None = None) -> int:
    import os

    from bot.logs import configure_logging, settings_secrets

    # Before anything else logs: libraries held quiet, personal data and secrets redacted; the service's own
    # INFO lines only when asked for.
    log_handler = configure_logging(QUIET)
    args = build_parser().parse_args(argv)
    settings = _settings()  # also reads .env, which may set PAMINN_LOG_LEVEL
    try:
        logging.getLogger().setLevel(log_level(args.verbose, os.environ))
    except ConfigError as exc:
        print(f"paminn: configuration error: {exc}", file=sys.stderr)
        return 2
    log_handler.formatter.add_secrets(settings_secrets(settings))
    return args.func(args, settings)


if __name__ == "__main__":
    raise SystemExit(main())
