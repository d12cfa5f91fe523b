"""Validating the import format (see CONTRACT.md) into plain records. Pure: nothing is written here.

Every problem names the record and the field, and all problems are gathered before the
file is refused, so one round of fixes is enough.
"""
from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TypeGuard
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.fieldnames import hint, unknown_fields
from core.months import Month
from core.phones import InvalidPhoneNumber, region_for, to_e164
from core.quiet import parse_quiet_hours
from core.recurrence import parse_recurrence
from core.retry import parse_duration
from core.templates import MAX_TEMPLATE, NAMES, template_problems

KNOWN_ROLES = {"assistant", "coordinator", "supervisor", "admin", "inspector"}
LOCALES = {"sv", "da", "nb", "en"}
DELIVERIES = ("email", "sms", "both")
LATER_DELIVERIES = ("system", "post", "external")  # in the design; not built yet, so refused clearly
RECIPIENT_ROLES = ("contacts", "inspector", "admin")
CONTACT_ROLES = ("notification_recipient",)
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")

# Every field name the format has, per level; any other name is refused (see core.fieldnames).
TOP_FIELDS = ("organisation", "staff", "care_recipients", "shifts", "reminder_history", "customers",
              "customer_reminders", "visits", "notification_templates", "complete", "shifts_window")
ORGANISATION_FIELDS = ("id", "name", "app_name", "app_link", "timezone", "locale", "quiet_hours",
                       "message_validity", "auto_rounds", "escalate_after")
AUTO_ROUND_FIELDS = ("day", "time")
MAX_AUTO_ROUNDS = 31  # slots per organisation: more is a mistake, not a schedule
DEFAULT_ESCALATE_AFTER = 3
RECORD_FIELDS = {
    "staff": ("id", "name", "mobile", "email", "roles", "reminders_enabled", "personal_number", "sd_number",
              "area", "telegram_user_id"),
    "care_recipients": ("id", "name", "reminders_enabled", "supervisors"),
    "shifts": ("id", "staff", "care_recipient", "start", "end", "reported", "signed"),
    "customers": ("id", "name", "area", "contacts", "decision"),
    "customer_reminders": ("id", "customer", "type", "title", "text", "due", "days_before", "recurrence",
                           "delivery", "recipients", "active"),
    "visits": ("id", "staff", "customer", "start", "end", "confirmed"),
    "notification_templates": ("id", "event_type", "title", "text", "delivery", "recipients"),
}
HISTORY_FIELDS = ("staff", "month", "sent_at")
CONTACT_FIELDS = ("name", "email", "mobile", "roles")
DECISION_FIELDS = ("from", "to")
TEMPLATE_RECIPIENT_FIELDS = ("staff", "contact_roles")
WINDOW_FIELDS = ("from", "to")
# Lists that may declare themselves complete, and what becomes of a stored record the list no longer
# has: people and customers are deactivated (kept for history, sent nothing); the rest is removed.
COMPLETABLE = {"staff": "deactivated", "care_recipients": "deactivated", "customers": "deactivated",
               "shifts": "removed", "visits": "removed", "customer_reminders": "removed",
               "notification_templates": "removed"}


