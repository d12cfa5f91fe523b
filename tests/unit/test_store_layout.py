"""No SQL outside the store: only ``core/store/`` builds queries (plus the few places that must speak to the
database themselves), so a newcomer looking for a query finds it there.

Read with ``ast``, so a query construct named in a comment or a string does not count, and one imported
inside a function does.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Query constructs: building one outside the store means SQL outside the store.
QUERY_CONSTRUCTS = {"select", "update", "delete", "insert", "text"}
# Where they may appear: the store itself; the engine (its SQLite pragmas and the health check's SELECT 1);
# the models (column defaults); migrations, tests and benchmarks.
ALLOWED = ("core/store/", "bot/db.py", "core/models/", "migrations/", "tests/", "benchmarks/")


def query_constructs_used(source: str) -> list[str]:
    """The SQLAlchemy query constructs ``source`` imports (``from sqlalchemy… import select``) or reaches
    through an imported module (``import sqlalchemy as sa; sa.select``), as ``line: name``."""
    tree = ast.parse(source)
    found: list[tuple[int, str]] = []
    modules = set()  # local names bound to sqlalchemy or one of its submodules
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "sqlalchemy":
            for alias in node.names:
                if alias.name in QUERY_CONSTRUCTS:
                    found.append((node.lineno, f"{node.module}.{alias.name}"))
                elif alias.name in {"sql", "dialects", "future"} or node.module.startswith("sqlalchemy.dialects"):
                    modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "sqlalchemy":
                    modules.add(alias.asname or alias.name.split(".")[0])
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in QUERY_CONSTRUCTS:
            base = node.value
            while isinstance(base, ast.Attribute):
                base = base.value
            if isinstance(base, ast.Name) and base.id in modules:
                found.append((node.lineno, ast.unparse(node)))
    return [f"{line}: {name}" for line, name in sorted(found)]


def _sources() -> list[Path]:
    """The project's Python files (not the virtual environments and caches in hidden directories)."""
    def skipped(path: Path) -> bool:
        return any(part.startswith(".") or part.endswith(".egg-info") for part in path.relative_to(ROOT).parts)
    top = [p for p in ROOT.iterdir() if not skipped(p)]
    return sorted(f for p in top for f in ([p] if p.is_file() else p.rglob("*.py")) if f.suffix == ".py"
                  and not skipped(f))


def test_no_query_constructs_outside_the_store():
    offenders = {}
    for path in _sources():
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith(ALLOWED):
            continue
        used = query_constructs_used(path.read_text(encoding="utf-8"))
        if used:
            offenders[relative] = used
    assert not offenders, f"SQL outside core/store/ (move it into a store module and call that): {offenders}"


def test_the_scan_reads_the_service_and_the_store():
    scanned = {p.relative_to(ROOT).as_posix() for p in _sources()}
    assert {"bot/dispatcher.py", "bot/readiness.py", "bot/cli/keys.py", "core/personal_data.py",
            "handlers/router.py"} <= scanned
    assert query_constructs_used((ROOT / "core/store/outbox.py").read_text(encoding="utf-8"))


def test_the_check_sees_every_way_of_reaching_a_construct():
    source = '''
# select(Staff) in a comment is no query
"update(Staff) in a string is none either"
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy import func


def f():
    from sqlalchemy import text
    return sa.select(func.count()), sa.sql.expression.delete
'''
    used = query_constructs_used(source)
    assert [u.split(": ")[1] for u in used] == [
        "sqlalchemy.dialects.postgresql.insert", "sqlalchemy.text", "sa.select", "sa.sql.expression.delete"]
    assert query_constructs_used("from sqlalchemy import func, or_\n"
                                 "from sqlalchemy.ext.asyncio import AsyncSession\n") == []
