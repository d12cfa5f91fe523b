"""What every ``paminn`` command shares: its settings, the services it runs with, its subcommand parser."""
from __future__ import annotations

import argparse
import logging
import sys

from bot.config import ConfigError, Settings

logger = logging.getLogger("bot.cli")  # one name for every command's lines, as `paminn --verbose` shows them


def load_settings() -> Settings:
    try:
        from dotenv import load_dotenv

        load_dotenv(".env", override=False)
        return Settings.from_env()
    except ConfigError as exc:
        print(f"paminn: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


async def with_services(settings: Settings, fn):
    from bot.app import build_services, close_services

    services = await build_services(settings)
    try:
        return await fn(services)
    finally:
        await close_services(services)


def command(sub, name: str, help_text: str, epilog: str | None = None) -> argparse.ArgumentParser:
    """A subcommand whose one-line help is also its description, with --verbose like every command."""
    p = sub.add_parser(name, help=help_text, description=help_text, epilog=epilog,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    return p