class ImportError_(ValueError):
    """The file is refused; ``problems`` lists every record and field to fix."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass
class ImportPlan:
    organisation: dict
    staff: list[dict] = field(default_factory=list)
    care_recipients: list[dict] = field(default_factory=list)
    supervisions: list[tuple[str, str]] = field(default_factory=list)  # (recipient ext id, staff ext id)
    shifts: list[dict] = field(default_factory=list)
    history: list[dict] = field(default_factory=list)
    customers: list[dict] = field(default_factory=list)
    customer_reminders: list[dict] = field(default_factory=list)
    visits: list[dict] = field(default_factory=list)
    notification_templates: list[dict] = field(default_factory=list)
    timezone: str = "Europe/Stockholm"  # the organisation's, or the service's default
    # The lists that are the organisation's whole set: stored records they lack are retired.
    complete: frozenset[str] = frozenset()
    # [from, to) in UTC: stored shifts starting in it that the file lacks are removed.
    shifts_window: tuple[datetime, datetime] | None = None


def _auto_rounds(org_in: dict, quiet_hours: str | None, problems: list[str]) -> list[dict] | None:
    """``"auto_rounds": [{"day": 1, "time": "09:00"}]``: day 1–28, or -1 for the month's last day;
    a local time outside the organisation's quiet hours. Stored sorted, as ``{"day", "time"}``."""
    value = org_in.get("auto_rounds")
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > MAX_AUTO_ROUNDS:
        problems.append(f"organisation: 'auto_rounds' must be a list of at most {MAX_AUTO_ROUNDS} slots like "
                        '[{"day": 1, "time": "09:00"}]')
        return None
    try:
        quiet = parse_quiet_hours(quiet_hours)
    except ValueError:
        quiet = None  # already reported as the organisation's quiet hours problem
    slots: set[tuple[int, str]] = set()
    for i, slot in enumerate(value):
        where = f"organisation: auto_rounds[{i}]"
        if not isinstance(slot, dict):
            problems.append(f'{where} must be an object like {{"day": 1, "time": "09:00"}}')
            continue
        problems += unknown_fields(slot, AUTO_ROUND_FIELDS, where)
        day, at = slot.get("day"), slot.get("time")
        if isinstance(day, bool) or not isinstance(day, int) or not (1 <= day <= 28 or day == -1):
            problems.append(f"{where}: 'day' {day!r} must be a day of the month from 1 to 28, or -1 for the "
                            "last day")
            day = None
        try:
            local = time.fromisoformat(at) if isinstance(at, str) and len(at) == 5 else None
        except ValueError:
            local = None
        if local is None:
            problems.append(f"{where}: 'time' {at!r} must be a local time like '09:00'")
        elif quiet is not None and quiet.contains(local):
            problems.append(f"{where}: 'time' {at} is inside the quiet hours {quiet_hours}; choose a time outside "
                            "them")
            local = None
        if isinstance(day, int) and isinstance(at, str) and local is not None:
            slots.add((day, at))
    return [{"day": d, "time": t} for d, t in sorted(slots)]


def _escalate_after(org_in: dict, problems: list[str]) -> int | None:
    value = org_in.get("escalate_after")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 50:
        problems.append(f"organisation: 'escalate_after' {value!r} must be a number of reminders from 1 to 50 "
                        f"(default {DEFAULT_ESCALATE_AFTER})")
        return None
    return value


def _label(kind: str, index: int, rec: object) -> str:
    rid = rec.get("id") if isinstance(rec, dict) else None
    return f"{kind}[{index}]" + (f" (id {rid!r})" if rid is not None else "")


def _text(rec: dict, key: str, where: str, problems: list[str], required: bool = True, max_len: int = 200):
    value = rec.get(key)
    if value is None:
        if required:
            problems.append(f"{where}: '{key}' is missing")
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and key == "id":
        value = str(value)
    if not isinstance(value, str) or (required and not value.strip()):
        problems.append(f"{where}: '{key}' must be a non-empty string")
        return None
    if len(value) > max_len:
        problems.append(f"{where}: '{key}' is longer than {max_len} characters")
        return None
    if "\x00" in value:
        problems.append(f"{where}: '{key}' contains a NUL character; remove it")
        return None
    return value.strip()


def _flag(rec: dict, key: str, where: str, problems: list[str], default: bool = True) -> bool:
    value = rec.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        problems.append(f"{where}: '{key}' must be true or false, not {value!r}")
        return default
    return value


def _moment(rec: dict, key: str, where: str, tz: ZoneInfo, problems: list[str]) -> datetime | None:
    value = rec.get(key)
    if not isinstance(value, str):
        problems.append(f"{where}: '{key}' must be an ISO 8601 time like 2026-05-03T08:00:00+02:00")
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        problems.append(f"{where}: '{key}' {value!r} is not an ISO 8601 time like 2026-05-03T08:00:00+02:00")
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def _list(doc: dict, key: str, problems: list[str]) -> list:
    value = doc.get(key) or []
    if not isinstance(value, list):
        problems.append(f"'{key}' must be a list")
        return []
    return value


