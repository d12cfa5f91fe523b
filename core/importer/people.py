"""The people and their work: staff, care recipients (and who supervises them), shifts, reminder history."""
from __future__ import annotations

from collections.abc import Set as AbstractSet
from zoneinfo import ZoneInfo

from core.fieldnames import unknown_fields
from core.importer.fields import (
    HISTORY_FIELDS,
    KNOWN_ROLES,
    ImportPlan,
    field_flag,
    field_list,
    field_moment,
    field_text,
    known,
    records,
)
from core.months import Month
from core.phones import InvalidPhoneNumber, to_e164


def staff(doc: dict, plan: ImportPlan, region: str, problems: list[str]) -> set[str]:
    """The staff records into ``plan``; returns their ids."""
    staff_ids: set[str] = set()
    for where, rec, sid in records(doc, "staff", problems, staff_ids):
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
            "name": field_text(rec, "name", where, problems),
            "mobile": mobile,
            "email": field_text(rec, "email", where, problems, required=False),
            "roles": ",".join(sorted(set(roles))),
            "reminders_enabled": field_flag(rec, "reminders_enabled", where, problems),
            "personal_number": field_text(rec, "personal_number", where, problems, required=False, max_len=20),
            "sd_number": field_text(rec, "sd_number", where, problems, required=False, max_len=40),
            "area": field_text(rec, "area", where, problems, required=False, max_len=100),
            "telegram_user_id": tg,
        })

    return staff_ids


def care_recipients(doc: dict, plan: ImportPlan, all_staff: AbstractSet[str], problems: list[str]) -> set[str]:
    """The care recipients and who supervises each (staff in the file or stored); returns their ids."""
    recipient_ids: set[str] = set()
    for where, rec, rid in records(doc, "care_recipients", problems, recipient_ids):
        supervisors = rec.get("supervisors") or []
        if not isinstance(supervisors, list):
            problems.append(f"{where}: 'supervisors' must be a list of staff ids")
            supervisors = []
        for sup in supervisors:
            if not known(sup, all_staff):
                problems.append(f"{where}: 'supervisors' names staff {sup!r}, who is neither in the file nor stored")
            elif rid is not None:  # no id: already a problem, the import is refused
                plan.supervisions.append((rid, sup))
        plan.care_recipients.append({
            "external_id": rid,
            "name": field_text(rec, "name", where, problems),
            "reminders_enabled": field_flag(rec, "reminders_enabled", where, problems),
        })

    return recipient_ids


def shifts(doc: dict, plan: ImportPlan, all_staff: AbstractSet[str], all_recipients: AbstractSet[str], tz: ZoneInfo,
           problems: list[str]) -> None:
    for where, rec, shid in records(doc, "shifts", problems, set()):
        staff_ref, rec_ref = rec.get("staff"), rec.get("care_recipient")
        if not known(staff_ref, all_staff):
            problems.append(f"{where}: 'staff' {staff_ref!r} is neither in the file nor stored")
        if not known(rec_ref, all_recipients):
            problems.append(f"{where}: 'care_recipient' {rec_ref!r} is neither in the file nor stored")
        start = field_moment(rec, "start", where, tz, problems)
        end = field_moment(rec, "end", where, tz, problems)
        if start and end and end < start:
            problems.append(f"{where}: 'end' is before 'start'")
        plan.shifts.append({
            "external_id": shid, "staff": staff_ref, "care_recipient": rec_ref, "start_at": start, "end_at": end,
            "reported": field_flag(rec, "reported", where, problems, default=False),
            "signed": field_flag(rec, "signed", where, problems, default=False),
        })



def history(doc: dict, plan: ImportPlan, all_staff: AbstractSet[str], tz: ZoneInfo, problems: list[str]) -> None:
    """Reminders the host system already sent (so the two-hour rule and escalation count them)."""
    for i, rec in enumerate(field_list(doc, "reminder_history", problems)):
        where = f"reminder_history[{i}]"
        if not isinstance(rec, dict):
            problems.append(f"{where}: must be an object")
            continue
        problems += unknown_fields(rec, HISTORY_FIELDS, where)
        if not known(rec.get("staff"), all_staff):
            problems.append(f"{where}: 'staff' {rec.get('staff')!r} is neither in the file nor stored")
        month = rec.get("month")
        try:
            Month.parse_key(str(month))  # anything but "YYYY-MM" (a number, a list, null) is refused
        except (ValueError, AttributeError, TypeError):
            problems.append(f"{where}: 'month' {month!r} must look like '2026-05'")
        sent = field_moment(rec, "sent_at", where, tz, problems)
        plan.history.append({"staff": rec.get("staff"), "month": month, "sent_at": sent})

