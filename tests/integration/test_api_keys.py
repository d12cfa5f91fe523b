"""Keys per organisation and scope: each key reaches its own organisation's routes and scopes only.

The route proof reads the app's router, so a route added later is covered without touching this file
(it fails, naming what to add, if the route has a path parameter it has no sample for).
"""
from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import func, select

from bot.cli import main as paminn
from core import store
from core.api_access import SCOPES, hash_key, new_key
from core.models import ApiKey, Base
from core.text import mask_personal_numbers
from tests.builders import load
from tests.conftest import start_harness
from webhooks.api import PUBLIC, scope_for

OPERATOR = {"Authorization": "Bearer operator-key"}
PNR = {"org1": "19800101-1234", "org2": "19810202-5678"}


def org_doc(org_id: str) -> dict:
    return {
        "organisation": {"id": org_id, "name": f"Hemtjänst {org_id}"},
        "staff": [{"id": "v1", "name": "Vera Vård", "mobile": "070-111 22 33", "email": "vera@example.se",
                   "personal_number": PNR.get(org_id, "19990101-0000"), "sd_number": "SD1",
                   "roles": ["assistant", "admin"]}],
        "customers": [{"id": "k1", "name": "Kund Ett", "decision": {"from": "2026-01-01", "to": None},
                       "contacts": [{"name": "Sara Svensson", "email": "sara@kund.se",
                                     "roles": ["notification_recipient"]}]}],
        "customer_reminders": [{"id": "cr1", "customer": "k1", "title": "Kontroll", "text": "Kontroll {{ datum }}.",
                                "due": "2026-07-01", "delivery": "email", "recipients": ["contacts"]}],
        "notification_templates": [{"id": "t1", "event_type": "work_shift", "title": "Nytt pass",
                                    "text": "Pass kl {{ händelse.tid }}.", "delivery": "email",
                                    "recipients": {"contact_roles": ["notification_recipient"]}}],
        "visits": [{"id": f"b{i}", "staff": "v1", "customer": "k1", "start": f"2026-06-01T{8 + i:02d}:00:00+02:00",
                    "end": f"2026-06-01T{9 + i:02d}:00:00+02:00"} for i in range(3)],
    }


# What fills each path parameter, and the body each write sends, for the "right key" case. A new
# route with a parameter not named here fails the proof with a message saying what to add.
SAMPLES = {"event": "e1", "staff": "v1", "customer": "k1", "person": "v1", "visit": "b0", "reminder": "cr1",
           "template": "t1"}


def body_for(method: str, route: str, org_id: str):
    if route == "/api/v1/import":
        return org_doc(org_id)
    if route.endswith("/events") and method == "POST":
        return {"id": "e2", "type": "work_shift", "customer": "k1", "values": {"tid": "08:00"}}
    if route.endswith("/buffer/ack"):
        return {"batch": "none-such", "ids": ["b0"]}
    return None


def api_routes(app) -> list[tuple[str, str]]:
    """Every (method, route template) under /api/v1 that needs a key, as the app's router has them."""
    found = set()
    for route in app.router.routes():
        template = route.resource.canonical if route.resource is not None else ""
        if template.startswith("/api/v1/") and template not in PUBLIC and route.method not in ("HEAD", "*"):
            found.add((route.method, template))
    # Writes that remove things last, so the right key's run does not take away what later routes read.
    return sorted(found, key=lambda r: (r[0] == "DELETE", r[1], r[0]))


def concrete(template: str, org_id: str) -> str:
    import re

    def fill(match):
        name = match.group(1)
        if name == "org":
            return org_id
        assert name in SAMPLES, f"add a sample value for the path parameter {{{name}}} to SAMPLES"
        return SAMPLES[name]
    return re.sub(r"\{(\w+)(?::[^}]*)?\}", fill, template)


async def make_key(h, org_id: str, name: str, scopes) -> dict:
    key = new_key()
    async with h.services.sessions.begin() as session:
        await store.add_api_key(session, org_id, name, hash_key(key), list(scopes), h.clock())
    return {"Authorization": f"Bearer {key}"}


