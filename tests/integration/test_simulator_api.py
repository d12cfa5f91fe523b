"""The simulator's routes: off unless asked for; when on, texts travel as on a phone."""
from __future__ import annotations

import asyncio
import json

from tests.builders import ANNA, COORD, load, may_org, reminder


async def test_simulator_is_off_by_default(harness):
    assert (await harness.client.get("/")).status == 404
    assert (await harness.client.post("/simulator/api/send", json={"from": COORD, "text": "HJÄLP"})).status == 404
    assert (await harness.client.get("/simulator/api/events")).status == 404


async def test_simulated_people_get_messages_in_the_simulator_not_at_twilio(db_url, fake_twilio, clock):
    from sqlalchemy import update

    from core.models import Staff
    from tests.conftest import start_harness

    h = await start_harness(db_url, fake_twilio, clock, PAMINN_SIMULATOR="on")
    try:
        await load(h, may_org())
        async with h.services.sessions.begin() as session:
            await session.execute(update(Staff).where(Staff.mobile == ANNA).values(simulated=True))
        response = await h.client.post("/simulator/api/send", json={"from": COORD, "text": "PÅMINN ALLA maj"})
        assert response.status == 200
        await h.dispatch()
        # Anna is simulated: her reminder is on the page; the others went to Twilio.
        sim = await h.rows("SELECT address, body, status FROM outbox WHERE channel = 'simulator' ORDER BY id")
        assert (ANNA, reminder(), "delivered") in sim
        assert ANNA not in [m.to for m in h.fake.messages] and len(h.fake.messages) == 3
        # The coordinator typed in the simulator, so the reply went there too.
        assert any(a == COORD and b.startswith("4 påminnelser") for a, b, _ in sim)
        bad = await h.client.post("/simulator/api/send", json={"from": "nej", "text": "hej"})
        assert bad.status == 400 and "phone number" in (await bad.json())["error"]
        # The event stream replays what the page needs.
        async with h.client.get("/simulator/api/events") as stream:
            line = await asyncio.wait_for(stream.content.readline(), 5)
            event = json.loads(line.removeprefix(b"data: "))
            assert event["initial"] is True
            assert {"direction": "out", "address": ANNA, "body": reminder()}.items() <= event["messages"][0].items()
        status = await (await h.client.get("/simulator/api/status?month=2026-05")).json()
        ready = next(g for g in status["groups"] if g["reason"] == "reminded_recently")
        assert "Anna Andersson" in ready["names"]
        assert status["done"] == 1
    finally:
        await h.client.close()
