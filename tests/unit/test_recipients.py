"""Recipients by role for a customer reminder."""
from __future__ import annotations

from core.recipients import Recipient, StaffMember, resolve_recipients

CONTACTS = [{"name": "Sara", "email": "sara@kund.se", "mobile": "+46709876543"}, {"name": "Per", "email": None,
                                                                                  "mobile": "+46709876544"}]
STAFF = [StaffMember(1, "Ingrid", ("inspector",), "Norr", "ingrid@firma.se", None),
         StaffMember(2, "Sven", ("inspector",), "Söder", "sven@firma.se", None),
         StaffMember(3, "Adam", ("admin", "coordinator"), None, "adam@firma.se", "+46701110000"),
         StaffMember(4, "Anna", ("assistant",), "Norr", "anna@firma.se", None)]


def names(recipients: list[Recipient]) -> list[str]:
    return [r.name for r in recipients]


def test_each_role_names_its_people():
    assert names(resolve_recipients(["contacts"], CONTACTS, "Norr", STAFF)) == ["Sara", "Per"]
    assert names(resolve_recipients(["inspector"], CONTACTS, "norr", STAFF)) == ["Ingrid"]  # area, any case
    assert names(resolve_recipients(["admin"], CONTACTS, "Norr", STAFF)) == ["Adam"]
    assert names(resolve_recipients(["admin", "contacts", "inspector"], CONTACTS, "Norr", STAFF)) == [
        "Sara", "Per", "Ingrid", "Adam"]


def test_no_area_means_no_inspector_and_a_shared_address_is_one_recipient():
    assert resolve_recipients(["inspector"], CONTACTS, None, STAFF) == []
    twice = CONTACTS + [{"name": "Sara igen", "email": "SARA@kund.se", "mobile": "+46709876543"}]
    assert names(resolve_recipients(["contacts"], twice, None, STAFF)) == ["Sara", "Per"]
    assert resolve_recipients(["admin"], [], None, STAFF)[0] == Recipient("Adam", "adam@firma.se", "+46701110000", 3)
