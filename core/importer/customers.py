"""Customers and their contacts, visits, customer reminders and notification templates."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from zoneinfo import ZoneInfo

from core.fieldnames import unknown_fields
from core.importer.fields import (
    CONTACT_FIELDS,
    CONTACT_ROLES,
    DECISION_FIELDS,
    DELIVERIES,
    EMAIL,
    LATER_DELIVERIES,
    RECIPIENT_ROLES,
    TEMPLATE_RECIPIENT_FIELDS,
    ImportPlan,
    day_of,
    field_flag,
    field_moment,
    field_text,
    known,
    records,
    region_of,
)
from core.phones import InvalidPhoneNumber, to_e164
from core.recurrence import parse_recurrence
from core.templates import MAX_TEMPLATE, NAMES, template_problems


def _contact(rec: object, where: str, problems: list[str], region: str) -> dict | None:
    if not isinstance(rec, dict):
        problems.append(f"{where}: must be an object with 'name' and 'email' and/or 'mobile'")
        return None
    problems += unknown_fields(rec, CONTACT_FIELDS, where)
    name = field_text(rec, "name", where, problems)
    email = field_text(rec, "email", where, problems, required=False)
    if email is not None and not EMAIL.fullmatch(email):
        problems.append(f"{where}: 'email' {email!r} is not an e-mail address like sara@example.se")
        email = None
    mobile = None
    if rec.get("mobile") not in (None, ""):
        try:
            mobile = to_e164(rec["mobile"], region) if isinstance(rec["mobile"], str) else None
        except InvalidPhoneNumber:
            pass
        if mobile is None:
            problems.append(f"{where}: 'mobile' must be a phone number like '070-123 45 67'")
    if email is None and mobile is None and not any(p.startswith(where) for p in problems):
        problems.append(f"{where}: a contact needs an 'email' or a 'mobile' to be reached")
    roles = rec.get("roles", [])
    if not isinstance(roles, list) or not all(r in CONTACT_ROLES for r in roles):
        problems.append(f"{where}: 'roles' must be a list of {', '.join(CONTACT_ROLES)}")
        roles = []
    contact = {"name": name, "email": email, "mobile": mobile}
    if roles:
        contact["roles"] = sorted(set(roles))
    return contact


def customers(doc: dict, plan: ImportPlan, problems: list[str]) -> set[str]:
    ids: set[str] = set()
    region = region_of(plan)
    for where, rec, cid in records(doc, "customers", problems, ids):
        contacts_in = rec.get("contacts") or []
        if not isinstance(contacts_in, list):
            problems.append(f"{where}: 'contacts' must be a list")
            contacts_in = []
        contacts = [_contact(c, f"{where} contacts[{n}]", problems, region) for n, c in enumerate(contacts_in)]
        decision_from, decision_to = _decision(rec.get("decision"), where, problems)
        plan.customers.append({
            "external_id": cid, "name": field_text(rec, "name", where, problems),
            "area": field_text(rec, "area", where, problems, required=False, max_len=100),
            "contacts": [c for c in contacts if c is not None],
            "decision_from": decision_from, "decision_to": decision_to,
        })
    return ids


def _decision(value: object, where: str, problems: list[str]) -> tuple[date | None, date | None]:
    """``{"from": "2026-01-01", "to": "2026-12-31"}`` (``to`` may be null: open-ended); null: none."""
    if value is None:
        return None, None
    if isinstance(value, dict):
        problems += unknown_fields(value, DECISION_FIELDS, f"{where} decision")
    start = day_of(value.get("from")) if isinstance(value, dict) else None
    end = day_of(value.get("to")) if isinstance(value, dict) and value.get("to") is not None else None
    if start is None or (isinstance(value, dict) and value.get("to") is not None and end is None):
        problems.append(f"{where}: 'decision' must look like {{\"from\": \"2026-01-01\", \"to\": \"2026-12-31\"}} "
                        "('to' may be null) or be null")
        return None, None
    if end is not None and end < start:
        problems.append(f"{where}: 'decision' ends before it starts")
    return start, end


def visits(doc: dict, plan: ImportPlan, all_staff: set[str], all_customers: set[str], tz: ZoneInfo,
            problems: list[str]) -> None:
    for where, rec, vid in records(doc, "visits", problems, set()):
        if not known(rec.get("staff"), all_staff):
            problems.append(f"{where}: 'staff' {rec.get('staff')!r} is neither in the file nor stored")
        if not known(rec.get("customer"), all_customers):
            problems.append(f"{where}: 'customer' {rec.get('customer')!r} is neither in the file nor stored")
        start = field_moment(rec, "start", where, tz, problems)
        end = field_moment(rec, "end", where, tz, problems)
        if start and end and end < start:
            problems.append(f"{where}: 'end' is before 'start'")
        plan.visits.append({"external_id": vid, "staff": rec.get("staff"), "customer": rec.get("customer"),
                            "start_at": start, "end_at": end,
                            "confirmed": field_flag(rec, "confirmed", where, problems)})


TEMPLATE_LISTS = {"customer_reminders": "reminder", "notification_templates": "event"}


def template_texts(doc: object) -> list[tuple[str, str]]:
    """Every distinct (text, kind) the document's templates hold, as validation will read them:
    what the template workers check before ``validate_import``."""
    found: dict[tuple[str, str], None] = {}
    for key, kind in TEMPLATE_LISTS.items():
        records = doc.get(key) if isinstance(doc, dict) else None
        for rec in records if isinstance(records, list) else []:
            text = rec.get("text") if isinstance(rec, dict) else None
            if isinstance(text, str) and text.strip() and len(text) <= MAX_TEMPLATE and "\x00" not in text:
                found[(text.strip(), kind)] = None
    return list(found)


def _template_problems(text: str | None, kind: str, checks: Mapping[tuple[str, str], list[str]] | None) -> list[str]:
    if not text:
        return []
    if checks is not None and (text, kind) in checks:
        return checks[(text, kind)]
    return template_problems(text, NAMES[kind])


def customer_reminders(doc: dict, plan: ImportPlan, all_customers: set[str], problems: list[str],
                        template_checks: Mapping[tuple[str, str], list[str]] | None = None) -> None:
    for where, rec, rid in records(doc, "customer_reminders", problems, set()):
        if not known(rec.get("customer"), all_customers):
            problems.append(f"{where}: 'customer' {rec.get('customer')!r} is neither in the file nor stored")
        text = field_text(rec, "text", where, problems, max_len=MAX_TEMPLATE)
        for problem in _template_problems(text, "reminder", template_checks):
            problems.append(f"{where}: 'text' {problem}")
        first_due = None
        try:
            due = rec.get("due")
            first_due = date.fromisoformat(due) if isinstance(due, str) else None
        except ValueError:
            pass
        if first_due is None:
            problems.append(f"{where}: 'due' must be a date like 2026-07-01")
        days_before = rec.get("days_before", 0)
        if isinstance(days_before, bool) or not isinstance(days_before, int) or not 0 <= days_before <= 366:
            problems.append(f"{where}: 'days_before' must be a whole number of days from 0 to 366")
            days_before = 0
        delivery = rec.get("delivery", "email")
        if delivery in LATER_DELIVERIES:
            problems.append(f"{where}: 'delivery' {delivery!r} is not supported yet; use email, sms or both")
        elif delivery not in DELIVERIES:
            problems.append(f"{where}: 'delivery' must be one of {', '.join(DELIVERIES)}, not {delivery!r}")
        recipients = rec.get("recipients", ["contacts"])
        if (not isinstance(recipients, list) or not recipients
                or not all(isinstance(r, str) and r in RECIPIENT_ROLES for r in recipients)):
            problems.append(f"{where}: 'recipients' must be a list of {', '.join(RECIPIENT_ROLES)}")
            recipients = []
        rule = parse_recurrence(rec.get("recurrence"), where, problems)
        plan.customer_reminders.append({
            "external_id": rid, "customer": rec.get("customer"),
            "type": field_text(rec, "type", where, problems, required=False, max_len=100) or "Påminnelse",
            "title": field_text(rec, "title", where, problems), "text": text, "first_due": first_due,
            "days_before": days_before, "recurrence": rule.to_json() if rule else None, "delivery": delivery,
            "recipients": sorted(set(recipients)), "active": field_flag(rec, "active", where, problems),
        })


def notification_templates(doc: dict, plan: ImportPlan, all_staff: set[str], problems: list[str],
                            template_checks: Mapping[tuple[str, str], list[str]] | None = None) -> None:
    for where, rec, tid in records(doc, "notification_templates", problems, set()):
        event_type = field_text(rec, "event_type", where, problems, max_len=64)
        text = field_text(rec, "text", where, problems, max_len=MAX_TEMPLATE)
        for problem in _template_problems(text, "event", template_checks):
            problems.append(f"{where}: 'text' {problem}")
        delivery = rec.get("delivery", "email")
        if delivery not in DELIVERIES:
            problems.append(f"{where}: 'delivery' must be one of {', '.join(DELIVERIES)}, not {delivery!r}")
        recipients = rec.get("recipients") or {}
        if isinstance(recipients, dict):
            problems += unknown_fields(recipients, TEMPLATE_RECIPIENT_FIELDS, f"{where} recipients")
        staff = recipients.get("staff", []) if isinstance(recipients, dict) else None
        roles = recipients.get("contact_roles", []) if isinstance(recipients, dict) else None
        if not isinstance(staff, list) or not isinstance(roles, list) or not (staff or roles):
            problems.append(f"{where}: 'recipients' must name 'staff' (ids) and/or 'contact_roles', e.g. "
                            '{"staff": ["c1"], "contact_roles": ["notification_recipient"]}')
            staff, roles = [], []
        for sid in staff:
            if not known(sid, all_staff):
                problems.append(f"{where}: 'recipients.staff' names {sid!r}, who is neither in the file nor stored")
        if not all(r in CONTACT_ROLES for r in roles):
            problems.append(f"{where}: 'recipients.contact_roles' must be a list of {', '.join(CONTACT_ROLES)}")
        plan.notification_templates.append({
            "external_id": tid, "event_type": event_type, "title": field_text(rec, "title", where, problems),
            "text": text, "delivery": delivery, "staff_recipients": sorted(set(map(str, staff))),
            "contact_roles": sorted(set(map(str, roles))),
        })
