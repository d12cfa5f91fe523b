"""Queries for personal data as a subject: what is held on one person, erasing it, and retention.

What a person is, what an export holds and how text is masked are in ``core.personal_data``.
Functions take an AsyncSession and never commit: the caller owns the transaction, so an erasure
lands whole or not at all.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Iterable

from sqlalchemy import String, Text, and_, bindparam, cast, delete, false, func, literal, null, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import (
    CareRecipient,
    Customer,
    CustomerReminder,
    Event,
    InboundMessage,
    Organisation,
    OutboxMessage,
    ReminderHistory,
    ReminderRound,
    Shift,
    Staff,
    Supervision,
    Visit,
)
from core.personal_data import (
    ERASED,
    INBOUND_EXPORT,
    LIVE_STATUSES,
    OUTBOX_EXPORT,
    STAFF_PROFILE,
    Erasure,
    Person,
    erasure_patterns,
    export_row,
    like_escape,
    needles,
    same_contact,
    scrub_json,
    scrub_text,
)
from core.store._common import affected_rows

TELEGRAM_CHANNELS = ("telegram", "telegram-update")


async def staff_by_host_id(session: AsyncSession, org_id: str, external_id: str) -> Staff | None:
    return await session.scalar(select(Staff).where(Staff.org_id == org_id, Staff.external_id == external_id))


async def care_recipient_by_host_id(session: AsyncSession, org_id: str, external_id: str) -> CareRecipient | None:
    return await session.scalar(select(CareRecipient).where(CareRecipient.org_id == org_id,
                                                            CareRecipient.external_id == external_id))


async def customers_listing_contact(session: AsyncSession, org_id: str, mobile: str | None,
                                    email: str | None) -> list[tuple[Customer, dict]]:
    """The organisation's customers that list a contact with this mobile or e-mail, with that contact."""
    wanted = [f'"{v}"' for v in (mobile, email and email.lower()) if v]
    if not wanted:
        return []
    as_text = func.lower(cast(Customer.contacts, Text))
    rows = await session.scalars(select(Customer).where(Customer.org_id == org_id,
                                                        or_(*[as_text.contains(w.lower()) for w in wanted]))
                                 .order_by(Customer.id))
    return [(c, contact) for c in rows for contact in (c.contacts or []) if same_contact(contact, mobile, email)]


def _outbox_to(person: Person):
    """Outbox rows addressed to the person (or, for staff, linked to their row)."""
    o = OutboxMessage
    conditions = []
    if person.staff is not None:
        conditions.append(o.staff_id == person.staff.id)
    addresses = [a for a in (person.mobile, person.email) if a]
    if addresses:
        conditions.append(and_(o.org_id == person.org_id, o.address.in_(addresses)))
    if person.telegram_user_id:
        # Telegram replies carry no organisation; a private chat's id is the person's user id.
        conditions.append(and_(o.channel == "telegram", o.address == str(person.telegram_user_id),
                               or_(o.org_id == person.org_id, o.org_id.is_(None))))
    return or_(*conditions) if conditions else false()


def _inbound_from(person: Person):
    """Inbound rows sent by the person."""
    i = InboundMessage
    ours_or_nobodys = or_(i.org_id == person.org_id, i.org_id.is_(None))
    conditions = []
    if person.staff is not None:
        conditions.append(i.staff_id == person.staff.id)
    if person.mobile:
        from_number = and_(i.channel.not_in(TELEGRAM_CHANNELS), i.sender == person.mobile, ours_or_nobodys)
        if person.kind == "contact":  # a number that is also staff somewhere is that staff member's
            from_number = and_(from_number, i.staff_id.is_(None))
        conditions.append(from_number)
    if person.telegram_user_id:
        conditions.append(and_(i.channel.in_(TELEGRAM_CHANNELS), i.sender == str(person.telegram_user_id),
                               ours_or_nobodys))
    return or_(*conditions) if conditions else false()


