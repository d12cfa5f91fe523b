"""The `paminn` command as a person runs it: its help, its quiet start, the demo at any size."""
from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import pytest

from bot.cli import build_parser
from bot.demo import demo_document
from tests.conftest import free_port

SECRET_KEY = "operator-secret-key-4711"


def paminn_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {**os.environ, "PAMINN_DATABASE_URL": database_url, "PAMINN_DISPATCH_INTERVAL": "0.5", **extra}
    for key in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TELEGRAM_BOT_TOKEN", "SMTP_URL", "PAMINN_LOG_LEVEL",
                "PAMINN_SIMULATOR"):
        if key not in extra:
            env.pop(key, None)
    return env


async def run_paminn(*args: str, env: dict[str, str], cwd: Path) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot.cli", *args, env=env, cwd=cwd,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=120)
    return proc.returncode, out.decode()


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


async def serve_for_a_while(tmp_path: Path, *extra_args: str, seconds: float = 3.0, **env_extra: str) -> str:
    """Start `paminn serve` on a free port against a SQLite file, let it tick for ``seconds``, stop it; its output."""
    port = free_port()
    env = paminn_env(f"sqlite+aiosqlite:///{tmp_path}/serve.db", PAMINN_API_KEY=SECRET_KEY, **env_extra)
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "serve", "--port", str(port), *extra_args, env=env, cwd=tmp_path,
            stdout=out, stderr=asyncio.subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while not await asyncio.to_thread(_healthy, f"http://127.0.0.1:{port}/healthz"):
                assert proc.returncode is None and time.monotonic() < deadline, \
                    "serve did not start:\n" + log.read_text()
                await asyncio.sleep(0.3)
            await asyncio.sleep(seconds)  # several dispatch ticks (every 0.5 s here)
        finally:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), timeout=30)
    return log.read_text().replace(str(port), "PORT")


LIBRARY_INFO = re.compile(r" (INFO|DEBUG) (alembic|apscheduler)")


async def test_serve_starts_with_a_few_clear_lines_and_no_library_chatter(tmp_path):
    output = await serve_for_a_while(tmp_path, "--host", "127.0.0.1")
    lines = output.splitlines()
    assert lines[0] == "Påminn is running on http://127.0.0.1:PORT/"
    assert f"  database: SQLite file {tmp_path.resolve()}/serve.db" in lines
    assert any(line.startswith("  channels: none") for line in lines)
    assert not LIBRARY_INFO.search(output), output
    assert " INFO " not in output, output  # quiet by default: no INFO line of anyone's
    assert SECRET_KEY not in output
    assert len(lines) <= 8, output


async def test_serve_verbose_shows_more_but_never_library_chatter(tmp_path):
    quiet = await serve_for_a_while(tmp_path)
    verbose = await serve_for_a_while(tmp_path, "--verbose")
    assert verbose.startswith("Påminn is running on http://0.0.0.0:PORT/")
    assert " INFO bot.cli: " in verbose and " INFO bot.dispatcher: " in verbose, verbose
    assert len(verbose.splitlines()) > len(quiet.splitlines())
    assert not LIBRARY_INFO.search(verbose), verbose
    assert SECRET_KEY not in verbose


async def test_log_level_from_the_environment_and_a_bad_one_refused(tmp_path):
    verbose = await serve_for_a_while(tmp_path, seconds=0.5, PAMINN_LOG_LEVEL="info")
    assert " INFO bot.cli: " in verbose
    code, output = await run_paminn("db", "upgrade", cwd=tmp_path, env=paminn_env(
        f"sqlite+aiosqlite:///{tmp_path}/x.db", PAMINN_LOG_LEVEL="chatty"))
    assert code == 2
    assert "PAMINN_LOG_LEVEL='CHATTY' is not a level; set it to one of DEBUG, INFO, WARNING, ERROR" in output
    assert not (tmp_path / "x.db").exists()


