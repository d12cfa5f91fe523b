"""The ``paminn`` console command: one module per command group (``data``, ``serve``, ``privacy``, ``keys``),
the parser and the start here."""
from __future__ import annotations

import argparse
import logging
import sys

from bot.cli.common import load_settings
from bot.cli.data import add_data_commands, load_demo
from bot.cli.keys import add_keys_commands
from bot.cli.privacy import add_privacy_commands
from bot.cli.serve import add_serve_command, describe_database, simulator_hosts, start_banner
from bot.config import ConfigError

__all__ = ["build_parser", "describe_database", "load_demo", "log_level", "main", "simulator_hosts", "start_banner"]

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
    add_data_commands(sub)  # db upgrade, import, demo-data, send-due
    add_serve_command(sub)
    add_keys_commands(sub)
    _add_verbose(parser)
    return parser



def main(argv: list[str] | None = None) -> int:
    import os

    from bot.logs import configure_logging, settings_secrets

    # Before anything else logs: libraries held quiet, personal data and secrets redacted; the service's own
    # INFO lines only when asked for.
    log_handler = configure_logging(QUIET)
    args = build_parser().parse_args(argv)
    settings = load_settings()  # also reads .env, which may set PAMINN_LOG_LEVEL
    try:
        logging.getLogger().setLevel(log_level(args.verbose, os.environ))
    except ConfigError as exc:
        print(f"paminn: configuration error: {exc}", file=sys.stderr)
        return 2
    log_handler.formatter.add_secrets(settings_secrets(settings))
    return args.func(args, settings)
