"""``paminn keys create|list|revoke``: API keys per organisation (docs/api-keys.md)."""
from __future__ import annotations

import asyncio
import sys

from bot.cli.common import command, with_services
from bot.config import Settings


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
    problem = asyncio.run(with_services(settings, run))
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
    keys = asyncio.run(with_services(settings, run))
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
    problem, done = asyncio.run(with_services(settings, run))
    if problem:
        print(f"paminn keys revoke: {problem}", file=sys.stderr)
        return 2
    print(f"key {args.name!r} of {args.org!r} {done}; it opens nothing from now on")
    return 0


def add_keys_commands(sub) -> None:
    keys = command(sub, "keys", "API keys per organisation (shown once, stored as a hash; docs/api-keys.md)")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    p = command(keys_sub, "create", "create a key; prints it once, on stdout",
                 epilog="example:\n  paminn keys create --org demo --name lonesystem --scope import,events")
    p.add_argument("--org", required=True, help="the organisation's id (as in its import file)")
    p.add_argument("--name", required=True, help="what the key is for, e.g. lonesystem (unique per organisation)")
    p.add_argument("--scope", required=True, help="comma-separated: import, events, buffer, read")
    p.set_defaults(func=cmd_keys_create)
    p = command(keys_sub, "list", "list keys: names, scopes, when created, last used and revoked (never the keys)")
    p.add_argument("--org", help="only this organisation's keys (default: every organisation's)")
    p.set_defaults(func=cmd_keys_list)
    p = command(keys_sub, "revoke", "revoke a key at once; it opens nothing from then on")
    p.add_argument("--org", required=True, help="the organisation's id")
    p.add_argument("--name", required=True, help="the key's name, as `paminn keys list` shows it")
    p.set_defaults(func=cmd_keys_revoke)