async def _org_chat_addresses(session: AsyncSession, org_id: str) -> tuple[list[str], list[str]]:
    """The Telegram chats and accounts of an organisation (its rows there carry no organisation id)."""
    accounts = [str(t) for t in await session.scalars(
        select(Staff.telegram_user_id).where(Staff.org_id == org_id, Staff.telegram_user_id.is_not(None)))]
    team = await session.scalar(select(Organisation.team_chat).where(Organisation.id == org_id))
    chats = list(accounts)
    if team and team.startswith("telegram:"):
        chats.append(team.partition(":")[2])
    return chats, accounts


async def messages_of_person(session: AsyncSession, person: Person) -> tuple[list[dict], list[dict]]:
    """The outbox messages to the person and the texts from them, oldest first."""
    outbox = [export_row(m, OUTBOX_EXPORT) for m in await session.scalars(
        select(OutboxMessage).where(_outbox_to(person)).order_by(OutboxMessage.id))]
    inbound = [export_row(m, INBOUND_EXPORT) for m in await session.scalars(
        select(InboundMessage).where(_inbound_from(person), InboundMessage.channel != "telegram-update")
        .order_by(InboundMessage.id))]
    return outbox, inbound


async def _shifts_export(session: AsyncSession, whose, other, other_id, label: str) -> list[dict]:
    """The person's shifts, oldest first, each naming the other side (``other``'s external id) as ``label``."""
    rows = await session.execute(select(Shift, other.external_id).join(other, other.id == other_id)
                                 .where(whose).order_by(Shift.start_at, Shift.id))
    return [{**export_row(shift, ("external_id", "start_at", "end_at", "reported", "signed")), label: external_id}
            for shift, external_id in rows]


async def staff_export(session: AsyncSession, person: Person) -> dict:
    staff = person.staff
    assert staff is not None  # a Person of kind "staff" has their row
    shifts = await _shifts_export(session, Shift.staff_id == staff.id, CareRecipient, Shift.care_recipient_id,
                                  "care_recipient")
    history = list(await session.scalars(select(ReminderHistory).where(ReminderHistory.staff_id == staff.id)
                                         .order_by(ReminderHistory.sent_at, ReminderHistory.id)))
    visits = await session.execute(
        select(Visit, Customer.external_id).join(Customer, Customer.id == Visit.customer_id)
        .where(Visit.staff_id == staff.id).order_by(Visit.start_at, Visit.id))
    supervises = await session.scalars(
        select(CareRecipient.external_id).join(Supervision, Supervision.care_recipient_id == CareRecipient.id)
        .where(Supervision.staff_id == staff.id).order_by(CareRecipient.external_id))
    rounds = await session.scalars(select(ReminderRound).where(ReminderRound.requested_by == staff.id)
                                   .order_by(ReminderRound.id))
    outbox, inbound = await messages_of_person(session, person)
    return {
        "profile": export_row(staff, STAFF_PROFILE),
        "supervises": list(supervises),
        "shifts": shifts,
        "visits": [{**export_row(v, ("external_id", "start_at", "end_at", "confirmed", "buffer_state", "delivered_at")),
                    "customer": c} for v, c in visits],
        "reminder_history": [export_row(h, ("month", "sent_at", "acknowledged_at")) for h in history],
        "acknowledgements": [export_row(h, ("month", "sent_at", "acknowledged_at")) for h in history
                             if h.acknowledged_at is not None],
        "rounds_requested": [export_row(r, ("month", "scope", "created_at", "sent")) for r in rounds],
        "outbox": outbox,
        "inbound": inbound,
    }


async def care_recipient_export(session: AsyncSession, person: Person) -> dict:
    recipient = person.care_recipient
    assert recipient is not None  # a Person of kind "care_recipient" has their row
    shifts = await _shifts_export(session, Shift.care_recipient_id == recipient.id, Staff, Shift.staff_id, "staff")
    supervisors = await session.scalars(
        select(Staff.external_id).join(Supervision, Supervision.staff_id == Staff.id)
        .where(Supervision.care_recipient_id == recipient.id).order_by(Staff.external_id))
    return {
        "profile": export_row(recipient, ("external_id", "name", "reminders_enabled")),
        "supervisors": list(supervisors),
        "shifts": shifts,
    }


