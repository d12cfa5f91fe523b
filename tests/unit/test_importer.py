import pytest

from core.importer import ImportError_, validate_import
from tests.builders import may_org


def problems(doc) -> list[str]:
    with pytest.raises(ImportError_) as exc:
        validate_import(doc)
    return exc.value.problems


def test_valid_document_normalises_mobiles_and_defaults():
    plan = validate_import(may_org())
    karin = plan.staff[0]
    assert karin["mobile"] == "+46701112233" and karin["roles"] == "coordinator"
    anna = plan.staff[2]
    assert anna["roles"] == "assistant" and anna["reminders_enabled"] is True
    assert plan.shifts[0]["start_at"].utcoffset().total_seconds() == 7200


def test_every_problem_names_record_and_field():
    doc = may_org()
    doc["staff"][2]["mobile"] = "070-12"
    doc["staff"][3]["roles"] = ["chef"]
    doc["shifts"][0]["start"] = "igår"
    doc["shifts"][1]["staff"] = "nobody"
    doc["care_recipients"][0]["reminders_enabled"] = "ja"
    doc["reminder_history"][0]["month"] = "maj"
    found = problems(doc)
    assert "staff[2] (id 'a1'): 'mobile' '070-12' is not a valid phone number; write it like '070-123 45 67' or " \
           "'+46701234567'" in found
    assert any(p.startswith("staff[3] (id 'a2'): 'roles' has unknown ['chef']") for p in found)
    assert any(p.startswith("shifts[0] (id 's1'): 'start' 'igår' is not an ISO 8601 time") for p in found)
    assert "shifts[1] (id 's2'): 'staff' 'nobody' is neither in the file nor stored" in found
    assert "care_recipients[0] (id 'r1'): 'reminders_enabled' must be true or false, not 'ja'" in found
    assert "reminder_history[0]: 'month' 'maj' must look like '2026-05'" in found
    assert len(found) == 6


def test_structure_errors():
    assert problems([]) == ["the file must be a JSON object with 'organisation' and optional lists"]
    assert problems({"staff": []}) == ["'organisation' is missing: it needs at least 'id' and 'name'"]
    doc = may_org(timezone="Mars/Olympus", quiet_hours="late")
    found = problems(doc)
    assert any("'timezone' 'Mars/Olympus'" in p for p in found)
    assert any("quiet hours 'late' must look like '21:00-08:00'" in p for p in found)
    doc = may_org()
    doc["staff"].append(dict(doc["staff"][2]))
    assert "staff[12] (id 'a1'): 'id' 'a1' appears twice" in problems(doc)


def test_a_list_or_object_where_an_id_belongs_is_a_problem_not_a_crash():  # found by schemathesis
    doc = may_org()
    doc["shifts"][0]["staff"] = ["a1"]
    doc["care_recipients"][0]["supervisors"] = [{"id": "l1"}]
    doc["reminder_history"][0]["staff"] = {"id": "a6"}
    doc["customers"] = [{"id": "k1", "name": "Kund"}]
    doc["visits"] = [{"id": "v1", "staff": ["a1"], "customer": {"id": "k1"}, "start": "2026-06-01T08:00:00+02:00",
                      "end": "2026-06-01T09:00:00+02:00"}]
    doc["customer_reminders"] = [{"id": "cr1", "customer": ["k1"], "title": "T", "text": "T", "due": "2026-07-01"}]
    doc["notification_templates"] = [{"id": "t1", "event_type": "e", "title": "T", "text": "T",
                                      "recipients": {"staff": [{"id": "a1"}]}}]
    found = problems(doc)
    assert "shifts[0] (id 's1'): 'staff' ['a1'] is neither in the file nor stored" in found
    assert any(p.startswith("care_recipients[0] (id 'r1'): 'supervisors' names staff {'id': 'l1'}") for p in found)
    assert any(p.startswith("visits[0] (id 'v1'): 'customer' {'id': 'k1'}") for p in found)
    assert len(found) == 7, found