async def test_serve_banner_names_the_simulator_and_channels_without_secrets(tmp_path):
    output = await serve_for_a_while(tmp_path, seconds=0.5, PAMINN_SIMULATOR="on",
                                     SMTP_URL="smtp://mailer:hunter2-mail-secret@127.0.0.1:2525")
    lines = output.splitlines()
    assert lines[:3] == ["Påminn is running on http://127.0.0.1:PORT/", "  phone simulator: http://127.0.0.1:PORT/",
                         "  channels: e-mail (SMTP), the phone simulator"]
    assert "hunter2" not in output and SECRET_KEY not in output


def test_database_shown_without_its_password():
    from bot.cli import describe_database

    shown = describe_database("postgresql+asyncpg://paminn:s3cret-pw@db.example:5432/paminn"
                              "?search_path=prod&password=other-secret")
    assert shown == "postgresql+asyncpg://paminn:***@db.example:5432/paminn?search_path=prod"


# ---------------------------------------------------------------- --help


def _parsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """Every parser of the command tree, with the words that reach it."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _parsers(child, path + (name,))


def test_every_command_and_argument_is_described():
    undescribed = []
    for path, parser in _parsers(build_parser()):
        if path and not parser.description:
            undescribed.append(" ".join(path))
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                undescribed += [f"{' '.join(path)} {choice.dest}" for choice in action._choices_actions
                                if not (choice.help or "").strip()]
            elif not (action.help or "").strip():
                undescribed.append(f"{' '.join(path)} {'/'.join(action.option_strings) or action.dest}")
    assert undescribed == []


def test_every_runnable_command_takes_verbose():
    for path, parser in _parsers(build_parser()):
        if parser.get_default("func") is not None:
            assert "--verbose" in parser._option_string_actions, path


@pytest.mark.parametrize("words", [(), ("import",), ("keys", "create"), ("serve",), ("demo-data",),
                                   ("person", "erase"), ("retention", "run")])
async def test_help_describes_each_argument(tmp_path, words):
    code, output = await run_paminn(*words, "--help", env=paminn_env("sqlite+aiosqlite:///unused.db"),
                                    cwd=tmp_path)
    assert code == 0
    parser = dict(_parsers(build_parser()))[words]
    for action in parser._actions:
        if action.help == argparse.SUPPRESS or isinstance(action, argparse._SubParsersAction):
            continue
        first_words = " ".join(action.help.split()[:3])
        assert first_words in " ".join(output.split()), (words, action.dest)
    if not words:
        for pointer in ("docs/import-format.md", "docs/configuration.md", "examples:", "paminn import org.json"):
            assert pointer in output
    if words == ("import",):
        assert "docs/import-format.md" in output
    assert not (tmp_path / "unused.db").exists()  # help touches no database


# ---------------------------------------------------------------- demo-data


@pytest.mark.parametrize("assistants", [1, 2])
async def test_demo_data_of_any_size(db_url, tmp_path, assistants):
    code, output = await run_paminn("demo-data", "--assistants", str(assistants), env=paminn_env(db_url),
                                    cwd=tmp_path)
    assert code == 0, output
    assert f"staff: {3 + assistants} created" in output
    assert "reminder_history: 1 created" in output
    assert "demo organisation 'demo' loaded" in output


async def test_demo_data_refuses_no_assistants(tmp_path):
    code, output = await run_paminn("demo-data", "--assistants", "0", env=paminn_env(
        f"sqlite+aiosqlite:///{tmp_path}/d.db"), cwd=tmp_path)
    assert code == 2
    assert "argument --assistants: 0 is too few: the demo needs at least 1 assistant" in output


@pytest.mark.parametrize("assistants", [1, 2, 40, 43, 1200])
def test_demo_document_names_everyone_it_refers_to(assistants):
    doc = demo_document(datetime(2026, 6, 2, 8, tzinfo=timezone.utc), assistants)
    ids = {s["id"] for s in doc["staff"]}
    names = [s["name"] for s in doc["staff"] if s["roles"] == ["assistant"]]
    assert len(names) == len(set(names)) == assistants
    assert {s["staff"] for s in doc["shifts"]} | {h["staff"] for h in doc["reminder_history"]} <= ids
