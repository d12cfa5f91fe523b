"""What a host system no longer has: misspelt field names refused, complete lists and a shifts window that
remove or deactivate, reactivation, and DELETE routes that stop what has not been sent yet."""
from __future__ import annotations

import json

import pytest

from bot.app import queue_customer_reminders
from core.importer import ImportError_
from tests.builders import ANNA, COORD, FIA, GUSTAV, IVAR, JONNA, load, may_org, reminder
from tests.conftest import start_harness
from tests.integration.test_import import run_cli, table_counts

AUTH = {"Authorization": "Bearer key"}
ORG = "/api/v1/organisations/org1"
SARA = "+46709876543"


@pytest.fixture
async def h(db_url, fake_twilio, clock):
    harness = await start_harness(db_url, fake_twilio, clock, PAMINN_API_KEY="key")
    yield harness
    await harness.client.close()


def misspelt() -> tuple[dict, list[str]]:
    """A document with one misspelt name at every level, and the problem each must give."""
    doc = customer_doc()
    doc["care_recipient"] = doc.pop("care_recipients")  # a top-level list under a wrong name
    doc["care_recipients"] = doc["care_recipient"]  # (kept too, so the shifts still resolve)
    doc["organisation"]["time_zone"] = doc["organisation"].pop("timezone")
    doc["staff"][8]["mobil"] = doc["staff"][8].pop("mobile")
    doc["staff"][2]["reminder_enabled"] = False
    doc["shifts"][0]["sigend"] = True
    doc["reminder_history"][0]["sentat"] = doc["reminder_history"][0]["sent_at"]
    doc["customers"][0]["contacts"][0]["mobil"] = "070-987 65 43"
    doc["customers"][0]["decision"] = {"from": "2026-01-01", "untill": None}
    doc["customer_reminders"][0]["recurrence"] = {"every": "month", "cuont": 3}
    doc["customer_reminders"][0]["days_befor"] = 3
    doc["visits"][0]["confirmd"] = True
    doc["notification_templates"][0]["recipients"]["contact_role"] = ["notification_recipient"]
    doc["shifts_window"] = {"from": "2026-05-01", "til": "2026-05-31"}
    expected = [
        "the file: unknown field 'care_recipient' — did you mean 'care_recipients'?",
        "organisation: unknown field 'time_zone' — did you mean 'timezone'?",
        "shifts_window: unknown field 'til' — the fields here are from, to",
        "'shifts_window' needs 'from' and 'to' as dates, like {\"from\": \"2026-05-01\", \"to\": \"2026-05-31\"}",
        "staff[2] (id 'a1'): unknown field 'reminder_enabled' — did you mean 'reminders_enabled'?",
        "staff[8] (id 'a7'): unknown field 'mobil' — did you mean 'mobile'?",
        "shifts[0] (id 's1'): unknown field 'sigend' — did you mean 'signed'?",
        "reminder_history[0]: unknown field 'sentat' — did you mean 'sent_at'?",
        "customers[0] (id 'k1') contacts[0]: unknown field 'mobil' — did you mean 'mobile'?",
        "customers[0] (id 'k1') decision: unknown field 'untill' — the fields here are from, to",
        "customer_reminders[0] (id 'cr1'): unknown field 'days_befor' — did you mean 'days_before'?",
        "customer_reminders[0] (id 'cr1'): 'recurrence' has unknown keys ['cuont'] — did you mean 'count'?",
        "visits[0] (id 'v1'): unknown field 'confirmd' — did you mean 'confirmed'?",
        "notification_templates[0] (id 't1') recipients: unknown field 'contact_role' — "
        "did you mean 'contact_roles'?",
    ]
    return doc, expected


def customer_doc() -> dict:
    doc = may_org()
    doc["customers"] = [{"id": "k1", "name": "Solbackens vårdcentral", "decision": {"from": "2026-01-01"},
                         "contacts": [{"name": "Sara Svensson", "mobile": "070-987 65 43",
                                       "roles": ["notification_recipient"]}]}]
    doc["customer_reminders"] = [{"id": "cr1", "customer": "k1", "title": "Kontroll",
                                  "text": "Kontroll hos {{ kund }}.",
                                  "due": "2026-06-02", "recurrence": {"every": "month"}, "delivery": "sms"}]
    doc["notification_templates"] = [{"id": "t1", "event_type": "work_shift", "title": "Pass",
                                      "text": "Pass kl {{ händelse.tid }}.", "delivery": "sms",
                                      "recipients": {"contact_roles": ["notification_recipient"]}}]
    doc["visits"] = [{"id": "v1", "staff": "a1", "customer": "k1", "start": "2026-06-01T08:00:00+02:00",
                      "end": "2026-06-01T09:00:00+02:00"}]
    return doc


