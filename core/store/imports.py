"""Applying a validated import plan: upserts matched by host id, and retiring (removing or deactivating)
what a complete list lacks."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.importer import COMPLETABLE, ImportPlan
from core.models import (
    CareRecipient,
    Customer,
    CustomerReminder,
    NotificationTemplate,
    Organisation,
    ReminderHistory,
    Shift,
    Staff,
    Supervision,
    Visit,
)
from core.recurrence import next_schedule
from core.store._common import chunks
from core.store.deletion import cancel_pending, cancel_pending_to_staff
from core.store.rounds import add_history
from core.store.visit_buffer import refresh_buffer

# deactivated_at is in the compared fields (always None in an import's records), so listing a
# deactivated record again reactivates it.
STAFF_FIELDS = ("name", "mobile", "email", "roles", "reminders_enabled", "personal_number", "sd_number",
                "area", "telegram_user_id", "deactivated_at")
CUSTOMER_FIELDS = ("name", "area", "contacts", "decision_from", "decision_to", "deactivated_at")
VISIT_FIELDS = ("staff_id", "customer_id", "start_at", "end_at", "confirmed")
TEMPLATE_FIELDS = ("event_type", "title", "text", "delivery", "staff_recipients", "contact_roles")
CUSTOMER_REMINDER_FIELDS = ("customer_id", "type", "title", "text", "first_due", "days_before", "recurrence",
                            "delivery", "recipients", "active")
SCHEDULE_FIELDS = ("first_due", "days_before", "recurrence")
RECIPIENT_FIELDS = ("name", "reminders_enabled", "deactivated_at")
SHIFT_FIELDS = ("staff_id", "care_recipient_id", "start_at", "end_at", "reported", "signed")


async def known_ids(session: AsyncSession, org_id: str) -> tuple[set[str], set[str], set[str]]:
    """The host ids stored for an organisation: staff, care recipients, customers."""
    staff = set(await session.scalars(select(Staff.external_id).where(Staff.org_id == org_id)))
    recipients = set(await session.scalars(select(CareRecipient.external_id).where(CareRecipient.org_id == org_id)))
    customers = set(await session.scalars(select(Customer.external_id).where(Customer.org_id == org_id)))
    return staff, recipients, customers


async def apply_import(session: AsyncSession, plan: ImportPlan, now: datetime) -> dict[str, dict[str, int]]:
    """Upsert a validated plan; return counts per kind (created, updated, unchanged).

    Lists the plan declares complete (and shifts in its window) also retire what they lack:
    counted as ``removed`` or ``deactivated`` (``now`` is when).
    """
    counts: dict[str, dict[str, int]] = {}
    org_in = plan.organisation
    org = await session.get(Organisation, org_in["id"])
    org_values = {k: v for k, v in org_in.items() if k != "id"}
    if org is None:
        session.add(Organisation(id=org_in["id"], round_seq=0, **org_values))
        counts["organisation"] = {"created": 1, "updated": 0, "unchanged": 0}
    elif any(getattr(org, k) != v for k, v in org_values.items()):
        for k, v in org_values.items():
            setattr(org, k, v)
        counts["organisation"] = {"created": 0, "updated": 1, "unchanged": 0}
    else:
        counts["organisation"] = {"created": 0, "updated": 0, "unchanged": 1}
    await session.flush()
    org_id = org_in["id"]

    existing = await _existing(session, Staff, org_id, STAFF_FIELDS)
    incoming_staff = _active(plan.staff)
    new, changed, same = _diff(existing, incoming_staff, STAFF_FIELDS)
    old_mobiles = {old["id"]: old["mobile"] for old in existing.values()}
    for row in changed:  # a new number is worth trying again
        if row["mobile"] != old_mobiles[row["id"]]:
            row["mobile_invalid"] = False
    if new:
        await session.execute(insert(Staff), [{"org_id": org_id, **r} for r in new])
    if changed:
        await session.execute(update(Staff), changed)
    counts["staff"] = {"created": len(new), "updated": len(changed), "unchanged": same}
    await _retire(session, Staff, org_id, existing, incoming_staff, changed, _retirement(plan, "staff", now),
                  counts["staff"])
    staff_map = await _id_map(session, Staff, org_id)

    counts["care_recipients"] = await _upsert(session, CareRecipient, org_id, _active(plan.care_recipients),
                                              RECIPIENT_FIELDS, _retirement(plan, "care_recipients", now))
    recipient_map = await _id_map(session, CareRecipient, org_id)

    if plan.care_recipients:
        # The file states each listed recipient's supervisors in full.
        listed = [recipient_map[r["external_id"]] for r in plan.care_recipients]
        wanted = {(recipient_map[r], staff_map[s]) for r, s in plan.supervisions}
        have = {(r.care_recipient_id, r.staff_id) for r in await session.execute(
            select(Supervision.care_recipient_id, Supervision.staff_id)
            .where(Supervision.care_recipient_id.in_(listed)))}
        for rid, sid in have - wanted:
            await session.execute(delete(Supervision).where(Supervision.care_recipient_id == rid,
                                                            Supervision.staff_id == sid))
        if wanted - have:
            await session.execute(insert(Supervision), [{"care_recipient_id": r, "staff_id": s}
                                                        for r, s in wanted - have])

    shifts = [{
        "external_id": s["external_id"], "staff_id": staff_map[s["staff"]],
        "care_recipient_id": recipient_map[s["care_recipient"]], "start_at": s["start_at"], "end_at": s["end_at"],
        "reported": s["reported"], "signed": s["signed"],
    } for s in plan.shifts]
    counts["shifts"] = await _upsert(session, Shift, org_id, shifts, SHIFT_FIELDS, _retirement(plan, "shifts", now))

    have_history = {(r.staff_id, r.month, r.sent_at) for r in await session.execute(
        select(ReminderHistory.staff_id, ReminderHistory.month, ReminderHistory.sent_at)
        .where(ReminderHistory.org_id == org_id))}
    history = []
    for h in plan.history:
        key = (staff_map[h["staff"]], h["month"], h["sent_at"])
        if key not in have_history:
            have_history.add(key)
            history.append({"org_id": org_id, "staff_id": key[0], "month": key[1], "sent_at": key[2]})
    await add_history(session, history)
    counts["reminder_history"] = {"created": len(history), "updated": 0,
                                  "unchanged": len(plan.history) - len(history)}
    if plan.customers or plan.customer_reminders or {"customers", "customer_reminders"} & plan.complete:
        counts.update(await _apply_customers(session, org_id, plan, now))
    if plan.visits or "visits" in plan.complete:
        customer_map = await _id_map(session, Customer, org_id)
        visits = [{"external_id": v["external_id"], "staff_id": staff_map[v["staff"]],
                   "customer_id": customer_map[v["customer"]], "start_at": v["start_at"], "end_at": v["end_at"],
                   "confirmed": v["confirmed"]} for v in plan.visits]
        counts["visits"] = await _upsert(session, Visit, org_id, visits, VISIT_FIELDS, _retirement(plan, "visits", now))
    if plan.notification_templates or "notification_templates" in plan.complete:
        counts["notification_templates"] = await _upsert(session, NotificationTemplate, org_id,
                                                         plan.notification_templates, TEMPLATE_FIELDS,
                                                         _retirement(plan, "notification_templates", now))
    await refresh_buffer(session, org_id, plan.timezone)  # new data may free waiting visits, or hold ready ones
    return counts


async def _apply_customers(session: AsyncSession, org_id: str, plan: ImportPlan,
                           now: datetime) -> dict[str, dict[str, int]]:
    counts = {"customers": await _upsert(session, Customer, org_id, _active(plan.customers), CUSTOMER_FIELDS,
                                         _retirement(plan, "customers", now))}
    customer_map = await _id_map(session, Customer, org_id)

    incoming = [{**{k: v for k, v in r.items() if k != "customer"}, "customer_id": customer_map[r["customer"]]}
                for r in plan.customer_reminders]
    existing = await _existing(session, CustomerReminder, org_id, CUSTOMER_REMINDER_FIELDS + ("last_sent_due",))
    new, changed, same = _diff(existing, incoming, CUSTOMER_REMINDER_FIELDS)
    if new:
        await session.execute(insert(CustomerReminder), [{"org_id": org_id, **r, **_schedule(r, None)} for r in new])
    by_id = {o["id"]: o for o in existing.values()}
    for row in changed:  # a changed schedule starts again after the last due date already sent
        old = by_id[row["id"]]
        if any(old[f] != row[f] for f in SCHEDULE_FIELDS):
            row.update(_schedule(row, old["last_sent_due"]))
        row["failed_reason"] = None  # a changed reminder is tried again
    for fields in {tuple(sorted(row)) for row in changed}:  # executemany needs one shape per batch
        await session.execute(update(CustomerReminder), [r for r in changed if tuple(sorted(r)) == fields])
    counts["customer_reminders"] = {"created": len(new), "updated": len(changed), "unchanged": same}
    await _retire(session, CustomerReminder, org_id, existing, incoming, changed,
                  _retirement(plan, "customer_reminders", now), counts["customer_reminders"])
    return counts


def _schedule(values: dict, after: date | None) -> dict:
    """next_due and send_on for a reminder's rule, counting from the last due date sent."""
    return next_schedule(values["first_due"], values["recurrence"], values["days_before"], after).columns()


