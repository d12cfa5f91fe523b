"""The layers and which way they depend: core ← handlers ← bot and webhooks, wired by bot/app.py.

Read from the source with ``ast`` (no imports run), function-level imports included: an import
made lazy to dodge a cycle is still a dependency.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EDGE_LIBRARIES = {"aiohttp", "telegram", "twilio"}

# What webhooks/ may take from bot/: the typed Services (webhooks/keys.py makes it the app's key;
# every other part is reached through it), the error its inbound batcher raises, and a channel
# module's own status and error table. Nothing else of bot/ is the webhooks' business.
WEBHOOKS_INTERFACE = {
    "bot.services": {"Services"},
    "bot.inbound": {"InboundUnavailable"},
    "bot.channels.twilio_sms": {"failure_reason"},
}
# Still imported from a bot internal, inside a function, by a file another change is rewriting:
# to be reached through Services instead. Listed so that nothing is added to it unnoticed.
WEBHOOKS_PENDING = {
    ("webhooks/telegram.py", "bot.telegram_app"): {"MAX_UPDATE_TRIES", "process_raw_update"},
}


def imports(package: str):
    """(file, module, names, at top level) for every absolute import in ``package``."""
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        top_level = {id(node) for node in tree.body}
        name = path.relative_to(ROOT).as_posix()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                yield name, node.module, {a.name for a in node.names}, id(node) in top_level
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    yield name, alias.name, set(), id(node) in top_level


def top(module: str) -> str:
    return module.split(".")[0]


@pytest.mark.parametrize("package, forbidden", [
    ("core", {"handlers", "bot", "webhooks"} | EDGE_LIBRARIES),
    ("handlers", {"bot", "webhooks"} | EDGE_LIBRARIES),
])
def test_inner_layers_import_nothing_outward(package, forbidden):
    wrong = [f"{path}: {module}" for path, module, _, _ in imports(package) if top(module) in forbidden]
    assert wrong == []


def test_bot_imports_webhooks_only_where_the_routes_are_wired():
    wrong = [f"{path}: {module}" for path, module, _, _ in imports("bot")
             if top(module) == "webhooks" and path != "bot/app.py"]
    assert wrong == []


def test_only_the_entry_points_import_the_composition_root():
    wrong = [f"{path}: {module}" for path, module, _, _ in imports("bot")
             if module == "bot.app" and path not in ("bot/app.py", "bot/cli.py")]
    wrong += [f"{path}: {module}" for package in ("core", "handlers", "webhooks")
              for path, module, _, _ in imports(package) if module == "bot.app"]
    assert wrong == []


def test_webhooks_take_from_bot_only_its_interface():
    wrong = []
    for path, module, names, at_top in imports("webhooks"):
        if top(module) != "bot":
            continue
        pending = WEBHOOKS_PENDING.get((path, module), set())
        allowed = WEBHOOKS_INTERFACE.get(module, set()) | pending
        if not names or not names <= allowed:
            wrong.append(f"{path}: from {module} import {', '.join(sorted(names - allowed)) or '*'}")
        elif not at_top and not names <= pending:
            wrong.append(f"{path}: {module} imported inside a function (a cycle dodged is still a cycle)")
    assert wrong == []


def test_the_interface_lists_only_what_is_used():
    used = {(module, name) for path, module, names, _ in imports("webhooks") if top(module) == "bot"
            for name in names}
    listed = {(module, name) for module, names in WEBHOOKS_INTERFACE.items() for name in names}
    listed |= {(module, name) for (_, module), names in WEBHOOKS_PENDING.items() for name in names}
    assert listed - used == set(), "an interface name no route uses any more: drop it from the list"