@pytest.mark.parametrize("change, problem", [
    (lambda d: d.update(care_recipient=d["care_recipients"]),
     "the file: unknown field 'care_recipient' — did you mean 'care_recipients'?"),
    (lambda d: d["organisation"].update(app_namn="X"),
     "organisation: unknown field 'app_namn' — did you mean 'app_name'?"),
    (lambda d: d["staff"][8].update(mobil=d["staff"][8].pop("mobile")),
     "staff[8] (id 'a7'): unknown field 'mobil' — did you mean 'mobile'?"),
    (lambda d: d["staff"][2].update(reminder_enabled=False),
     "staff[2] (id 'a1'): unknown field 'reminder_enabled' — did you mean 'reminders_enabled'?"),
    (lambda d: d["care_recipients"][0].update(Supervisors=["l1"]),
     "care_recipients[0] (id 'r1'): unknown field 'Supervisors' — did you mean 'supervisors'?"),
    (lambda d: d["shifts"][1].update(repoted=True),
     "shifts[1] (id 's2'): unknown field 'repoted' — did you mean 'reported'?"),
    (lambda d: d["reminder_history"][1].update(moth="2026-05"),
     "reminder_history[1]: unknown field 'moth' — did you mean 'month'?"),
    (lambda d: d["staff"][0].update(colour="blå"),
     "staff[0] (id 'c1'): unknown field 'colour' — the fields here are area, email, id, mobile, name, "
     "personal_number, reminders_enabled, roles, sd_number, telegram_user_id"),
    (lambda d: d.update(customers=[{"id": "k1", "name": "K", "contacts": [{"name": "S", "e_mail": "s@k.se"}]}]),
     "customers[0] (id 'k1') contacts[0]: unknown field 'e_mail' — did you mean 'email'?"),
    (lambda d: d.update(customers=[{"id": "k1", "name": "K", "decision": {"from": "2026-01-01", "tom": None}}]),
     "customers[0] (id 'k1') decision: unknown field 'tom' — did you mean 'to'?"),
    (lambda d: d.update(customers=[{"id": "k1", "name": "K", "contact": []}]),
     "customers[0] (id 'k1'): unknown field 'contact' — did you mean 'contacts'?"),
    (lambda d: d.update(customers=[{"id": "k1", "name": "K"}], customer_reminders=[
        {"id": "cr1", "customer": "k1", "title": "T", "text": "x", "due": "2026-07-01", "recipient": ["admin"]}]),
     "customer_reminders[0] (id 'cr1'): unknown field 'recipient' — did you mean 'recipients'?"),
    (lambda d: d.update(customers=[{"id": "k1", "name": "K"}], customer_reminders=[
        {"id": "cr1", "customer": "k1", "title": "T", "text": "x", "due": "2026-07-01",
         "recurrence": {"every": "week", "weekdys": ["mo"]}}]),
     "customer_reminders[0] (id 'cr1'): 'recurrence' has unknown keys ['weekdys'] — did you mean 'weekdays'?"),
    (lambda d: d.update(customers=[{"id": "k1", "name": "K"}], visits=[
        {"id": "v1", "staff": "a1", "customer": "k1", "start": "2026-06-01T08:00:00+02:00",
         "end": "2026-06-01T09:00:00+02:00", "confimed": True}]),
     "visits[0] (id 'v1'): unknown field 'confimed' — did you mean 'confirmed'?"),
    (lambda d: d.update(notification_templates=[
        {"id": "t1", "event_type": "e", "title": "T", "text": "x",
         "recipients": {"staf": ["c1"], "contact_roles": ["notification_recipient"]}}]),
     "notification_templates[0] (id 't1') recipients: unknown field 'staf' — did you mean 'staff'?"),
    (lambda d: d.update(notification_templates=[
        {"id": "t1", "event_type": "e", "title": "T", "text": "x", "deliver": "sms", "recipients": {"staff": ["c1"]}}]),
     "notification_templates[0] (id 't1'): unknown field 'deliver' — did you mean 'delivery'?"),
    (lambda d: d.update(shifts_window={"from": "2026-05-01", "to": "2026-05-31", "form": "x"}),
     "shifts_window: unknown field 'form' — did you mean 'from'?"),
])
def test_unknown_field_names_are_refused_with_the_nearest_known_one(change, problem):
    doc = may_org()
    change(doc)
    found = problems(doc)
    assert found == [problem]


