"""``paminn person export|erase`` and ``paminn retention run`` (docs/privacy.md)."""
from __future__ import annotations

import asyncio
import json
import sys

from bot.cli.common import command, with_services
from bot.config import Settings


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
        data = asyncio.run(with_services(settings, run))
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
        erased = asyncio.run(with_services(settings, run))
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
        counts = asyncio.run(with_services(settings, run))
    except PersonError as exc:
        print(f"paminn retention run: {exc}", file=sys.stderr)
        return 2
    print(f"bodies older than {days} days blanked: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


def add_privacy_commands(sub) -> None:
    person = command(sub, "person", "one person's data: export or erase (docs/privacy.md)")
    person_sub = person.add_subparsers(dest="person_command", required=True, metavar="ACTION")
    for name, func, help_text in (("export", cmd_person_export, "print everything held on one person as JSON"),
                                  ("erase", cmd_person_erase, "remove everything held on one person")):
        p = command(person_sub, name, help_text)
        p.add_argument("--org", required=True, help="the organisation's id")
        who = p.add_mutually_exclusive_group(required=True)
        who.add_argument("--id", help="the host system's id of a staff member or care recipient")
        who.add_argument("--contact", help="a customer contact's mobile or e-mail")
        p.add_argument("--kind", choices=("staff", "care_recipient"), help="when an id is both")
        if name == "erase":
            p.add_argument("--yes", action="store_true", help="do not ask first")
        p.set_defaults(func=func)
    retention = command(sub, "retention", "message bodies past PAMINN_RETENTION_DAYS")
    retention_sub = retention.add_subparsers(dest="retention_command", required=True, metavar="ACTION")
    p = command(retention_sub, "run", "blank message bodies older than the retention period, once")
    p.add_argument("--org", help="only this organisation's messages (default: every organisation's)")
    p.add_argument("--days", type=int, help="instead of PAMINN_RETENTION_DAYS (default 90)")
    p.set_defaults(func=cmd_retention_run)
