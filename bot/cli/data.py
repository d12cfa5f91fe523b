"""``paminn db upgrade``, ``import``, ``demo-data`` and ``send-due``: data in, and one dispatch out."""
from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from bot.cli.common import command, with_services
from bot.config import Settings


def cmd_db_upgrade(args, settings: Settings) -> int:
    async def run(services):
        print(f"database at head ({services.engine.dialect.name})")
    asyncio.run(with_services(settings, run))
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
        counts = asyncio.run(with_services(settings, run))
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

    counts = asyncio.run(with_services(settings, lambda s: load_demo(s, args.assistants)))
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
    stats = asyncio.run(with_services(settings, run))
    print(f"sent {stats.sent}, retried {stats.retried}, failed {stats.failed}, unknown {stats.unknown}, "
          f"reconciled {stats.reconciled}, resent after check {stats.resent_after_check}")
    return 0


def add_data_commands(sub) -> None:
    db = command(sub, "db", "database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    command(db_sub, "upgrade", "run the Alembic migrations to head (serve does this at start too)") \
        .set_defaults(func=cmd_db_upgrade)
    p = command(sub, "import", "idempotent upsert of an import file; prints created/updated/unchanged per kind",
                epilog="The file's format, field by field: docs/import-format.md.\n"
                       "example:\n  paminn import org.json")
    p.add_argument("file", help="a JSON import document (docs/import-format.md); refused whole on any error")
    p.set_defaults(func=cmd_import)
    p = command(sub, "demo-data", "load the demo organisation 'demo' (simulated phones, a team chat)")
    p.add_argument("--assistants", type=_at_least_one, default=40, metavar="N",
                   help="how many assistants the demo has (1 or more; default 40)")
    p.set_defaults(func=cmd_demo_data)
    command(sub, "send-due",
            "queue due customer reminders and automatic rounds, then dispatch due messages once and exit") \
        .set_defaults(func=cmd_send_due)


def _at_least_one(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is too few: the demo needs at least 1 assistant")
    return value