async def test_misspelt_names_at_every_level_are_refused_by_the_cli_with_the_nearest_name(h, db_url, tmp_path):
    doc, expected = misspelt()
    path = tmp_path / "misspelt.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    result = run_cli(db_url, "import", str(path))
    assert result.returncode == 1
    assert "was refused; nothing was written" in result.stderr
    for problem in expected:
        assert f"  - {problem}\n" in result.stderr
    assert set((await table_counts(h)).values()) == {0}
    assert await h.scalar("SELECT count(*) FROM customers") == 0


async def test_misspelt_names_are_refused_by_the_api_whole(h):
    doc, expected = misspelt()
    response = await h.client.post("/api/v1/import", json=doc, headers=AUTH)
    assert response.status == 422
    body = await response.json()
    assert body["error"] == "the import was refused; nothing was written"
    assert sorted(body["problems"]) == sorted(expected)
    assert set((await table_counts(h)).values()) == {0}
    # Stored data is protected the same way: a misspelt re-import leaves the mobile where it was.
    await load(h, may_org())
    again = may_org()
    again["staff"][8]["mobil"] = again["staff"][8].pop("mobile")
    with pytest.raises(ImportError_):
        await load(h, again)
    assert await h.scalar("SELECT mobile FROM staff WHERE external_id = 'a7'") == GUSTAV


async def test_a_shift_the_complete_list_lacks_is_removed_and_no_longer_reminded(h):
    await load(h, may_org())
    doc = may_org()
    doc["complete"] = ["shifts"]
    doc["shifts"] = [s for s in doc["shifts"] if s["id"] != "s1"]  # Anna's shift was cancelled in the host
    counts = await load(h, doc)
    assert counts["shifts"] == {"created": 0, "updated": 0, "unchanged": 10, "removed": 1}
    assert await h.scalar("SELECT count(*) FROM shifts WHERE external_id = 's1'") == 0
    replies = await h.sms(COORD, "PÅMINN ALLA maj")
    assert replies[0].startswith("3 påminnelser för maj 2026 skickade")
    await h.dispatch()
    assert h.fake.to(ANNA) == []
    assert {m.to for m in h.fake.messages} == {GUSTAV, IVAR, JONNA}
    assert (await load(h, doc))["shifts"]["removed"] == 0  # the same file again changes nothing


async def test_a_shifts_window_removes_only_what_the_window_lacks(h):
    await load(h, may_org())
    doc = may_org()
    doc["shifts_window"] = {"from": "2026-05-01", "to": "2026-05-31"}
    # s8 starts 1 June (outside); s9 at 23:30 on 31 May (inside, Stockholm time) is dropped with s1.
    doc["shifts"] = [s for s in doc["shifts"] if s["id"] not in ("s1", "s8", "s9")]
    counts = await load(h, doc)
    assert counts["shifts"] == {"created": 0, "updated": 0, "unchanged": 8, "removed": 2}
    left = {r[0] for r in await h.rows("SELECT external_id FROM shifts")}
    assert "s8" in left and not {"s1", "s9"} & left
    replies = await h.sms(COORD, "PÅMINN ALLA maj")
    assert replies[0].startswith("2 påminnelser för maj 2026 skickade")
    await h.dispatch()
    assert {m.to for m in h.fake.messages} == {GUSTAV, JONNA}


async def test_a_deactivated_assistant_is_not_reminded_stays_in_history_and_comes_back(h):
    await load(h, may_org())
    await h.sms(COORD, "PÅMINN ALLA maj")  # Gustav's reminder is queued, not yet sent
    doc = may_org()
    doc["complete"] = ["staff"]
    doc["staff"] = [s for s in doc["staff"] if s["id"] != "a7"]  # Gustav has left
    counts = await load(h, doc)
    assert counts["staff"] == {"created": 0, "updated": 0, "unchanged": 11, "deactivated": 1, "reactivated": 0}
    await h.dispatch()
    assert h.fake.to(GUSTAV) == []  # what was queued for him was cancelled
    assert {m.to for m in h.fake.messages} == {ANNA, IVAR, JONNA}
    assert await h.scalar("SELECT count(*) FROM outbox WHERE status = 'cancelled'") == 1
    # Kept for history: his row, his shifts and the round's history row stay.
    gustav = await h.scalar("SELECT id FROM staff WHERE external_id = 'a7'")
    assert await h.scalar("SELECT count(*) FROM reminder_history WHERE staff_id = :s", s=gustav) == 1
    assert await h.scalar("SELECT count(*) FROM shifts WHERE staff_id = :s", s=gustav) == 2
    h.clock.advance(hours=3)
    replies = await h.sms(COORD, "PÅMINN ALLA maj")
    assert replies[0].startswith("4 påminnelser")  # Anna, Ivar, Jonna again, and Fia; not Gustav
    assert await h.sms(COORD, "PÅMINN Gustav Grön maj") == [
        "Gustav Grön finns inte längre i personallistan (avslutad i verksamhetssystemet). Ingen påminnelse skickad."]
    assert await h.sms(COORD, f"PÅMINN {GUSTAV} maj") == [
        "Gustav Grön finns inte längre i personallistan (avslutad i verksamhetssystemet). Ingen påminnelse skickad."]
    status = (await h.sms(COORD, "STATUS maj ALLA"))[0]
    assert "Gustav" not in status
    await h.dispatch()
    assert h.fake.to(GUSTAV) == []
    # Listed again: active again.
    counts = await load(h, may_org())
    assert counts["staff"] == {"created": 0, "updated": 1, "unchanged": 11, "reactivated": 1}
    assert (await h.sms(COORD, "PÅMINN Gustav Grön maj"))[0].startswith("Påminnelse för maj 2026 skickad till Gustav")
    await h.dispatch()
    assert h.fake.to(GUSTAV) == [reminder()]


