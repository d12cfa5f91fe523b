"""The simulator's funnel panel route: the month's funnel of the simulated organisation only, names and no numbers.

It reads what RAPPORT and GET …/rounds read (store.month_funnel), under the simulator's guards: another Host is
refused (DNS rebinding) and an organisation with real numbers is never shown.
"""
from __future__ import annotations

from core import store
from core.months import Month
from tests.builders import ANNA, COORD, HANNA
from tests.integration.test_simulator_api import sim, simulate  # noqa: F401  (the fixture and the helper)

ROUTE = "/simulator/api/funnel"


async def funnel(h, query: str = "") -> dict:
    response = await h.client.get(ROUTE + query)
    assert response.status == 200, await response.text()
    return await response.json()


async def text_as(h, sender: str, text: str) -> None:
    response = await h.client.post("/simulator/api/send", json={"from": sender, "text": text})
    assert response.status == 200, await response.text()
    await h.dispatch()


async def test_the_panel_shows_the_round_the_deliveries_and_who_confirmed(sim):
    await simulate(sim)
    empty = await funnel(sim)
    assert empty["month"] == "2026-05" and empty["label"] == "maj 2026"  # STATUS's default month: last month
    assert empty["rounds"] == [] and set(empty["counts"].values()) == {0}

    await text_as(sim, COORD, "PÅMINN ALLA maj")
    await text_as(sim, ANNA, "OK")
    shown = await funnel(sim)
    assert shown["month"] == "2026-05"
    assert shown["counts"] == {"reminded": 4, "delivered": 4, "acknowledged": 1, "unfinished_now": 4}
    assert shown["names"]["acknowledged"] == ["Anna Andersson"]
    assert shown["names"]["reminded"] == ["Anna Andersson", "Gustav Grön", "Ivar Isaksson", "Jonna Jansson"]
    [rnd] = shown["rounds"]
    assert rnd["requested_by"] == "Karin Koordinator" and rnd["started"] == "02/06 10:00"
    assert rnd["counts"] == shown["counts"]
    people = {p["name"]: p for p in rnd["people"]}
    assert people["Anna Andersson"] == {"name": "Anna Andersson", "reminded": True, "delivered": True,
                                        "acknowledged": True, "unfinished_now": True}
    assert people["Gustav Grön"]["acknowledged"] is False and people["Gustav Grön"]["delivered"] is True
    # What RAPPORT and the API read, folded the same way.
    async with sim.services.sessions() as session:
        same = await store.month_funnel(session, "org1", Month(2026, 5), "Europe/Stockholm")
    assert shown["counts"] == same.counts()
    # Names only: never a mobile or a personal number.
    raw = await (await sim.client.get(ROUTE)).text()
    for secret in (ANNA, ANNA.removeprefix("+46"), "19900101-1234"):
        assert secret not in raw


async def test_unasked_it_shows_the_latest_month_with_a_round(sim):
    await simulate(sim)
    await text_as(sim, COORD, "PÅMINN ALLA juni")  # Hanna's shift on 1 June is June's
    await text_as(sim, COORD, "PÅMINN ALLA maj")
    shown = await funnel(sim)
    assert shown["month"] == "2026-06" and shown["label"] == "juni 2026"
    assert shown["names"]["reminded"] == ["Hanna Holm"]
    may = await funnel(sim, "?month=2026-05")
    assert may["month"] == "2026-05" and may["counts"]["reminded"] == 4
    for bad in ("2026-13", "maj", "2026-5", ""):
        response = await sim.client.get(f"{ROUTE}?month={bad}")
        assert response.status == 400 and "2026-05" in (await response.json())["error"]
    assert HANNA not in await (await sim.client.get(ROUTE)).text()


async def test_an_organisation_with_real_numbers_is_never_shown(sim):
    from bot.cli import load_demo

    replies = await sim.sms(COORD, "PÅMINN ALLA maj")  # org1 is real: its round went by SMS
    assert replies[0].startswith("4 påminnelser")
    await sim.dispatch()
    for query in ("", "?month=2026-05"):
        assert await funnel(sim, query) == {"month": None, "rounds": []}
    await load_demo(sim.services, assistants=5)  # a simulated organisation beside it: only that one is shown
    for query in ("", "?month=2026-05"):
        shown = await funnel(sim, query)
        assert shown["month"] is not None and shown["rounds"] == []
        raw = await (await sim.client.get(ROUTE + query)).text()
        assert "Anna Andersson" not in raw and "Gustav Grön" not in raw


async def test_the_funnel_route_refuses_a_foreign_host(sim):
    await simulate(sim)
    port = sim.client.server.port
    for host in (f"evil.example:{port}", "evil.example", f"127.0.0.1:{port + 1}", f"localhost.evil.example:{port}"):
        response = await sim.client.get(ROUTE, headers={"Host": host})
        assert response.status == 421, host
        assert "--expose-simulator" in (await response.json())["error"]
    for host in (f"localhost:{port}", f"127.0.0.1:{port}"):
        assert (await sim.client.get(ROUTE, headers={"Host": host})).status == 200


async def test_the_funnel_route_is_off_with_the_simulator(harness):
    assert (await harness.client.get(ROUTE)).status == 404