async def contact_export(session: AsyncSession, person: Person, customers: list[tuple[Customer, dict]]) -> dict:
    outbox, inbound = await messages_of_person(session, person)
    return {
        "profile": dict(person.contact or {}),
        "customers": [{"customer": c.external_id, "name": c.name, "contact": contact} for c, contact in customers],
        "outbox": outbox,
        "inbound": inbound,
    }


def _mentions(column, words: list[str]):
    """``column`` mentions any of ``words`` (as typed, or as JSON text escapes them)."""
    forms = {f for w in words for f in (w, json.dumps(w)[1:-1])}
    return or_(*[column.ilike(f"%{like_escape(f)}%", escape="\\") for f in forms])


async def _scrub_columns(session: AsyncSession, model, scope, columns: list[str], words: list[str],
                         json_columns: tuple[str, ...] = ()) -> int:
    """Replace ``words`` in the rows of ``model`` within ``scope`` that mention them: one SELECT, one UPDATE."""
    if not words:
        return 0
    patterns = erasure_patterns(words)
    cols = [getattr(model, c) for c in columns]
    mention = or_(*[_mentions(cast(c, Text) if c.key in json_columns else c, words) for c in cols])
    rows = (await session.execute(select(model.id, *cols).where(scope, mention))).all()
    if not rows:
        return 0
    changes = [{"b_id": r.id, **{f"b_{c}": (scrub_json(r._mapping[c], patterns) if c in json_columns
                                           else scrub_text(r._mapping[c], patterns)) for c in columns}}
               for r in rows]
    table = model.__table__
    await session.execute(update(table).where(table.c.id == bindparam("b_id"))
                          .values({c: bindparam(f"b_{c}") for c in columns}), changes)
    return len(rows)


async def _erase_messages(session: AsyncSession, person: Person, now: datetime) -> tuple[int, int, list[str]]:
    """Blank the person's own messages (counts and statuses stay); return how many, and their free texts."""
    i, o = InboundMessage, OutboxMessage
    free_texts = [b for b in await session.scalars(
        select(i.body).where(_inbound_from(person), i.command == "Unknown", i.body != "")) if len(b) >= 4]
    inbound = await session.execute(
        update(i).where(_inbound_from(person))
        .values(body="", reply=None, sender="", staff_id=None,
                # An unfinished stored update must not be replayed once its text is gone.
                processed_at=func.coalesce(i.processed_at, now)),
        execution_options={"synchronize_session": False})
    outbox = await session.execute(
        update(o).where(_outbox_to(person))
        # A Telegram message's provider id holds the chat id.
        .values(body="", address="", payload=null(), error_message=None, staff_id=None, provider_id=None,
                # The key held the address; it stays unique as the row's own id.
                idempotency_key=literal("erased:").concat(cast(o.id, String))),
        execution_options={"synchronize_session": False})
    return affected_rows(inbound) or 0, affected_rows(outbox) or 0, free_texts


async def _erase_mentions(session: AsyncSession, person: Person, words: list[str], free_texts: list[str]) -> int:
    """Remove the person's identifiers from what others were sent and wrote, within the organisation."""
    org_id = person.org_id
    chats, accounts = await _org_chat_addresses(session, org_id)
    o, i = OutboxMessage, InboundMessage
    in_org_outbox = or_(o.org_id == org_id, and_(o.org_id.is_(None), o.address.in_(chats or [""])))
    in_org_inbound = or_(i.org_id == org_id, and_(i.org_id.is_(None), i.sender.in_(accounts or [""])))
    n = await _scrub_columns(session, o, in_org_outbox, ["body", "payload"], words, json_columns=("payload",))
    # What the person wrote was passed on to the team chat word for word.
    n += await _scrub_columns(session, o, and_(in_org_outbox, o.kind == "team"), ["body"], free_texts)
    n += await _scrub_columns(session, i, in_org_inbound, ["body", "reply"], words)
    n += await _scrub_columns(session, ReminderRound, ReminderRound.org_id == org_id, ["scope"], words)
    n += await _scrub_columns(session, CustomerReminder, CustomerReminder.org_id == org_id, ["last_unreached"],
                              words, json_columns=("last_unreached",))
    n += await _scrub_columns(session, Event, Event.org_id == org_id, ["values", "unreached"], words,
                              json_columns=("values", "unreached"))
    return n