async def test_a_deactivated_care_recipients_shifts_cause_no_reminders(h):
    await load(h, may_org())
    doc = may_org()
    doc["complete"] = ["care_recipients"]
    doc["care_recipients"] = [r for r in doc["care_recipients"] if r["id"] != "r3"]  # Ivar's and Jonna's
    doc["shifts"] = [s for s in doc["shifts"] if s["care_recipient"] != "r3"]
    counts = await load(h, doc)
    assert counts["care_recipients"]["deactivated"] == 1
    replies = await h.sms(COORD, "PÅMINN ALLA maj")
    assert replies[0].startswith("2 påminnelser för maj 2026 skickade")
    await h.dispatch()
    assert {m.to for m in h.fake.messages} == {ANNA, GUSTAV}
    assert await h.scalar("SELECT count(*) FROM care_recipients WHERE external_id = 'r3'") == 1


async def test_a_deactivated_customer_gets_no_reminders_or_notifications_until_it_is_back(h):
    await load(h, customer_doc())
    doc = customer_doc()
    doc["complete"] = ["customers"]
    doc["customers"], doc["customer_reminders"], doc["visits"] = [], [], []
    counts = await load(h, doc)
    assert counts["customers"] == {"created": 0, "updated": 0, "unchanged": 0, "deactivated": 1, "reactivated": 0}
    assert (await queue_customer_reminders(h.services)).reminders == 0
    event = {"id": "e1", "type": "work_shift", "customer": "k1", "values": {"tid": "08:00"}}
    answer = await (await h.client.post(f"{ORG}/events", json=event, headers=AUTH)).json()
    assert answer["queued"] == 0
    assert answer["unreached"][0] == "mall t1: kunden Solbackens vårdcentral är avslutad, dess kontakter fick inget"
    await h.dispatch()
    assert h.fake.to(SARA) == []
    assert (await load(h, customer_doc()))["customers"]["reactivated"] == 1
    assert (await queue_customer_reminders(h.services)).reminders == 1
    await h.dispatch()
    assert h.fake.to(SARA) == ["Kontroll hos Solbackens vårdcentral."]


async def test_complete_lists_of_reminders_templates_and_visits_remove_and_cancel(h):
    await load(h, customer_doc())
    await queue_customer_reminders(h.services)  # cr1's SMS waits in the outbox
    await h.client.post(f"{ORG}/events", json={"id": "e1", "type": "work_shift", "customer": "k1",
                                               "values": {"tid": "08:00"}}, headers=AUTH)
    doc = customer_doc()
    doc["complete"] = ["customer_reminders", "notification_templates", "visits"]
    doc["customer_reminders"], doc["notification_templates"], doc["visits"] = [], [], []
    counts = await load(h, doc)
    for kind in ("customer_reminders", "notification_templates", "visits"):
        assert counts[kind] == {"created": 0, "updated": 0, "unchanged": 0, "removed": 1}, kind
    assert counts["customers"] == {"created": 0, "updated": 0, "unchanged": 1}
    await h.dispatch()
    assert h.fake.to(SARA) == []
    assert await h.scalar("SELECT count(*) FROM outbox WHERE status = 'cancelled'") == 2
    for table in ("customer_reminders", "notification_templates", "visits"):
        assert await h.scalar(f"SELECT count(*) FROM {table}") == 0