async def snapshot(h) -> dict:
    """Row counts of every table, and the buffer's states (a poll changes those, not counts)."""
    counts = {t: await h.scalar(f"SELECT count(*) FROM {t}") for t in Base.metadata.tables}
    counts["visit states"] = await h.rows("SELECT org_id, external_id, buffer_state, lease_token FROM visits "
                                          "ORDER BY org_id, external_id")
    counts["key use"] = await h.rows("SELECT name, last_used_at FROM api_keys ORDER BY id")
    return counts


async def call(h, method: str, path: str, headers: dict, body=None):
    return await h.client.request(method, path, headers=headers, json=body) if body is not None \
        else await h.client.request(method, path, headers=headers)


@pytest.fixture
async def h(db_url, fake_twilio, clock):
    harness = await start_harness(db_url, fake_twilio, clock, PAMINN_API_KEY="operator-key")
    for org_id in ("org1", "org2"):
        await load(harness, org_doc(org_id))
        response = await harness.client.post(f"/api/v1/organisations/{org_id}/events", headers=OPERATOR,
                                             json={"id": "e1", "type": "work_shift", "customer": "k1",
                                                   "values": {"tid": "07:00"}})
        assert response.status == 200, await response.text()
    yield harness
    await harness.client.close()


async def test_every_api_route_answers_only_its_organisations_keys_with_the_scope(h):
    routes = api_routes(h.client.server.app)
    assert {("POST", "/api/v1/import"), ("GET", "/api/v1/organisations/{org}/audit"),
            ("POST", "/api/v1/organisations/{org}/buffer/poll")} <= set(routes)
    routes_with_org = [r for r in routes if "{org}" in r[1]]
    other_org = await make_key(h, "org2", "org2-all", SCOPES)
    before = await snapshot(h)
    for i, (method, route) in enumerate(routes):
        path, body = concrete(route, "org1"), body_for(method, route, "org1")
        # (a) another organisation's key, with every scope: as if org1 did not exist, and nothing written.
        response = await call(h, method, path, other_org, body)
        assert response.status == 404, (method, route, response.status, await response.text())
        missing = await call(h, method, concrete(route, "org9"), OPERATOR, body_for(method, route, "org9")) \
            if "{org}" in route else await call(h, "GET", concrete(routes_with_org[0][1], "org9"), OPERATOR)
        assert missing.status == 404, (method, route, await missing.text())
        assert (await response.text()).replace("org1", "org9") == await missing.text(), (method, route)
        assert response.content_type == missing.content_type
        # (b) org1's own key with every scope but the one the route needs: 403 naming it, nothing written.
        scope = scope_for(method, route)
        lacking = await make_key(h, "org1", f"no-{scope}-{i}", set(SCOPES) - {scope})
        before = await snapshot(h)
        response = await call(h, method, path, lacking, body)
        assert response.status == 403, (method, route, response.status, await response.text())
        assert repr(scope) in (await response.json())["error"]
        assert await snapshot(h) == before, (method, route)
    # (c) org1's key with exactly the route's scope gets through (and the writes are audited, below).
    for i, (method, route) in enumerate(routes):
        scope = scope_for(method, route)
        right = await make_key(h, "org1", f"only-{scope}-{i}", [scope])
        response = await call(h, method, concrete(route, "org1"), right, body_for(method, route, "org1"))
        assert response.status not in (401, 403, 404) and response.status < 500, \
            (method, route, response.status, await response.text())
    # The operator's key reaches every organisation.
    for org_id in ("org1", "org2"):
        for method, route in routes:
            response = await call(h, method, concrete(route, org_id), OPERATOR, body_for(method, route, org_id))
            assert response.status not in (401, 403, 404) and response.status < 500, \
                (org_id, method, route, response.status, await response.text())


async def test_an_import_for_another_organisation_is_refused_and_writes_nothing(h):
    org1_import = await make_key(h, "org1", "lon", ["import"])
    before = await snapshot(h)
    doc = org_doc("org2")
    doc["staff"].append({"id": "x1", "name": "Inkräktare"})
    response = await h.client.post("/api/v1/import", json=doc, headers=org1_import)
    assert response.status == 404 and (await response.json())["error"] == "no organisation 'org2'; import it first"
    new_org = org_doc("org1") | {"organisation": {"id": "org3", "name": "Ny AB"}}
    response = await h.client.post("/api/v1/import", json=new_org, headers=org1_import)
    assert response.status == 404  # only the operator creates organisations
    after = await snapshot(h)
    assert after.pop("key use") != before.pop("key use")  # the key was used (it got through the door) …
    assert after == before  # … and wrote nothing
    response = await h.client.post("/api/v1/import", json=new_org, headers=OPERATOR)
    assert response.status == 200 and await h.scalar("SELECT count(*) FROM organisations WHERE id = 'org3'") == 1