def _active(records: list[dict]) -> list[dict]:
    """An import's records as stored: whatever it lists is active."""
    return [{**r, "deactivated_at": None} for r in records]


def _diff(existing: dict[str, dict], incoming: list[dict], fields: tuple[str, ...]):
    """Split ``incoming`` into rows to insert, rows to update (with id) and a count unchanged."""
    to_insert, to_update, unchanged = [], [], 0
    for rec in incoming:
        old = existing.get(rec["external_id"])
        if old is None:
            to_insert.append(rec)
        elif any(old[f] != rec[f] for f in fields):
            to_update.append({"id": old["id"], **{f: rec[f] for f in fields}})
        else:
            unchanged += 1
    return to_insert, to_update, unchanged


async def _existing(session: AsyncSession, model, org_id: str, fields: tuple[str, ...]) -> dict[str, dict]:
    cols = [model.id, model.external_id] + [getattr(model, f) for f in fields]
    rows = await session.execute(select(*cols).where(model.org_id == org_id))
    return {r.external_id: dict(r._mapping) for r in rows}


async def _upsert(session: AsyncSession, model, org_id: str, incoming: list[dict],
                  fields: tuple[str, ...], retire: Retirement | None = None) -> dict[str, int]:
    """Insert the new rows and update the changed ones, matched by host id; return the counts.

    With ``retire``, the stored rows ``incoming`` lacks are removed or deactivated as well.
    """
    existing = await _existing(session, model, org_id, fields)
    new, changed, same = _diff(existing, incoming, fields)
    if new:
        await session.execute(insert(model), [{"org_id": org_id, **r} for r in new])
    if changed:
        await session.execute(update(model), changed)
    counts = {"created": len(new), "updated": len(changed), "unchanged": same}
    await _retire(session, model, org_id, existing, incoming, changed, retire, counts)
    return counts