def _records(doc: dict, kind: str, problems: list[str], ids: set[str]) -> Iterator[tuple[str, dict, str | None]]:
    """Each object in the list ``kind``, with its label for problems and its id (added to ``ids``).

    A record that is not an object, and an id given twice, are problems here.
    """
    for i, rec in enumerate(_list(doc, kind, problems)):
        where = _label(kind, i, rec)
        if not isinstance(rec, dict):
            problems.append(f"{where}: must be an object")
            continue
        problems += unknown_fields(rec, RECORD_FIELDS[kind], where)
        rid = _text(rec, "id", where, problems, max_len=64)
        if rid in ids:
            problems.append(f"{where}: 'id' {rid!r} appears twice")
        ids.add(rid)
        yield where, rec, rid


def _known(ref: object, ids: AbstractSet[str]) -> TypeGuard[str]:
    """Whether a reference names a known id; a list or object where an id belongs names none (and is no crash)."""
    return isinstance(ref, str) and ref in ids


def validate_import(doc: object, default_timezone: str = "Europe/Stockholm",
                    known_staff: AbstractSet[str] = frozenset(), known_recipients: AbstractSet[str] = frozenset(),
                    known_customers: AbstractSet[str] = frozenset(),
                    template_checks: Mapping[tuple[str, str], list[str]] | None = None,
                    default_quiet_hours: str | None = None) -> ImportPlan:
    """Check the whole document; return the plan or raise ImportError_ listing every problem.

    ``known_*`` are the host ids already stored for this organisation, which records may refer to.
    ``default_quiet_hours`` (the service's) are the quiet hours an organisation without its own has:
    automatic round slots are checked against them.
    ``template_checks`` are the problems of each of ``template_texts(doc)`` as the template workers
    found them (syntax, names and a trial render's cost); without them only syntax and names are
    checked, here.
    """
    problems: list[str] = []
    if not isinstance(doc, dict):
        raise ImportError_(["the file must be a JSON object with 'organisation' and optional lists"])
    problems += unknown_fields(doc, TOP_FIELDS, "the file")
    org_in = doc.get("organisation")
    if not isinstance(org_in, dict):
        raise ImportError_(problems + ["'organisation' is missing: it needs at least 'id' and 'name'"])
    where = "organisation"
    problems += unknown_fields(org_in, ORGANISATION_FIELDS, where)
    org = {
        "id": _text(org_in, "id", where, problems, max_len=64),
        "name": _text(org_in, "name", where, problems),
        "app_name": _text(org_in, "app_name", where, problems, required=False) or "Coordinare",
        "app_link": _text(org_in, "app_link", where, problems, required=False, max_len=300)
        or "https://app.coordinare.se",
        "timezone": _text(org_in, "timezone", where, problems, required=False, max_len=64),
        "locale": _text(org_in, "locale", where, problems, required=False, max_len=8) or "sv",
        "quiet_hours": _text(org_in, "quiet_hours", where, problems, required=False, max_len=16),
        "message_validity": None,
    }
    if org_in.get("message_validity") is not None:
        try:
            org["message_validity"] = parse_duration(org_in["message_validity"], "'message_validity'")
        except ValueError as exc:
            problems.append(f"organisation: {exc}")
    tz_name = org["timezone"] or default_timezone
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"organisation: 'timezone' {tz_name!r} is not a time zone like 'Europe/Stockholm'")
        tz = ZoneInfo(default_timezone)
    if org["locale"] not in LOCALES:
        problems.append(f"organisation: 'locale' {org['locale']!r} must be one of {', '.join(sorted(LOCALES))}")
    if org["quiet_hours"] is not None:
        try:
            parse_quiet_hours(org["quiet_hours"])
        except ValueError as exc:
            problems.append(f"organisation: {exc}")
    org["auto_rounds"] = _auto_rounds(org_in, org["quiet_hours"] if org["quiet_hours"] is not None
                                      else default_quiet_hours, problems)
    org["escalate_after"] = _escalate_after(org_in, problems)
    plan = ImportPlan(organisation=org, timezone=tz.key, complete=_complete(doc, problems),
                      shifts_window=_shifts_window(doc, tz, problems))
    region = _region(plan)

    staff_ids: set[str] = set()
    for where, rec, sid in _records(doc, "staff", problems, staff_ids):
        mobile = None
        if rec.get("mobile") not in (None, ""):
            if not isinstance(rec["mobile"], str):
                problems.append(f"{where}: 'mobile' must be a string like '070-123 45 67'")
            else:
                try:
                    mobile = to_e164(rec["mobile"], region)
                except InvalidPhoneNumber as exc:
                    problems.append(f"{where}: 'mobile' {exc}; write it like '070-123 45 67' or '+46701234567'")
        roles = rec.get("roles", ["assistant"])
        if not isinstance(roles, list) or not roles or not all(isinstance(r, str) for r in roles):
            problems.append(f"{where}: 'roles' must be a list like [\"assistant\"]")
            roles = ["assistant"]
        unknown = [r for r in roles if r not in KNOWN_ROLES]
        if unknown:
            problems.append(f"{where}: 'roles' has unknown {unknown}; use {', '.join(sorted(KNOWN_ROLES))}")
        tg = rec.get("telegram_user_id")
        if tg is not None and (not isinstance(tg, int) or isinstance(tg, bool)):
            problems.append(f"{where}: 'telegram_user_id' must be a number or null")
            tg = None
        plan.staff.append({
            "external_id": sid,
            "name": _text(rec, "name", where, problems),
            "mobile": mobile,
            "email": _text(rec, "email", where, problems, required=False),
            "roles": ",".join(sorted(set(roles))),
            "reminders_enabled": _flag(rec, "reminders_enabled", where, problems),
            "personal_number": _text(rec, "personal_number", where, problems, required=False, max_len=20),
            "sd_number": _text(rec, "sd_number", where, problems, required=False, max_len=40),
            "area": _text(rec, "area", where, problems, required=False, max_len=100),
            "telegram_user_id": tg,
        })
    all_staff = staff_ids | set(known_staff)

    recipient_ids: set[str] = set()
    for where, rec, rid in _records(doc, "care_recipients", problems, recipient_ids):
        supervisors = rec.get("supervisors") or []
        if not isinstance(supervisors, list):
            problems.append(f"{where}: 'supervisors' must be a list of staff ids")
            supervisors = []
        for sup in supervisors:
            if not _known(sup, all_staff):
                problems.append(f"{where}: 'supervisors' names staff {sup!r}, who is neither in the file nor stored")
            elif rid is not None:  # no id: already a problem, the import is refused
                plan.supervisions.append((rid, sup))
        plan.care_recipients.append({
            "external_id": rid,
            "name": _text(rec, "name", where, problems),
            "reminders_enabled": _flag(rec, "reminders_enabled", where, problems),
        })
    all_recipients = recipient_ids | set(known_recipients)

    for where, rec, shid in _records(doc, "shifts", problems, set()):
        staff_ref, rec_ref = rec.get("staff"), rec.get("care_recipient")
        if not _known(staff_ref, all_staff):
            problems.append(f"{where}: 'staff' {staff_ref!r} is neither in the file nor stored")
        if not _known(rec_ref, all_recipients):
            problems.append(f"{where}: 'care_recipient' {rec_ref!r} is neither in the file nor stored")
        start = _moment(rec, "start", where, tz, problems)
        end = _moment(rec, "end", where, tz, problems)
        if start and end and end < start:
            problems.append(f"{where}: 'end' is before 'start'")
        plan.shifts.append({
            "external_id": shid, "staff": staff_ref, "care_recipient": rec_ref, "start_at": start, "end_at": end,
            "reported": _flag(rec, "reported", where, problems, default=False),
            "signed": _flag(rec, "signed", where, problems, default=False),
        })

    for i, rec in enumerate(_list(doc, "reminder_history", problems)):
        where = f"reminder_history[{i}]"
        if not isinstance(rec, dict):
            problems.append(f"{where}: must be an object")
            continue
        problems += unknown_fields(rec, HISTORY_FIELDS, where)
        if not _known(rec.get("staff"), all_staff):
            problems.append(f"{where}: 'staff' {rec.get('staff')!r} is neither in the file nor stored")
        month = rec.get("month")
        try:
            Month.parse_key(str(month))  # anything but "YYYY-MM" (a number, a list, null) is refused
        except (ValueError, AttributeError, TypeError):
            problems.append(f"{where}: 'month' {month!r} must look like '2026-05'")
        sent = _moment(rec, "sent_at", where, tz, problems)
        plan.history.append({"staff": rec.get("staff"), "month": month, "sent_at": sent})

    customer_ids = _customers(doc, plan, problems)
    _customer_reminders(doc, plan, customer_ids | set(known_customers), problems, template_checks)
    _visits(doc, plan, all_staff, customer_ids | set(known_customers), tz, problems)
    _notification_templates(doc, plan, all_staff, problems, template_checks)

    if problems:
        raise ImportError_(problems)
    return plan