async def test_delete_routes_stop_pending_sends_and_answer_404_for_unknown_ids(h):
    await load(h, customer_doc())
    other = customer_doc()  # another organisation with the same host ids is not touched
    other["organisation"] = {"id": "org2", "name": "Annan AB"}
    await load(h, other)
    await queue_customer_reminders(h.services)
    await h.client.post(f"{ORG}/events", json={"id": "e1", "type": "work_shift", "customer": "k1",
                                               "values": {"tid": "08:00"}}, headers=AUTH)
    assert (await h.client.delete(f"{ORG}/customer-reminders/cr1")).status == 401
    response = await h.client.delete(f"{ORG}/customer-reminders/cr1", headers=AUTH)
    assert response.status == 200
    assert await response.json() == {"deleted": "cr1", "cancelled_messages": 1}
    response = await h.client.delete(f"{ORG}/notification-templates/t1", headers=AUTH)
    assert await response.json() == {"deleted": "t1", "cancelled_messages": 1}
    response = await h.client.delete(f"{ORG}/visits/v1", headers=AUTH)
    assert await response.json() == {"deleted": "v1", "cancelled_messages": 0}
    for path in ("customer-reminders/cr1", "notification-templates/t1", "visits/v1", "visits/nobody"):
        response = await h.client.delete(f"{ORG}/{path}", headers=AUTH)
        assert response.status == 404, path
        assert (await response.json())["error"].startswith("no ")
    assert (await h.client.delete("/api/v1/organisations/nobody/visits/v1", headers=AUTH)).status == 404
    await h.dispatch()
    # org1's contact number got nothing; org2's reminder (same number) went as usual.
    assert h.fake.to(SARA) == ["Kontroll hos Solbackens vårdcentral."]
    assert await h.scalar("SELECT count(*) FROM outbox WHERE status = 'cancelled' AND org_id = 'org1'") == 2
    report = await (await h.client.get(f"{ORG}/customer-reminders", headers=AUTH)).json()
    assert report["customer_reminders"] == []
    for table in ("customer_reminders", "notification_templates", "visits"):
        assert await h.scalar(f"SELECT count(*) FROM {table} WHERE org_id = 'org2'") == 1
    spec = await (await h.client.get("/api/v1/openapi.json")).json()
    for path, param in (("customer-reminders", "reminder"), ("notification-templates", "template"),
                        ("visits", "visit")):
        assert "delete" in spec["paths"][f"/api/v1/organisations/{{org}}/{path}/{{{param}}}"]


async def test_complete_names_only_lists_that_are_there(h):
    doc = may_org()
    doc["complete"] = ["staff", "visits", "reminder_history"]
    with pytest.raises(ImportError_) as refused:
        await load(h, doc)
    assert refused.value.problems == [
        "'complete' names 'visits', but the file has no 'visits' list; send \"visits\": [] if the organisation "
        "really has none left",
        "'complete' cannot name 'reminder_history': history is only ever added to"]
    assert await h.scalar("SELECT count(*) FROM staff") == 0


async def test_removed_and_deactivated_are_in_the_printed_and_returned_counts(h, db_url, tmp_path):
    await load(h, may_org())
    doc = may_org()
    doc["complete"] = ["staff"]
    doc["staff"] = [s for s in doc["staff"] if s["id"] not in ("a7", "a8")]
    path = tmp_path / "complete.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    result = run_cli(db_url, "import", str(path))
    assert result.returncode == 0, result.stderr
    assert "staff: 0 created, 0 updated, 10 unchanged, 2 deactivated, 0 reactivated\n" in result.stdout
    doc = may_org()
    doc["shifts_window"] = {"from": "2026-05-01", "to": "2026-05-31"}
    doc["shifts"] = doc["shifts"][1:]
    response = await h.client.post("/api/v1/import", json=doc, headers=AUTH)
    counts = (await response.json())["counts"]
    assert counts["shifts"] == {"created": 0, "updated": 0, "unchanged": 10, "removed": 1}
    assert counts["staff"] == {"created": 0, "updated": 2, "unchanged": 10, "reactivated": 2}


async def test_a_deactivated_template_recipient_is_not_told_and_the_event_says_so(h):
    doc = customer_doc()
    doc["staff"].append({"id": "q1", "name": "Kim Kvalitet", "roles": ["admin"], "mobile": "070-555 12 34"})
    doc["notification_templates"][0]["recipients"] = {"staff": ["q1", "c1"]}
    await load(h, doc)
    doc["complete"] = ["staff"]
    doc["staff"] = [s for s in doc["staff"] if s["id"] != "q1"]
    assert (await load(h, doc))["staff"]["deactivated"] == 1
    event = {"id": "e1", "type": "work_shift", "customer": "k1", "values": {"tid": "08:00"}}
    answer = await (await h.client.post(f"{ORG}/events", json=event, headers=AUTH)).json()
    assert (answer["queued"], answer["unreached"]) == (1, ["mall t1: personal q1 är avslutad"])
    await h.dispatch()
    assert h.fake.to("+46705551234") == [] and h.fake.to(COORD) == ["Pass kl 08:00."]
