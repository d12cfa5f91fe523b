"""The environment the suite runs in is exactly the locked one, and the lock still matches pyproject.toml."""
from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def _lock() -> dict:
    return tomllib.loads((ROOT / "uv.lock").read_text())


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _locked_versions() -> dict[str, str]:
    return {canonicalize_name(p["name"]): p["version"] for p in _lock()["package"] if "version" in p}


def _requirement_set(requirements: list[str]) -> set[str]:
    return {str(Requirement(r)) for r in requirements}


def test_lock_matches_pyproject():
    """uv.lock records the requirements it was resolved from; they must be today's (else run `make lock`)."""
    project = _project()
    root = next(p for p in _lock()["package"] if p["name"] == project["name"])
    locked = root["metadata"]
    wanted_runtime = _requirement_set(project["dependencies"])
    locked_runtime = _requirement_set(
        f"{d['name']}{'[' + ','.join(d['extras']) + ']' if d.get('extras') else ''}{d.get('specifier', '')}"
        + (f"; {d['marker']}" if d.get("marker") else "")
        for d in locked["requires-dist"] if "extra ==" not in d.get("marker", ""))
    assert {Requirement(r).name for r in wanted_runtime} == {Requirement(r).name for r in locked_runtime}, \
        "pyproject.toml and uv.lock disagree on the dependencies: run `make lock`"
    for extra, reqs in project.get("optional-dependencies", {}).items():
        names = {canonicalize_name(Requirement(r).name) for r in reqs}
        locked_names = {canonicalize_name(d["name"]) for d in locked["requires-dist"]
                        if f"extra == '{extra}'" in d.get("marker", "").replace('"', "'")}
        assert names == locked_names, f"the '{extra}' extra differs from uv.lock: run `make lock`"


def test_installed_environment_is_the_locked_set():
    """Every distribution installed here has the locked version (two clones install the same set)."""
    locked = _locked_versions()
    project = canonicalize_name(_project()["name"])
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    installed.pop(project, None)
    for tool in ("pip", "setuptools", "wheel"):  # venv seeds, not the project's
        installed.pop(tool, None)
    unlocked = sorted(name for name in installed if name not in locked)
    assert not unlocked, f"installed but not in uv.lock: {unlocked}"
    differing = {name: (version, locked[name]) for name, version in installed.items() if locked[name] != version}
    assert not differing, f"installed versions differ from uv.lock (installed, locked): {differing}"
