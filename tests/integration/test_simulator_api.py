"""The simulator's routes: off unless asked for; when on, texts travel as on a phone, for simulated organisations only.

Whoever reaches the simulator can speak as a phone, so it refuses what a web page could make a
browser send (another origin, a text/plain "simple" POST, another Host through DNS rebinding) and
it never speaks for an organisation with real numbers.
"""
from __future__ import annotations

import asyncio
import dataclasses
import json

import pytest
from aiohttp.test_utils import TestClient, TestServer

from core.importer import ImportError_
from tests.builders import ANNA, COORD, load, may_org, reminder
from tests.conftest import Harness, free_port, make_settings, start_harness

TABLES = ("inbound", "outbox", "reminder_rounds", "reminder_history")


async def simulate(h, org_id: str = "org1") -> None:
    """Mark an organisation and its people simulated, as `paminn demo-data` does for the demo."""
    from sqlalchemy import update

    from core.models import Organisation, Staff

    async with h.services.sessions.begin() as session:
        await session.execute(update(Organisation).where(Organisation.id == org_id).values(simulated=True))
        await session.execute(update(Staff).where(Staff.org_id == org_id).values(simulated=True))


async def counts(h) -> dict[str, int]:
    return {t: await h.scalar(f"SELECT count(*) FROM {t}") for t in TABLES}


@pytest.fixture
async def sim(db_url, fake_twilio, clock):
    """Twilio configured, the simulator on, and May's organisation loaded (not simulated)."""
    h = await start_harness(db_url, fake_twilio, clock, PAMINN_SIMULATOR="on")
    await load(h, may_org())
    yield h
    await h.client.close()


async def test_simulator_is_off_by_default(harness):
    assert (await harness.client.get("/")).status == 404
    assert (await harness.client.post("/simulator/api/send", json={"from": COORD, "text": "HJÄLP"})).status == 404
    assert (await harness.client.get("/simulator/api/events")).status == 404


async def test_simulated_people_get_messages_in_the_simulator_not_at_twilio(sim):
    """In an organisation with real numbers the round starts from the coordinator's real SMS; a simulated
    person's reminder still lands on the page. The simulator itself will not start it."""
    from sqlalchemy import update

    from core.models import Staff

    async with sim.services.sessions.begin() as session:
        await session.execute(update(Staff).where(Staff.mobile == ANNA).values(simulated=True))
    before = await counts(sim)
    refused = await sim.client.post("/simulator/api/send", json={"from": COORD, "text": "PÅMINN ALLA maj"})
    assert refused.status == 403
    assert "simulated organisation" in (await refused.json())["error"]
    assert await counts(sim) == before

    replies = await sim.sms(COORD, "PÅMINN ALLA maj")
    assert replies[0].startswith("4 påminnelser")
    await sim.dispatch()
    # Anna is simulated: her reminder is on the page; the others went to Twilio.
    page = await sim.rows("SELECT address, body, status FROM outbox WHERE channel = 'simulator' ORDER BY id")
    assert page == [(ANNA, reminder(), "delivered")]
    assert ANNA not in [m.to for m in sim.fake.messages] and len(sim.fake.messages) == 3


async def test_a_simulated_organisation_works_on_the_page_and_never_at_twilio(sim):
    await simulate(sim)
    response = await sim.client.post("/simulator/api/send", json={"from": COORD, "text": "PÅMINN ALLA maj"})
    assert response.status == 200, await response.text()
    await sim.dispatch()
    page = await sim.rows("SELECT address, body, status FROM outbox WHERE channel = 'simulator' ORDER BY id")
    assert (ANNA, reminder(), "delivered") in page
    # The coordinator typed in the simulator, so the reply went there too; Twilio heard nothing.
    assert any(a == COORD and b.startswith("4 påminnelser") for a, b, _ in page)
    assert sim.fake.messages == []
    bad = await sim.client.post("/simulator/api/send", json={"from": "nej", "text": "hej"})
    assert bad.status == 400 and "phone number" in (await bad.json())["error"]
    # The event stream replays what the page needs.
    async with sim.client.get("/simulator/api/events") as stream:
        line = await asyncio.wait_for(stream.content.readline(), 5)
        event = json.loads(line.removeprefix(b"data: "))
        assert event["initial"] is True
        assert any({"direction": "in", "address": COORD, "body": "PÅMINN ALLA maj"}.items() <= m.items()
                   for m in event["messages"])
        assert any({"direction": "out", "address": ANNA, "body": reminder()}.items() <= m.items()
                   for m in event["messages"])
    status = await (await sim.client.get("/simulator/api/status?month=2026-05")).json()
    recent = next(g for g in status["groups"] if g["reason"] == "reminded_recently")
    assert "Anna Andersson" in recent["names"]
    assert status["done"] == 1
    state = await (await sim.client.get("/simulator/api/state")).json()
    assert state["organisation"]["id"] == "org1"