def _region(plan: ImportPlan) -> str:
    """Where national numbers in this file are read: the organisation's country (``20 12 34 56`` is Danish there)."""
    return region_for(plan.timezone, plan.organisation["locale"])


def _contact(rec: object, where: str, problems: list[str], region: str) -> dict | None:
    if not isinstance(rec, dict):
        problems.append(f"{where}: must be an object with 'name' and 'email' and/or 'mobile'")
        return None
    problems += unknown_fields(rec, CONTACT_FIELDS, where)
    name = _text(rec, "name", where, problems)
    email = _text(rec, "email", where, problems, required=False)
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


def _customers(doc: dict, plan: ImportPlan, problems: list[str]) -> set[str]:
    ids: set[str] = set()
    region = _region(plan)
    for where, rec, cid in _records(doc, "customers", problems, ids):
        contacts_in = rec.get("contacts") or []
        if not isinstance(contacts_in, list):
            problems.append(f"{where}: 'contacts' must be a list")
            contacts_in = []
        contacts = [_contact(c, f"{where} contacts[{n}]", problems, region) for n, c in enumerate(contacts_in)]
        decision_from, decision_to = _decision(rec.get("decision"), where, problems)
        plan.customers.append({
            "external_id": cid, "name": _text(rec, "name", where, problems),
            "area": _text(rec, "area", where, problems, required=False, max_len=100),
            "contacts": [c for c in contacts if c is not None],
            "decision_from": decision_from, "decision_to": decision_to,
        })
    return ids


