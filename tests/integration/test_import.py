"""`paminn import` and POST /api/v1/import: atomic, idempotent, clear about what to fix."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.builders import may_org

TABLES = ("organisations", "staff", "care_recipients", "supervisions", "shifts", "reminder_history")


async def table_counts(harness) -> dict:
    return {t: await harness.scalar(f"SELECT count(*) FROM {t}") for t in TABLES}


def run_cli(db_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PAMINN_DATABASE_URL": db_url}
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, env=env,
                          timeout=120)


async def test_cli_import_is_idempotent_and_prints_counts(harness, db_url, tmp_path):
    path = tmp_path / "org.json"
    path.write_text(json.dumps(may_org()), encoding="utf-8")
    first = run_cli(db_url, "import", str(path))
    assert first.returncode == 0, first.stderr
    assert "staff: 12 created, 0 updated, 0 unchanged" in first.stdout
    assert "shifts: 11 created, 0 updated, 0 unchanged" in first.stdout
    before = await table_counts(harness)
    again = run_cli(db_url, "import", str(path))
    assert again.returncode == 0
    assert "staff: 0 created, 0 updated, 12 unchanged" in again.stdout
    assert "reminder_history: 0 created, 0 updated, 2 unchanged" in again.stdout
    assert await table_counts(harness) == before
    assert "19900101-1234" not in first.stdout + first.stderr + again.stdout + again.stderr


async def test_cli_refuses_bad_file_whole(harness, db_url, tmp_path):
    doc = may_org()
    doc["shifts"][5]["care_recipient"] = "r99"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    result = run_cli(db_url, "import", str(path))
    assert result.returncode == 1
    assert "was refused; nothing was written" in result.stderr
    assert "shifts[5] (id 's6'): 'care_recipient' 'r99' is neither in the file nor stored" in result.stderr
    assert (await table_counts(harness))["staff"] == 0
    path.write_text("{not json", encoding="utf-8")
    result = run_cli(db_url, "import", str(path))
    assert result.returncode == 2 and "is not valid JSON" in result.stderr


async def test_update_changes_only_what_changed(harness):
    from tests.builders import load

    await load(harness, may_org())
    doc = may_org()
    doc["shifts"][0]["reported"] = True
    doc["staff"][2]["name"] = "Anna Andersson-Berg"
    counts = await load(harness, doc)
    assert counts["shifts"] == {"created": 0, "updated": 1, "unchanged": 10}
    assert counts["staff"] == {"created": 0, "updated": 1, "unchanged": 11}


async def test_api_import_needs_the_key_and_refuses_whole(db_url, fake_twilio, clock):
    from tests.conftest import start_harness

    h = await start_harness(db_url, fake_twilio, clock, PAMINN_API_KEY="s3cret")
    try:
        assert (await h.client.post("/api/v1/import", json=may_org())).status == 401
        bad = may_org()
        bad["staff"][0]["mobile"] = "nej"
        auth = {"Authorization": "Bearer s3cret"}
        response = await h.client.post("/api/v1/import", json=bad, headers=auth)
        assert response.status == 422
        body = await response.json()
        assert body["error"] == "the import was refused; nothing was written"
        assert body["problems"][0].startswith("staff[0] (id 'c1'): 'mobile'")
        assert await h.scalar("SELECT count(*) FROM staff") == 0
        response = await h.client.post("/api/v1/import", data="{", headers={**auth, "Content-Type": "application/json"})
        assert response.status == 400
        response = await h.client.post("/api/v1/import", json=may_org(), headers=auth)
        assert response.status == 200
        assert (await response.json())["counts"]["staff"]["created"] == 12
        spec = await (await h.client.get("/api/v1/openapi.json")).json()
        assert "/api/v1/import" in spec["paths"]
    finally:
        await h.client.close()


async def test_api_is_off_without_key(harness):
    assert (await harness.client.post("/api/v1/import", json=may_org())).status == 404


async def test_everyone_reported_is_announced_after_import(harness):
    from tests.builders import COORD, load, set_team_chat, team_messages

    await load(harness, may_org())
    await set_team_chat(harness)
    await harness.sms(COORD, "PÅMINN ALLA maj")
    doc = may_org()
    for s in doc["shifts"]:
        if s["start"].startswith("2026-05"):
            s["reported"] = s["signed"] = True
    doc["shifts"] = [s for s in doc["shifts"] if s["id"] != "s9"] + [
        {**next(s for s in may_org()["shifts"] if s["id"] == "s9"), "reported": True, "signed": True}]
    await load(harness, doc)
    assert (await team_messages(harness))[-1] == "Alla har rapporterat för maj 2026. 🎉"
    await load(harness, doc)  # said once
    assert (await team_messages(harness)).count("Alla har rapporterat för maj 2026. 🎉") == 1
