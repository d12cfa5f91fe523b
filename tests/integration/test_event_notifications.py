"""Event notifications: a host system reports an event; templates tell static and dynamic recipients once."""
from __future__ import annotations

import pytest

from tests.builders import load, may_org, set_team_chat, team_messages
from tests.conftest import start_harness
from tests.mailbox import Mailbox

AUTH = {"Authorization": "Bearer key"}
EVENTS = "/api/v1/organisations/org1/events"


@pytest.fixture
async def h(db_url, fake_twilio, clock):
    box = await Mailbox().start()
    harness = await start_harness(db_url, fake_twilio, clock, SMTP_URL=f"smtp://127.0.0.1:{box.port}",
                                  PAMINN_API_KEY="key")
    harness.mailbox = box
    yield harness
    await harness.client.close()
    await box.close()


def event_doc() -> dict:
    doc = may_org()
    doc["staff"].append({"id": "q1", "name": "Kim Kvalitet", "roles": ["admin"], "email": "kim@norr.se"})
    doc["customers"] = [{"id": "k1", "name": "Solbackens vårdcentral", "contacts": [
        {"name": "Sara Svensson", "email": "sara@solbacken.se", "mobile": "070-987 65 43",
         "roles": ["notification_recipient"]},
        {"name": "Per Persson", "email": "per@solbacken.se"},  # no role: not told
        {"name": "Olle Ombud", "roles": ["notification_recipient"], "mobile": "070-555 12 34"}]}]
    doc["notification_templates"] = [
        {"id": "t1", "event_type": "work_shift", "title": "Nytt pass",
         "text": "Hej {{ mottagare }}! Nytt pass hos {{ kund }} kl {{ händelse.tid }}.", "delivery": "email",
         "recipients": {"staff": ["q1"], "contact_roles": ["notification_recipient"]}},
        {"id": "t2", "event_type": "work_shift", "title": "Pass", "text": "Pass kl {{ händelse.tid }}.",
         "delivery": "sms", "recipients": {"contact_roles": ["notification_recipient"]}},
    ]
    return doc


async def test_an_event_tells_each_templates_recipients_once(h):
    await load(h, event_doc())
    await set_team_chat(h)
    event = {"id": "e1", "type": "work_shift", "customer": "k1", "values": {"tid": "08:00"}}
    response = await h.client.post(EVENTS, json=event, headers=AUTH)
    assert response.status == 200, await response.text()
    answer = await response.json()
    assert (answer["queued"], answer["repeat"]) == (4, False)
    assert answer["unreached"] == ["Olle Ombud (ingen e-postadress)"]
    again = await (await h.client.post(EVENTS, json=event, headers=AUTH)).json()  # the host retries
    assert (again["repeat"], again["queued"]) == (True, 0)
    await h.dispatch()
    mails = sorted((m["To"], m["Subject"], m.get_content().strip()) for m in h.mailbox.messages)
    assert mails == [("kim@norr.se", "Nytt pass", "Hej Kim Kvalitet! Nytt pass hos Solbackens vårdcentral kl 08:00."),
                     ("sara@solbacken.se", "Nytt pass",
                      "Hej Sara Svensson! Nytt pass hos Solbackens vårdcentral kl 08:00.")]
    assert h.fake.to("+46709876543") == ["Pass kl 08:00."] and h.fake.to("+46705551234") == ["Pass kl 08:00."]
    assert "Händelsen e1 (work_shift) nådde inte alla: Olle Ombud (ingen e-postadress)." in await team_messages(h)
    report = await (await h.client.get(f"{EVENTS}/e1", headers=AUTH)).json()
    assert sorted((n["channel"], n["address"], n["status"]) for n in report["notifications"]) == [
        ("email", "kim@norr.se", "sent"), ("email", "sara@solbacken.se", "sent"),
        ("sms", "+46705551234", "sent"), ("sms", "+46709876543", "sent")]
    assert report["unreached"] == ["Olle Ombud (ingen e-postadress)"]
    metrics = await (await h.client.get("/metrics")).text()
    assert 'paminn_events_total{outcome="new"} 1.0' in metrics
    assert 'paminn_events_total{outcome="repeat"} 1.0' in metrics


async def test_a_bad_event_is_refused_whole_and_says_what_to_change(h):
    await load(h, event_doc())
    refused = await h.client.post(EVENTS, json={"id": "e2", "type": "work_shift", "customer": "k1", "values": {}},
                                  headers=AUTH)
    assert refused.status == 422
    assert (await refused.json())["problems"] == [
        "template 't1' uses a value the event lacks ('dict object' has no attribute 'tid'); send it under 'values'"]
    unknown = await h.client.post(EVENTS, json={"id": "e3", "type": "order", "customer": "k9"}, headers=AUTH)
    assert (await unknown.json())["problems"] == [
        "there is no notification template for event type 'order'; import one under 'notification_templates'",
        "'customer' 'k9' is not stored; import the customer first"]
    assert (await h.client.post(EVENTS, data="{", headers=AUTH)).status == 400
    assert (await h.client.get(f"{EVENTS}/e2", headers=AUTH)).status == 404  # refused: nothing was stored
    assert await h.scalar("SELECT count(*) FROM outbox") == 0
    assert (await h.client.post(EVENTS, json={"id": "e4", "type": "work_shift"})).status == 401