def _day(value: object) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _decision(value: object, where: str, problems: list[str]) -> tuple[date | None, date | None]:
    """``{"from": "2026-01-01", "to": "2026-12-31"}`` (``to`` may be null: open-ended); null: none."""
    if value is None:
        return None, None
    if isinstance(value, dict):
        problems += unknown_fields(value, DECISION_FIELDS, f"{where} decision")
    start = _day(value.get("from")) if isinstance(value, dict) else None
    end = _day(value.get("to")) if isinstance(value, dict) and value.get("to") is not None else None
    if start is None or (isinstance(value, dict) and value.get("to") is not None and end is None):
        problems.append(f"{where}: 'decision' must look like {{\"from\": \"2026-01-01\", \"to\": \"2026-12-31\"}} "
                        "('to' may be null) or be null")
        return None, None
    if end is not None and end < start:
        problems.append(f"{where}: 'decision' ends before it starts")
    return start, end


def _visits(doc: dict, plan: ImportPlan, all_staff: set[str], all_customers: set[str], tz: ZoneInfo,
            problems: list[str]) -> None:
    for where, rec, vid in _records(doc, "visits", problems, set()):
        if not _known(rec.get("staff"), all_staff):
            problems.append(f"{where}: 'staff' {rec.get('staff')!r} is neither in the file nor stored")
        if not _known(rec.get("customer"), all_customers):
            problems.append(f"{where}: 'customer' {rec.get('customer')!r} is neither in the file nor stored")
        start = _moment(rec, "start", where, tz, problems)
        end = _moment(rec, "end", where, tz, problems)
        if start and end and end < start:
            problems.append(f"{where}: 'end' is before 'start'")
        plan.visits.append({"external_id": vid, "staff": rec.get("staff"), "customer": rec.get("customer"),
                            "start_at": start, "end_at": end,
                            "confirmed": _flag(rec, "confirmed", where, problems)})


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