async def test_writes_are_audited_for_their_organisation_newest_first(h):
    writer = await make_key(h, "org1", "lonesystem", ["import", "events", "buffer", "read"])
    assert (await h.client.post("/api/v1/import", json=org_doc("org1"), headers=writer)).status == 200
    assert (await h.client.post("/api/v1/organisations/org1/buffer/poll?limit=2", headers=writer)).status == 200
    refused = await h.client.post("/api/v1/organisations/org1/events", headers=writer,
                                  json={"id": "e9", "type": "work_shift", "customer": "k1"})
    assert refused.status == 422
    assert (await h.client.get("/api/v1/organisations/org1/customer-reminders", headers=writer)).status == 200
    response = await h.client.get("/api/v1/organisations/org1/audit?limit=3", headers=writer)
    assert response.status == 200
    items = (await response.json())["items"]
    assert [(i["actor"], i["method"], i["route"], i["status"]) for i in items] == [
        ("lonesystem", "POST", "/api/v1/organisations/{org}/events", 422),
        ("lonesystem", "POST", "/api/v1/organisations/{org}/buffer/poll", 200),
        ("lonesystem", "POST", "/api/v1/import", 200)]
    assert items[0]["outcome"] == {"problems": 1}
    assert items[1]["outcome"] == {"items": 2}
    assert items[2]["outcome"]["counts"]["staff"] == {"created": 0, "updated": 0, "unchanged": 1}
    everything = (await (await h.client.get("/api/v1/organisations/org1/audit", headers=writer)).json())["items"]
    assert [i["actor"] for i in everything][-1] == "operator"  # the fixture's event, by PAMINN_API_KEY
    org2 = (await (await h.client.get("/api/v1/organisations/org2/audit", headers=OPERATOR)).json())["items"]
    assert [i["actor"] for i in org2] == ["operator"]
    for bad in ("0", "501", "x"):
        response = await h.client.get(f"/api/v1/organisations/org1/audit?limit={bad}", headers=writer)
        assert response.status == 400 and "1 to 500" in (await response.json())["error"]


async def test_unknown_revoked_and_missing_keys_are_401_with_a_challenge(h):
    key = await make_key(h, "org1", "lon", ["read"])
    path = "/api/v1/organisations/org1/customer-reminders"
    lower = {"Authorization": key["Authorization"].replace("Bearer", "bEaReR")}
    assert (await h.client.get(path, headers=lower)).status == 200  # the scheme's name is case-insensitive
    for headers in ({}, {"Authorization": "Bearer pmn_nonesuch"}, {"Authorization": "Basic b3BlcmF0b3I="}):
        response = await h.client.get(path, headers=headers)
        assert response.status == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")
    async with h.services.sessions.begin() as session:
        await store.revoke_api_key(session, "org1", "lon", h.clock())
    response = await h.client.get(path, headers=key)
    assert response.status == 401 and 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert "revoked" in (await response.json())["error"]


async def test_keys_work_without_an_operator_key_and_the_api_is_off_with_neither(db_url, fake_twilio, clock):
    h = await start_harness(db_url, fake_twilio, clock)
    try:
        await load(h, org_doc("org1"))
        path = "/api/v1/organisations/org1/buffer/waiting"
        response = await h.client.get(path, headers={"Authorization": "Bearer anything"})
        assert response.status == 404 and "the API is off" in (await response.json())["error"]
        key = await make_key(h, "org1", "lon", ["buffer"])
        assert (await h.client.get(path, headers=key)).status == 200
        assert (await h.client.get(path, headers={"Authorization": "Bearer operator-key"})).status == 401
    finally:
        await h.client.close()