async def test_the_page_shows_only_a_simulated_organisation(sim):
    state = await (await sim.client.get("/simulator/api/state")).json()
    assert state == {"organisation": None, "phones": []}
    assert (await (await sim.client.get("/simulator/api/status")).json())["groups"] == []


@pytest.mark.parametrize("case", ["not simulated", "simulated but one person real", "simulated, Telegram team chat",
                                  "simulated, one chat account linked", "unknown number",
                                  "also in a real organisation"])
async def test_the_simulator_never_speaks_for_an_organisation_with_real_numbers(sim, case):
    from sqlalchemy import update

    from core.models import Organisation, Staff

    sender = COORD
    if case != "not simulated":
        await simulate(sim)
    async with sim.services.sessions.begin() as session:
        if case == "simulated but one person real":
            await session.execute(update(Staff).where(Staff.mobile == ANNA).values(simulated=False))
        elif case == "simulated, Telegram team chat":
            await session.execute(update(Organisation).values(team_chat="telegram:-100777"))
        elif case == "simulated, one chat account linked":
            await session.execute(update(Staff).where(Staff.mobile == ANNA).values(telegram_user_id=5002,
                                                                                  preferred_channel="telegram"))
    if case == "unknown number":
        sender = "+46709999999"
    elif case == "also in a real organisation":
        other = may_org(id="org2", name="Riktiga AB")
        other["staff"] = [{"id": "c1", "name": "Karin Koordinator", "mobile": COORD, "roles": ["coordinator"]},
                          {"id": "a1", "name": "Anna Andersson", "mobile": "+46701239999"}]
        other["care_recipients"], other["shifts"], other["reminder_history"] = [], [], []
        await load(sim, other)
    before = await counts(sim)
    response = await sim.client.post("/simulator/api/send", json={"from": sender, "text": "PÅMINN ALLA maj"})
    assert response.status == 403
    assert "nothing was sent" in (await response.json())["error"]
    await sim.dispatch()
    assert await counts(sim) == before
    assert sim.fake.messages == []


async def test_only_demo_data_marks_an_organisation_simulated(sim):
    from bot.cli import load_demo
    from bot.demo import demo_document

    await load_demo(sim.services, assistants=5)
    doc = may_org(id="org3", name="Ska inte simuleras", simulated=True)
    with pytest.raises(ImportError_) as refused:  # an import cannot mark itself simulated: refused, not ignored
        await load(sim, doc)
    assert any("unknown field 'simulated'" in problem for problem in refused.value.problems)
    await load(sim, demo_document(sim.clock(), 5))  # re-importing the demo keeps it simulated
    flags = dict(await sim.rows("SELECT id, simulated FROM organisations ORDER BY id"))
    assert {k: bool(v) for k, v in flags.items()} == {"demo": True, "org1": False}
    state = await (await sim.client.get("/simulator/api/state")).json()
    assert state["organisation"]["id"] == "demo"


@pytest.mark.parametrize("headers, status", [
    ({"Origin": "http://evil.example"}, 403),
    ({"Origin": "null"}, 403),
    ({"Origin": "http://localhost:1"}, 403),
    ({"Sec-Fetch-Site": "cross-site"}, 403),
    ({"Sec-Fetch-Site": "same-site"}, 403),
    ({"Content-Type": "text/plain"}, 415),
    ({"Content-Type": "application/x-www-form-urlencoded"}, 415),
    ({"Content-Type": "multipart/form-data; boundary=x"}, 415),
], ids=["other-origin", "null-origin", "other-port", "cross-site", "same-site", "text-plain", "form", "multipart"])
async def test_what_a_web_page_could_send_is_refused_and_writes_nothing(sim, headers, status):
    """A form or no-cors fetch on another site can POST text/plain to loopback; a browser marks it with Origin."""
    await simulate(sim)
    before = await counts(sim)
    body = json.dumps({"from": COORD, "text": "PÅMINN ALLA maj"})
    response = await sim.client.post("/simulator/api/send", data=body,
                                     headers={"Content-Type": "application/json", **headers})
    assert response.status == status
    assert "error" in await response.json()
    assert await counts(sim) == before


async def test_the_page_s_own_same_origin_request_is_taken(sim):
    await simulate(sim)
    port = sim.client.server.port
    for origin in (f"http://127.0.0.1:{port}", None):
        headers = {"Content-Type": "application/json", "Sec-Fetch-Site": "same-origin"}
        if origin:
            headers["Origin"] = origin
        response = await sim.client.post("/simulator/api/send", data=json.dumps({"from": COORD, "text": "HJÄLP"}),
                                         headers=headers)
        assert response.status == 200, await response.text()
    assert await sim.scalar("SELECT count(*) FROM inbound WHERE channel = 'simulator'") == 2