def _customer_reminders(doc: dict, plan: ImportPlan, all_customers: set[str], problems: list[str],
                        template_checks: Mapping[tuple[str, str], list[str]] | None = None) -> None:
    for where, rec, rid in _records(doc, "customer_reminders", problems, set()):
        if not _known(rec.get("customer"), all_customers):
            problems.append(f"{where}: 'customer' {rec.get('customer')!r} is neither in the file nor stored")
        text = _text(rec, "text", where, problems, max_len=MAX_TEMPLATE)
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
            "type": _text(rec, "type", where, problems, required=False, max_len=100) or "Påminnelse",
            "title": _text(rec, "title", where, problems), "text": text, "first_due": first_due,
            "days_before": days_before, "recurrence": rule.to_json() if rule else None, "delivery": delivery,
            "recipients": sorted(set(recipients)), "active": _flag(rec, "active", where, problems),
        })


def _notification_templates(doc: dict, plan: ImportPlan, all_staff: set[str], problems: list[str],
                            template_checks: Mapping[tuple[str, str], list[str]] | None = None) -> None:
    for where, rec, tid in _records(doc, "notification_templates", problems, set()):
        event_type = _text(rec, "event_type", where, problems, max_len=64)
        text = _text(rec, "text", where, problems, max_len=MAX_TEMPLATE)
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
            if not _known(sid, all_staff):
                problems.append(f"{where}: 'recipients.staff' names {sid!r}, who is neither in the file nor stored")
        if not all(r in CONTACT_ROLES for r in roles):
            problems.append(f"{where}: 'recipients.contact_roles' must be a list of {', '.join(CONTACT_ROLES)}")
        plan.notification_templates.append({
            "external_id": tid, "event_type": event_type, "title": _text(rec, "title", where, problems),
            "text": text, "delivery": delivery, "staff_recipients": sorted(set(map(str, staff))),
            "contact_roles": sorted(set(map(str, roles))),
        })


def _complete(doc: dict, problems: list[str]) -> frozenset[str]:
    """``"complete": ["staff", "shifts"]``: the lists that hold everything the host has for the organisation."""
    value = doc.get("complete")
    if value is None:
        return frozenset()
    example = '"complete": ["staff", "shifts"]'
    if not isinstance(value, list) or not all(isinstance(k, str) for k in value):
        problems.append(f"'complete' must be a list of list names like {example}")
        return frozenset()
    names = set()
    for name in value:
        if name == "reminder_history":
            problems.append("'complete' cannot name 'reminder_history': history is only ever added to")
        elif name not in COMPLETABLE:
            problems.append(f"'complete' names {name[:64]!r}, which is not a list that can be complete — "
                            f"{hint(name, COMPLETABLE)}")
        elif not isinstance(doc.get(name), list):
            problems.append(f"'complete' names {name!r}, but the file has no {name!r} list; send "
                            f'"{name}": [] if the organisation really has none left')
        else:
            names.add(name)
    if "shifts" in names and doc.get("shifts_window") is not None:
        problems.append("'complete' names 'shifts' and there is a 'shifts_window': send one or the other")
    return frozenset(names)


def _shifts_window(doc: dict, tz: ZoneInfo, problems: list[str]) -> tuple[datetime, datetime] | None:
    """``"shifts_window": {"from": "2026-05-01", "to": "2026-05-31"}``: the file has every shift starting on
    those days (both included, in the organisation's time zone); as UTC bounds [from, day after to)."""
    value = doc.get("shifts_window")
    if value is None:
        return None
    example = '{"from": "2026-05-01", "to": "2026-05-31"}'
    if not isinstance(value, dict):
        problems.append(f"'shifts_window' must be an object like {example}")
        return None
    problems += unknown_fields(value, WINDOW_FIELDS, "shifts_window")
    first, last = _day(value.get("from")), _day(value.get("to"))
    if first is None or last is None:
        problems.append(f"'shifts_window' needs 'from' and 'to' as dates, like {example}")
        return None
    if last < first:
        problems.append("'shifts_window': 'to' is before 'from'")
        return None
    if not isinstance(doc.get("shifts"), list):
        problems.append("'shifts_window' is given, but the file has no 'shifts' list; send \"shifts\": [] if the "
                        "window really has no shifts left")
        return None
    lo = datetime.combine(first, time(), tz)
    hi = datetime.combine(last + timedelta(days=1), time(), tz)
    return lo, hi
