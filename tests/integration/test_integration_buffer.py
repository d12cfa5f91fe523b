"""The integration buffer as an external system uses it: poll a batch, acknowledge it, see what waits."""
from __future__ import annotations

import asyncio

import pytest

from tests.builders import load
from tests.conftest import start_harness

AUTH = {"Authorization": "Bearer key"}
BASE = "/api/v1/organisations/org1/buffer"


@pytest.fixture
async def h(db_url, fake_twilio, clock):
    harness = await start_harness(db_url, fake_twilio, clock, PAMINN_API_KEY="key")
    yield harness
    await harness.client.close()


def visit(vid: str, staff: str, customer: str, day: int, hour: int = 8, **extra) -> dict:
    return {"id": vid, "staff": staff, "customer": customer, "start": f"2026-06-{day:02d}T{hour:02d}:00:00+02:00",
            "end": f"2026-06-{day:02d}T{hour + 1:02d}:00:00+02:00", **extra}


def buffer_doc() -> dict:
    return {
        "organisation": {"id": "org1", "name": "Hemtjänst Norr AB"},
        "staff": [{"id": "v1", "name": "Vera Vård", "personal_number": "19800101-1234", "sd_number": "SD1"},
                  {"id": "v2", "name": "Ulf Utan", "personal_number": "19810101-1234"}],
        "customers": [{"id": "k1", "name": "Kund Ett", "decision": {"from": "2026-01-01", "to": None}},
                      {"id": "k2", "name": "Kund Två"}],
        "visits": [visit("b1", "v1", "k1", 1), visit("b2", "v2", "k1", 1, 10), visit("b3", "v1", "k2", 1, 12),
                   visit("b4", "v1", "k1", 1, 14, confirmed=False)]
                  + [visit(f"r{i:02d}", "v1", "k1", 2 + i % 20, 8 + i // 20) for i in range(25)],
    }


async def poll(h, limit: int = 20) -> dict:
    response = await h.client.post(f"{BASE}/poll?limit={limit}", headers=AUTH)
    assert response.status == 200, await response.text()
    return await response.json()


async def ack(h, batch: str | None, ids: list[str]) -> dict:
    response = await h.client.post(f"{BASE}/ack", json={"batch": batch, "ids": ids}, headers=AUTH)
    assert response.status == 200, await response.text()
    return await response.json()


async def test_batches_are_taken_acknowledged_and_offered_again_until_acknowledged(h):
    counts = await load(h, buffer_doc())
    assert counts["visits"]["created"] == 29
    first, second = await asyncio.gather(poll(h), poll(h))  # two polls at once: no visit in both
    ids = [i["id"] for i in first["items"]] + [i["id"] for i in second["items"]]
    assert sorted(ids) == sorted(["b1"] + [f"r{i:02d}" for i in range(25)]) and len(set(ids)) == 26
    assert sorted([len(first["items"]), len(second["items"])]) == [6, 20]
    big, small = sorted([first, second], key=lambda b: -len(b["items"]))
    assert big["items"][0] == {"id": "b1", "start": "2026-06-01T06:00:00+00:00", "end": "2026-06-01T07:00:00+00:00",
                               "staff": {"id": "v1", "personal_number": "19800101-1234", "sd_number": "SD1"},
                               "customer": {"id": "k1", "name": "Kund Ett"}}
    assert (await poll(h))["items"] == []  # everything ready is out on a lease
    answer = await ack(h, big["batch"], [i["id"] for i in big["items"]] + ["nope"])
    assert len(answer["acknowledged"]) == 20 and answer["not_acknowledged"] == ["nope"]
    # The small batch is never acknowledged: after the lease it is offered again, the old token no longer works.
    h.clock.advance(minutes=11)
    again = await poll(h)
    assert sorted(i["id"] for i in again["items"]) == sorted(i["id"] for i in small["items"])
    late = await ack(h, small["batch"], [i["id"] for i in small["items"]])
    assert late["acknowledged"] == [] and len(late["not_acknowledged"]) == 6
    assert len((await ack(h, again["batch"], [i["id"] for i in again["items"]]))["acknowledged"]) == 6
    h.clock.advance(minutes=11)
    assert (await poll(h))["items"] == []  # acknowledged visits never come back
    assert await h.scalar("SELECT count(*) FROM visits WHERE buffer_state = 'delivered'") == 26
    metrics = await (await h.client.get("/metrics")).text()
    assert 'paminn_buffer_visits_total{action="leased"} 32.0' in metrics  # 26 + the 6 offered again
    assert 'paminn_buffer_visits_total{action="acknowledged"} 26.0' in metrics


async def test_visits_that_cannot_go_wait_with_their_reasons_until_fixed(h):
    await load(h, buffer_doc())
    response = await h.client.get(f"{BASE}/waiting", headers=AUTH)
    waiting = {i["id"]: [r["text"] for r in i["reasons"]] for i in (await response.json())["items"]}
    assert waiting == {"b2": ["personalen saknar SD-nummer"],
                       "b3": ["kunden saknar giltigt beslut för besöksdagen"]}
    await ack(h, (await poll(h, 100))["batch"], [])  # take the ready ones out of the way (not acknowledged)
    fixed = buffer_doc()
    fixed["staff"][1]["sd_number"] = "SD2"
    fixed["customers"][1]["decision"] = {"from": "2026-06-01", "to": "2026-06-30"}
    await load(h, fixed)
    assert (await (await h.client.get(f"{BASE}/waiting", headers=AUTH)).json())["items"] == []
    h.clock.advance(minutes=11)
    taken = [i["id"] for i in (await poll(h, 100))["items"]]
    assert {"b2", "b3"} <= set(taken) and "b4" not in taken  # b4 is not confirmed


async def test_bad_requests_say_what_to_change(h):
    await load(h, buffer_doc())
    assert (await h.client.post(f"{BASE}/poll?limit=0", headers=AUTH)).status == 400
    assert (await h.client.post(f"{BASE}/poll?limit=abc", headers=AUTH)).status == 400
    bad = await h.client.post(f"{BASE}/ack", data="{", headers=AUTH)
    assert bad.status == 400 and '"batch"' in (await bad.json())["error"]
    assert (await h.client.post(f"{BASE}/ack", json={"batch": "x", "ids": [1]}, headers=AUTH)).status == 400
    assert (await h.client.post("/api/v1/organisations/nope/buffer/poll", headers=AUTH)).status == 404
    assert (await h.client.post(f"{BASE}/poll")).status == 401
    assert await h.scalar("SELECT count(*) FROM visits WHERE buffer_state = 'leased'") == 0


async def test_nul_characters_are_refused_not_a_server_error(h):
    """PostgreSQL refuses NUL in text; a request carrying one gets a 4xx that says so, never a 500."""
    await load(h, buffer_doc())
    assert (await h.client.get("/api/v1/organisations/%00/buffer/waiting", headers=AUTH)).status == 404
    assert (await h.client.get("/api/v1/organisations/org1/customer-reminders?customer=%00",
                               headers=AUTH)).status == 400
    assert (await h.client.post(f"{BASE}/ack", json={"batch": "a\u0000", "ids": []}, headers=AUTH)).status == 400
    doc = buffer_doc()
    doc["customers"][0]["name"] = "Kund\u0000Ett"
    response = await h.client.post("/api/v1/import", json=doc, headers=AUTH)
    assert response.status == 422
    assert (await response.json())["problems"] == ["customers[0] (id 'k1'): 'name' contains a NUL character; remove it"]
    # A signed SMS with a NUL in it is stored without it and answered.
    assert await h.sms("+46709999999", "hej\u0000") == [
        "Det här numret finns inte hos Påminn. Kontakta din arbetsgivare om du ska få påminnelser hit."]
    assert await h.scalar("SELECT body FROM inbound") == "hej"