async def erase_person_data(session: AsyncSession, person: Person, now: datetime,
                            phone_forms: Iterable[str] = ()) -> Erasure:
    """Remove everything held on ``person``; keep only anonymous counts (rounds, message rows' statuses)."""
    words = needles(person, phone_forms)
    result = Erasure()
    result.inbound_blanked, result.outbox_blanked, free_texts = await _erase_messages(session, person, now)
    result.mentions_scrubbed = await _erase_mentions(session, person, words, free_texts)
    if person.kind == "staff":
        assert person.staff is not None  # a Person of kind "staff" has their row
        sid = person.staff.id
        for model, column in ((Shift, Shift.staff_id), (Visit, Visit.staff_id),
                              (ReminderHistory, ReminderHistory.staff_id), (Supervision, Supervision.staff_id)):
            removed = await session.execute(delete(model).where(column == sid))
            result.rows_removed[model.__tablename__] = affected_rows(removed) or 0
        await session.execute(update(ReminderRound).where(ReminderRound.requested_by == sid).values(requested_by=None))
        await session.execute(delete(Staff).where(Staff.id == sid))
        result.rows_removed["staff"] = 1
    elif person.kind == "care_recipient":
        assert person.care_recipient is not None  # a Person of kind "care_recipient" has their row
        # Shifts at their place are the assistants' work and stay, under a row with no name.
        await session.execute(update(CareRecipient).where(CareRecipient.id == person.care_recipient.id)
                              .values(name=ERASED))
        result.rows_removed["care_recipients"] = 0
    else:
        result.rows_removed["contacts"] = await _remove_contact(session, person)
    return result


async def _remove_contact(session: AsyncSession, person: Person) -> int:
    """Take the contact out of every customer's list (one executemany)."""
    customers = await customers_listing_contact(session, person.org_id, person.mobile, person.email)
    changes, removed = {}, 0
    for customer, _ in customers:
        if customer.id in changes:
            continue
        kept = [c for c in customer.contacts if not same_contact(c, person.mobile, person.email)]
        removed += len(customer.contacts) - len(kept)
        changes[customer.id] = kept
    if changes:
        table = Customer.__table__
        await session.execute(update(table).where(table.c.id == bindparam("b_id"))
                              .values(contacts=bindparam("b_kept")),
                              [{"b_id": k, "b_kept": v} for k, v in changes.items()])
    return removed


async def blank_old_bodies(session: AsyncSession, cutoff: datetime, org_id: str | None = None) -> dict[str, int]:
    """Blank message bodies older than ``cutoff``: one UPDATE per table (counts and statuses stay).

    Rows the dispatcher may still send or check keep their bodies; so does a stored Telegram update
    not yet acted on. ``org_id`` narrows it to one organisation's rows.
    """
    o, i, e = OutboxMessage, InboundMessage, Event
    outbox = update(o).where(o.created_at < cutoff, o.status.not_in(LIVE_STATUSES), o.body != "")
    inbound = update(i).where(i.received_at < cutoff, or_(i.body != "", i.reply.is_not(None)),
                              or_(i.channel != "telegram-update", i.processed_at.is_not(None)))
    events = update(e).where(e.received_at < cutoff, cast(e.values, Text) != "{}")
    if org_id is not None:
        outbox, inbound, events = outbox.where(o.org_id == org_id), inbound.where(i.org_id == org_id), \
            events.where(e.org_id == org_id)
    counts = {}
    for name, statement, values in (("outbox", outbox, {o.body: "", o.payload: null()}),
                                    ("inbound", inbound, {i.body: "", i.reply: None}),
                                    ("events", events, {e.values: {}})):
        result = await session.execute(statement.values(values), execution_options={"synchronize_session": False})
        counts[name] = affected_rows(result) or 0
    return counts
