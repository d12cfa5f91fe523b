"""The OpenAPI file is valid, covers every /api/v1 route, and the real API keeps to it under schemathesis.

schemathesis (all its checks) runs against `paminn serve` on a loopback port, with a seeded organisation
and one of its keys, a bounded number of cases per operation.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from openapi_spec_validator import validate
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.modes import GenerationMode

from bot.app import create_app
from bot.config import Settings
from tests.conftest import PG_URL, free_port
from webhooks.api import OPENAPI

SPEC = json.loads(OPENAPI.read_text())
CASES_PER_OPERATION = 15  # × 8 operations × 2 modes (schema-valid and not): about 220 cases per backend


def test_the_openapi_file_is_valid():
    validate(SPEC)


def test_the_openapi_file_names_every_api_route_and_no_other():
    app = create_app(Settings.from_env({"PAMINN_DATABASE_URL": "sqlite+aiosqlite:///:memory:"}), scheduler=False)
    routed = {(r.method.lower(), r.resource.canonical) for r in app.router.routes()
              if r.resource is not None and r.resource.canonical.startswith("/api/v1/") and r.method != "HEAD"}
    documented = {(method, path) for path, item in SPEC["paths"].items() for method in item if method != "parameters"}
    assert routed == documented
    for path, item in SPEC["paths"].items():
        for method, operation in item.items():
            if operation.get("security") == []:
                continue  # the OpenAPI file itself
            assert {"401", "403", "404"} <= set(operation["responses"]), (method, path)


def seed_document() -> dict:
    return {
        "organisation": {"id": "org1", "name": "Hemtjänst Norr AB"},
        "staff": [{"id": "v1", "name": "Vera Vård", "mobile": "070-111 22 33", "personal_number": "19800101-1234",
                   "sd_number": "SD1", "email": "vera@example.se"},
                  {"id": "v2", "name": "Ulf Utan", "personal_number": "19810101-1234"}],
        "customers": [{"id": "k1", "name": "Kund Ett", "decision": {"from": "2026-01-01", "to": None},
                       "contacts": [{"name": "Sara", "email": "sara@kund.se", "roles": ["notification_recipient"]}]}],
        "customer_reminders": [{"id": "cr1", "customer": "k1", "title": "Kontroll", "text": "Kontroll {{ datum }}.",
                                "due": "2026-07-01", "delivery": "email", "recipients": ["contacts"]}],
        "notification_templates": [{"id": "t1", "event_type": "work_shift", "title": "Pass", "text": "Pass.",
                                    "delivery": "email", "recipients": {"contact_roles": ["notification_recipient"]}}],
        "visits": [{"id": f"b{i}", "staff": "v1" if i % 3 else "v2", "customer": "k1",
                    "start": f"2026-06-{1 + i:02d}T08:00:00+02:00", "end": f"2026-06-{1 + i:02d}T09:00:00+02:00"}
                   for i in range(20)],
    }


def _paminn(env: dict, *argv: str) -> str:
    done = subprocess.run([sys.executable, "-m", "bot.cli", *argv], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _pg_schema(request) -> str:
    """A PostgreSQL schema of its own for the module (conftest's pg_schema is for async tests), dropped after."""
    import asyncio
    import uuid

    import asyncpg

    if not PG_URL:
        if os.environ.get("CI"):
            pytest.fail("PAMINN_TEST_DATABASE_URL is not set; CI must run the PostgreSQL tests")
        pytest.skip("PostgreSQL tests need PAMINN_TEST_DATABASE_URL")
    schema, plain = f"st_{uuid.uuid4().hex[:12]}", PG_URL.replace("postgresql+asyncpg://", "postgresql://")

    async def execute(sql: str) -> None:
        conn = await asyncpg.connect(plain)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()
    asyncio.run(execute(f'CREATE SCHEMA "{schema}"'))
    request.addfinalizer(lambda: asyncio.run(execute(f'DROP SCHEMA "{schema}" CASCADE')))
    return f"{PG_URL}{'&' if '?' in PG_URL else '?'}search_path={schema}"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def live_api(request, tmp_path_factory):
    """`paminn serve` on a loopback port over a seeded organisation; (base URL, a key with every scope)."""
    if request.param == "postgresql":
        database_url = _pg_schema(request)
    else:
        database_url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('schemathesis')}/paminn.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAMINN_", "TWILIO_", "TELEGRAM_", "SMTP_"))}
    env.update(PAMINN_DATABASE_URL=database_url, PAMINN_SIMULATOR="off")
    seed = tmp_path_factory.mktemp("seed") / "org1.json"
    seed.write_text(json.dumps(seed_document()), encoding="utf-8")
    _paminn(env, "import", str(seed))
    key = _paminn(env, "keys", "create", "--org", "org1", "--name", "schemathesis",
                  "--scope", "import,events,buffer,read").strip()
    port = free_port()
    log = tmp_path_factory.mktemp("log") / "serve.log"
    server = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=log.open("w"))
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=1)
            break
        except OSError:
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "paminn serve did not answer /healthz in 30 s"
            time.sleep(0.2)
    event = urllib.request.Request(f"{base}/api/v1/organisations/org1/events", method="POST",
                                   data=json.dumps({"id": "e1", "type": "work_shift", "customer": "k1"}).encode(),
                                   headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    assert json.load(urllib.request.urlopen(event, timeout=10))["repeat"] is False  # a report for …/events/e1
    yield base, key
    server.terminate()
    server.wait(timeout=15)
    # A 5xx fails its case above; the traceback behind it is here (no personal data is logged).
    print("".join(line for line in log.read_text().splitlines(keepends=True) if "Error" in line)[-4000:])


@pytest.fixture
def api_schema(live_api):
    base, key = live_api
    config = SchemathesisConfig.from_dict({
        "base-url": base,
        "headers": {"Authorization": f"Bearer {key}"},
        "checks": {
            "enabled": True,
            # The import and events validate what a schema cannot say (references between records, time
            # zones, a template's values): schema-valid data may be refused whole with 422.
            "positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "404", "422"]},
        },
    })
    return schemathesis.openapi.from_url(f"{base}/api/v1/openapi.json", config=config)


def _into_org1(case):
    case.body["organisation"]["id"] = "org1"
    return case


OPERATIONS = [(method.upper(), path) for path, item in SPEC["paths"].items() for method in item
              if method != "parameters" and item[method].get("security") != []]


# schemathesis's own pytest wrapper (`from_fixture(...).parametrize()`) reads `Function._nodeid`, which
# pytest 9.2 no longer has; its Python API does the same work: a Hypothesis strategy of cases per operation
# and mode, each called and checked with every check.
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_the_api_keeps_to_its_openapi_file(api_schema, method, path, mode):
    operation = api_schema[path][method]
    fixed = {name: value for name, value in (("org", "org1"), ("event", "e1")) if f"{{{name}}}" in path}
    strategy = operation.as_strategy(mode, path_parameters=fixed or None)
    if path == "/api/v1/import" and mode == GenerationMode.POSITIVE:
        strategy = strategy.map(_into_org1)  # else every document names another organisation: 404

    @settings(max_examples=CASES_PER_OPERATION, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def check(case):
        response = case.call_and_validate(timeout=10)
        seen[response.status_code] = seen.get(response.status_code, 0) + 1

    seen: dict[int, int] = {}
    try:
        check()
    except Unsatisfiable:
        assert mode == GenerationMode.NEGATIVE
        pytest.skip(f"no request to {method} {path} can break its schema (its only parameters are free strings)")
    if os.environ.get("SHOW_STATUSES"):
        print(method, path, mode, sorted(seen.items()))