def test_a_misspelt_organisation_key_is_named_with_the_missing_organisation():
    assert problems({"organization": {"id": "o", "name": "O"}}) == [
        "the file: unknown field 'organization' — did you mean 'organisation'?",
        "'organisation' is missing: it needs at least 'id' and 'name'"]


def test_complete_and_window_are_read_into_the_plan():
    from datetime import datetime, timezone

    doc = may_org()
    doc["complete"] = ["staff", "care_recipients"]
    doc["shifts_window"] = {"from": "2026-05-01", "to": "2026-05-31"}
    plan = validate_import(doc)
    assert plan.complete == {"staff", "care_recipients"}
    assert plan.shifts_window == (datetime(2026, 4, 30, 22, tzinfo=timezone.utc),
                                  datetime(2026, 5, 31, 22, tzinfo=timezone.utc))
    assert validate_import(may_org()).complete == frozenset() and validate_import(may_org()).shifts_window is None


@pytest.mark.parametrize("extra, problem", [
    ({"complete": "staff"}, "'complete' must be a list of list names like \"complete\": [\"staff\", \"shifts\"]"),
    ({"complete": ["staf"]}, "'complete' names 'staf', which is not a list that can be complete — did you mean "
                             "'staff'?"),
    ({"complete": ["customers"]}, "'complete' names 'customers', but the file has no 'customers' list; send "
                                  "\"customers\": [] if the organisation really has none left"),
    ({"complete": ["shifts"], "shifts_window": {"from": "2026-05-01", "to": "2026-05-31"}},
     "'complete' names 'shifts' and there is a 'shifts_window': send one or the other"),
    ({"shifts_window": {"from": "2026-06-01", "to": "2026-05-31"}}, "'shifts_window': 'to' is before 'from'"),
    ({"shifts_window": {"from": "maj"}}, "'shifts_window' needs 'from' and 'to' as dates, like "
                                         "{\"from\": \"2026-05-01\", \"to\": \"2026-05-31\"}"),
    ({"shifts_window": "maj"},
     "'shifts_window' must be an object like {\"from\": \"2026-05-01\", \"to\": \"2026-05-31\"}"),
])
def test_complete_and_window_say_what_to_change(extra, problem):
    doc = may_org()
    doc.update(extra)
    assert problems(doc) == [problem]


def test_a_window_needs_the_shifts_list():
    doc = may_org()
    del doc["shifts"]
    doc["shifts_window"] = {"from": "2026-05-01", "to": "2026-05-31"}
    assert "'shifts_window' is given, but the file has no 'shifts' list; send \"shifts\": [] if the window " \
           "really has no shifts left" in problems(doc)


def test_national_numbers_are_read_in_the_organisations_country():
    doc = {"organisation": {"id": "dk", "name": "Hjemmepleje ApS", "timezone": "Europe/Copenhagen", "locale": "da"},
           "staff": [{"id": "a1", "name": "Mette", "mobile": "20 12 34 56"}],
           "customers": [{"id": "k1", "name": "Borger", "contacts": [{"name": "Søn", "mobile": "20 12 34 57"}]}]}
    plan = validate_import(doc)
    assert plan.staff[0]["mobile"] == "+4520123456"
    assert plan.customers[0]["contacts"][0]["mobile"] == "+4520123457"
    swedish = may_org()
    swedish["staff"][2]["mobile"] = "070-123 45 67"
    assert validate_import(swedish).staff[2]["mobile"] == "+46701234567"