@dataclass(frozen=True)
class Retirement:
    """What becomes of stored rows a complete list (or a window) lacks: ``removed`` or ``deactivated``."""

    mode: str
    now: datetime
    within: tuple[datetime, datetime] | None = None  # only rows whose start_at falls in [lo, hi)
    cancels: str | None = None  # the outbox source whose unsent messages go with a removed row


CANCELS = {"customer_reminders": "customer", "notification_templates": "event"}


def _retirement(plan: ImportPlan, kind: str, now: datetime) -> Retirement | None:
    if kind in plan.complete:
        return Retirement(COMPLETABLE[kind], now, cancels=CANCELS.get(kind))
    if kind == "shifts" and plan.shifts_window is not None:
        return Retirement("removed", now, plan.shifts_window)
    return None


async def _retire(session: AsyncSession, model, org_id: str, existing: dict[str, dict], incoming: list[dict],
                  changed: list[dict], retire: Retirement | None, counts: dict[str, int]) -> list[int]:
    """Remove or deactivate the organisation's rows of ``model`` that ``incoming`` lacks (bulk, by id).

    Adds ``removed``/``deactivated`` to ``counts`` when retiring, and ``reactivated`` for deactivated rows
    the import brought back (they are also among the updated); returns the ids retired.
    """
    back = None
    if "deactivated_at" in model.__table__.c:
        by_id = {old["id"]: old for old in existing.values()}
        back = sum(1 for row in changed if by_id[row["id"]]["deactivated_at"] is not None)
    if retire is None:
        if back:
            counts["reactivated"] = back
        return []
    listed = {r["external_id"] for r in incoming}
    gone = [old["id"] for host_id, old in existing.items() if host_id not in listed
            and (retire.within is None or retire.within[0] <= old["start_at"] < retire.within[1])
            and (retire.mode == "removed" or old["deactivated_at"] is None)]
    for chunk in chunks(gone):
        statement = delete(model) if retire.mode == "removed" else update(model).values(deactivated_at=retire.now)
        await session.execute(statement.where(model.org_id == org_id, model.id.in_(chunk)),
                              execution_options={"synchronize_session": False})
    counts[retire.mode] = len(gone)
    if back is not None:
        counts["reactivated"] = back
    if retire.cancels:
        await cancel_pending(session, org_id, retire.cancels, gone, retire.now)
    if model is Staff:  # what was queued for them (a round held by quiet hours) does not go either
        await cancel_pending_to_staff(session, org_id, gone, retire.now)
    if model is Customer and gone:
        reminders = [rid for chunk in chunks(gone) for rid in await session.scalars(select(CustomerReminder.id)
                     .where(CustomerReminder.org_id == org_id, CustomerReminder.customer_id.in_(chunk)))]
        await cancel_pending(session, org_id, "customer", reminders, retire.now)
    return gone


async def _id_map(session: AsyncSession, model, org_id: str) -> dict[str, int]:
    """Host id → our id, for an organisation's rows of ``model``."""
    return {r.external_id: r.id for r in await session.execute(
        select(model.external_id, model.id).where(model.org_id == org_id))}
