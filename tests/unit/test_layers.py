"""The layers and which way they depend: core ← handlers ← webhooks (the channels, one module each) ← bot,
whose composition root (bot/app.py) wires the channels in.

Read from the source with ``ast`` (no imports run), function-level imports included: an import
made lazy to dodge a cycle is still a dependency.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EDGE_LIBRARIES = {"aiohttp", "telegram", "twilio"}

# What webhooks/ may take from bot/: the Services type, named for the type checker only
# (webhooks/keys.py); every part of bot/ a route needs is reached through the Services the app
# holds. Nothing else of bot/ is the webhooks' business.
WEBHOOKS_INTERFACE = {
    "bot.services": {"Services"},
}


def imports(package: str):
    """(file, module, names, how) for every absolute import in ``package``; how: "top" (at module
    level), "typing" (in a module-level ``if TYPE_CHECKING:``, never run) or "inside" (a function's)."""
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        typing_only = {id(inner) for node in tree.body if isinstance(node, ast.If)
                       and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING" for inner in node.body}
        top_level = {id(node) for node in tree.body}

        def how(node, top_level=top_level, typing_only=typing_only) -> str:
            return "top" if id(node) in top_level else "typing" if id(node) in typing_only else "inside"
        name = path.relative_to(ROOT).as_posix()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                yield name, node.module, {a.name for a in node.names}, how(node)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    yield name, alias.name, set(), how(node)


def top(module: str) -> str:
    return module.split(".")[0]


@pytest.mark.parametrize("package, forbidden", [
    ("core", {"handlers", "bot", "webhooks"} | EDGE_LIBRARIES),
    ("handlers", {"bot", "webhooks"} | EDGE_LIBRARIES),
])
def test_inner_layers_import_nothing_outward(package, forbidden):
    wrong = [f"{path}: {module}" for path, module, _, _ in imports(package) if top(module) in forbidden]
    assert wrong == []


# Where bot/ reaches the channels: the composition root builds them and wires their routes; the
# configuration check asks a channel's own parser whether its setting is well-formed (SMTP_URL). The
# rest of bot/ (the dispatcher, the inbound batcher) knows a channel only by the port, core.channels.Channel.
REACHES_THE_CHANNELS = {"bot/app.py", "bot/config.py"}


def test_bot_imports_webhooks_only_where_the_channels_are_wired():
    wrong = [f"{path}: {module}" for path, module, _, _ in imports("bot")
             if top(module) == "webhooks" and path not in REACHES_THE_CHANNELS]
    assert wrong == []


def test_only_the_entry_points_import_the_composition_root():
    wrong = [f"{path}: {module}" for path, module, _, _ in imports("bot")
             if module == "bot.app" and path != "bot/app.py" and not path.startswith("bot/cli/")]
    wrong += [f"{path}: {module}" for package in ("core", "handlers", "webhooks")
              for path, module, _, _ in imports(package) if module == "bot.app"]
    assert wrong == []


def test_webhooks_take_from_bot_only_its_interface_and_only_for_the_type_checker():
    """At run time webhooks/ imports nothing of bot/: the composition root hands the routes what they use."""
    wrong = []
    for path, module, names, imported in imports("webhooks"):
        if top(module) != "bot":
            continue
        allowed = WEBHOOKS_INTERFACE.get(module, set())
        if not names or not names <= allowed:
            wrong.append(f"{path}: from {module} import {', '.join(sorted(names - allowed)) or '*'}")
        elif imported != "typing":
            wrong.append(f"{path}: {module} imported at run time (name it under `if TYPE_CHECKING:`, or reach it "
                         "through Services)")
    assert wrong == []


def test_the_interface_lists_only_what_is_used():
    used = {(module, name) for path, module, names, _ in imports("webhooks") if top(module) == "bot"
            for name in names}
    listed = {(module, name) for module, names in WEBHOOKS_INTERFACE.items() for name in names}
    assert listed - used == set(), "an interface name no route uses any more: drop it from the list"