@pytest.mark.parametrize("path", ["/", "/favicon.ico", "/static/favicon.svg", "/static/app.js", "/simulator/api/state",
                                  "/simulator/api/status",
                                  "/simulator/api/events", "/simulator/api/send"])
async def test_a_foreign_host_is_refused_on_every_simulator_route(sim, path):
    """DNS rebinding: a page at evil.example resolving to 127.0.0.1 reaches the port, but its Host gives it away."""
    await simulate(sim)
    port = sim.client.server.port
    method = "POST" if path.endswith("send") else "GET"
    for host in (f"evil.example:{port}", "evil.example", f"127.0.0.1:{port + 1}", f"localhost.evil.example:{port}"):
        response = await sim.client.request(method, path, data=json.dumps({"from": COORD, "text": "HJÄLP"}),
                                            headers={"Host": host, "Content-Type": "application/json"})
        assert response.status == 421, (host, response.status)
        assert "--expose-simulator" in (await response.json())["error"]
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"LOCALHOST:{port}"):
        response = await sim.client.request(method, path, data=json.dumps({"from": COORD, "text": "HJÄLP"}),
                                            headers={"Host": host, "Content-Type": "application/json"})
        assert response.status == 200, (host, response.status)
        response.close()
    assert await sim.scalar("SELECT count(*) FROM inbound") == (3 if method == "POST" else 0)


async def test_expose_simulator_allows_the_named_host(db_url, fake_twilio, clock):
    from bot.app import create_app
    from bot.cli import simulator_hosts

    assert simulator_hosts("sim.example.se, 10.0.0.5:8080", "0.0.0.0") == ("sim.example.se", "10.0.0.5:8080")
    assert simulator_hosts("", "192.168.1.5") == ("192.168.1.5",)
    assert simulator_hosts("", "0.0.0.0") == ()
    port = free_port()
    settings = dataclasses.replace(make_settings(db_url, fake_twilio, PAMINN_SIMULATOR="on"),
                                   simulator_hosts=simulator_hosts("sim.example.se", "0.0.0.0"))
    client = TestClient(TestServer(create_app(settings, clock=clock, scheduler=False), host="127.0.0.1", port=port))
    await client.start_server()
    h = Harness(client, fake_twilio, clock)
    try:
        await load(h, may_org())
        await simulate(h)
        for host, status in ((f"sim.example.se:{port}", 200), ("sim.example.se", 200), ("other.example.se", 421)):
            response = await client.post("/simulator/api/send", json={"from": COORD, "text": "HJÄLP"},
                                         headers={"Host": host, "Origin": f"https://{host}"})
            assert response.status == status, host
        # Behind a proxy that rewrites Host to the loopback address, the page's origin is the named host.
        for origin, status in (("https://sim.example.se", 200), ("https://other.example.se", 403)):
            response = await client.post("/simulator/api/send", json={"from": COORD, "text": "HJÄLP"},
                                         headers={"Host": f"127.0.0.1:{port}", "Origin": origin})
            assert response.status == status, origin
    finally:
        await client.close()


async def test_upgrading_keeps_an_existing_demo_simulated_and_nothing_else(db_url):
    """Before the flag, only `paminn demo-data` marked people simulated: an organisation whose people all are is
    the demo. One with a single simulated person (as tests did) is a real one."""
    from alembic import command
    from sqlalchemy import text

    from bot.db import alembic_config, make_engine, upgrade

    engine = make_engine(db_url)
    cfg = alembic_config()

    def to_0006(sync_conn):
        cfg.attributes["connection"] = sync_conn
        command.upgrade(cfg, "0006")

    try:
        async with engine.begin() as conn:
            await conn.run_sync(to_0006)
            for org, flags in (("demo", (True, True)), ("mixed", (True, False)), ("empty", ())):
                await conn.execute(text("INSERT INTO organisations (id, name, app_name, app_link, locale, round_seq) "
                                        "VALUES (:o, :o, 'C', 'https://c', 'sv', 0)"), {"o": org})
                for n, simulated in enumerate(flags):
                    await conn.execute(text(
                        "INSERT INTO staff (org_id, external_id, name, mobile_invalid, roles, reminders_enabled, "
                        "preferred_channel, simulated) VALUES (:o, :e, 'N', false, 'assistant', true, 'sms', :s)"),
                        {"o": org, "e": f"s{n}", "s": simulated})
        await upgrade(engine)
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT id, simulated FROM organisations ORDER BY id"))).all()
            staff = (await conn.execute(text("SELECT count(*) FROM staff"))).scalar()
    finally:
        await engine.dispose()
    assert [(org, bool(flag)) for org, flag in rows] == [("demo", True), ("empty", False), ("mixed", False)]
    assert staff == 4  # the column was added in place: no table rebuilt, nobody cascaded away