async def test_personal_numbers_reach_only_the_buffers_batch(h):
    buffer_key = await make_key(h, "org1", "lon", ["buffer"])
    items = (await (await h.client.post("/api/v1/organisations/org1/buffer/poll", headers=buffer_key)).json())["items"]
    assert {i["staff"]["personal_number"] for i in items} == {PNR["org1"]}
    # Anywhere else, e.g. a refused import that names the record by its id, the number is masked.
    importer = await make_key(h, "org1", "imp", ["import"])
    doc = org_doc("org1")
    doc["staff"] = [{"id": "19900101-1234", "personal_number": "199001011234"}]  # no name: refused
    response = await h.client.post("/api/v1/import", json=doc, headers=importer)
    text = await response.text()
    assert response.status == 422 and "19900101-****" in text, text
    assert "19900101-1234" not in text and "199001011234" not in text
    response = await h.client.get("/api/v1/organisations/19900101-1234/buffer/waiting", headers=OPERATOR)
    assert response.status == 404 and "19900101-****" in await response.text()


def test_masking_leaves_mobiles_dates_and_ids_alone():
    assert mask_personal_numbers("19900101-1234, 900101+1234, 199001611234") == \
        "19900101-****, 900101+****, 19900161-****"
    kept = "+46701234567 2026-06-01T08:00:00+02:00 SD1234 b2026060112 id-199001011234x 20261301-1234"
    assert mask_personal_numbers(kept) == kept


# ---------------------------------------------------------------- the keys CLI


async def cli(capsys, *argv) -> tuple[int, str, str]:
    code = await asyncio.to_thread(paminn, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


async def test_keys_cli_creates_once_stores_a_hash_lists_without_keys_and_revokes_at_once(h, capsys, monkeypatch):
    monkeypatch.setenv("PAMINN_DATABASE_URL", h.services.settings.database_url)
    code, out, err = await cli(capsys, "keys", "create", "--org", "org1", "--name", "lonesystem",
                               "--scope", "buffer,read")
    assert code == 0, err
    key = out.strip()
    assert key.startswith("pmn_") and len(key) > 40 and "shown only now" in err
    async with h.services.sessions() as session:
        stored = (await session.scalars(select(ApiKey))).all()
    assert [(k.name, k.org_id, k.scopes, k.key_hash) for k in stored] == \
        [("lonesystem", "org1", "buffer,read", hash_key(key))]
    assert key not in json.dumps([str(v) for k in stored for v in vars(k).values()])
    auth = {"Authorization": f"Bearer {key}"}
    assert (await h.client.get("/api/v1/organisations/org1/buffer/waiting", headers=auth)).status == 200
    assert (await h.client.get("/api/v1/organisations/org2/buffer/waiting", headers=auth)).status == 404

    code, out, err = await cli(capsys, "keys", "list")
    assert code == 0 and key not in out and hash_key(key) not in out
    header, row = out.strip().splitlines()
    assert header.split() == ["name", "org", "scopes", "created", "last", "used", "revoked"]
    assert row.split()[:3] == ["lonesystem", "org1", "buffer,read"] and row.split()[-1] == "-"
    assert "2026-06-02 08:00 UTC" in row  # last used by the calls above (the server's test clock)

    for argv, says in [(("--org", "org1", "--name", "lonesystem", "--scope", "read"), "already has a key named"),
                       (("--org", "org9", "--name", "x", "--scope", "read"), "no organisation 'org9'"),
                       (("--org", "org1", "--name", "y", "--scope", "read,write"),
                        "unknown scope 'write'; the scopes are import, events, buffer, read")]:
        code, out, err = await cli(capsys, "keys", "create", *argv)
        assert code == 2 and says in err and out == "", err
    async with h.services.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ApiKey)) == 1

    code, out, err = await cli(capsys, "keys", "revoke", "--org", "org1", "--name", "lonesystem")
    assert code == 0 and "revoked" in out
    response = await h.client.get("/api/v1/organisations/org1/buffer/waiting", headers=auth)
    assert response.status == 401  # at once, in the running server
    code, out, err = await cli(capsys, "keys", "list", "--org", "org1")
    assert out.strip().splitlines()[1].split()[-1] == "UTC"  # the revoked column is filled
    code, out, err = await cli(capsys, "keys", "revoke", "--org", "org2", "--name", "lonesystem")
    assert code == 2 and "has no key named 'lonesystem'" in err
