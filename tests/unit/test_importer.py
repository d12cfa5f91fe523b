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
