"""The relational model: organisations, people, shifts, reminders, the outbox and inbound log.

Host-system ids are kept as ``external_id`` beside our own integer keys, so that
imports can upsert by the host's id while joins stay cheap. All times are stored
as naive UTC (see ``UTCDateTime``) because SQLite drops offsets and asyncpg refuses
aware values in ``timestamp`` columns.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from core.timeutil import as_utc


class UTCDateTime(TypeDecorator):
    """Store aware datetimes as naive UTC; read them back as aware UTC."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return as_utc(value).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc)


class Base(DeclarativeBase):
    if TYPE_CHECKING:
        # Every model here maps one Table (DeclarativeBase allows any FromClause): the store updates
        # and bulk-inserts through it.
        __table__: ClassVar[Table]


# Bigger-than-int ids on PostgreSQL, plain INTEGER PRIMARY KEY (rowid) on SQLite.
BigId = BigInteger().with_variant(Integer, "sqlite")


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    app_name: Mapped[str] = mapped_column(String(100), default="Coordinare")
    app_link: Mapped[str] = mapped_column(String(300), default="https://app.coordinare.se")
    timezone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    locale: Mapped[str] = mapped_column(String(8), default="sv")
    quiet_hours: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # Where the team hears what happens: "telegram:<chat id>" or "simulator:team:<org>".
    team_chat: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # Bumped by every reminder round; the row lock serialises rounds per organisation.
    round_seq: Mapped[int] = mapped_column(Integer, default=0)
    # The demo: the phone simulator acts only for such an organisation. Set by `paminn demo-data`,
    # never by an import, so a real organisation cannot become one by what it sends.
    simulated: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # Seconds a message may keep being retried after its first try (None: PAMINN_MESSAGE_VALIDITY).
    message_validity: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Automatic rounds for last month: [{"day": 1..28 or -1 (last day), "time": "HH:MM"}], in the
    # organisation's time zone (see handlers.auto_rounds). None: none.
    auto_rounds: Mapped[list | None] = mapped_column(JSON, nullable=True)
    # Accepted reminders for a month after which a still unfinished assistant is escalated (None: 3).
    escalate_after: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Staff(Base):
    __tablename__ = "staff"
    __table_args__ = (
        UniqueConstraint("org_id", "external_id", name="uq_staff_external"),
        Index("ix_staff_org_mobile", "org_id", "mobile"),
        Index("ix_staff_mobile", "mobile"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    mobile: Mapped[str | None] = mapped_column(String(20), nullable=True)
    # Set when Twilio answered 21211 for this number; cleared by an import with a new number.
    mobile_invalid: Mapped[bool] = mapped_column(Boolean, default=False)
    email: Mapped[str | None] = mapped_column(String(200), nullable=True)
    roles: Mapped[str] = mapped_column(String(200), default="assistant")  # comma-separated
    # The host system's profile flag (condition 4); imports own it.
    reminders_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # The person's own STOPP (or Twilio's 21610); imports never clear it, only START does.
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Stored for host systems and the integration buffer; never logged, never shown.
    personal_number: Mapped[str | None] = mapped_column(String(20), nullable=True)
    sd_number: Mapped[str | None] = mapped_column(String(40), nullable=True)
    # The area an inspector covers: customer reminders for customers in it reach them.
    area: Mapped[str | None] = mapped_column(String(100), nullable=True)
    telegram_user_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    preferred_channel: Mapped[str] = mapped_column(String(16), default="sms")
    # Messages to a simulated person appear in the browser simulator, never at Twilio.
    simulated: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set when an import that lists all staff no longer has this person: kept for history, sent
    # nothing, not counted; cleared when an import lists them again.
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    def role_list(self) -> list[str]:
        return [r for r in self.roles.split(",") if r]


class CareRecipient(Base):
    __tablename__ = "care_recipients"
    __table_args__ = (UniqueConstraint("org_id", "external_id", name="uq_recipient_external"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    reminders_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # As Staff.deactivated_at: the host no longer has them; their shifts cause no reminders.
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Supervision(Base):
    """A supervisor (arbetsledare) responsible for a care recipient."""

    __tablename__ = "supervisions"

    care_recipient_id: Mapped[int] = mapped_column(
        ForeignKey("care_recipients.id", ondelete="CASCADE"), primary_key=True
    )
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True)


class Shift(Base):
    __tablename__ = "shifts"
    __table_args__ = (
        UniqueConstraint("org_id", "external_id", name="uq_shift_external"),
        # Most of a month's shifts get reported and signed: the month's selection reads only
        # the unfinished ones, through this partial index.
        Index(
            "ix_shifts_unfinished", "org_id", "start_at", "staff_id", "care_recipient_id",
            sqlite_where=text("reported = 0 OR signed = 0"),
            postgresql_where=text("reported = false OR signed = false"),
        ),
        # "Has this person any shift in the month (at these recipients)?" as one index seek.
        Index("ix_shifts_staff_start", "staff_id", "start_at", "care_recipient_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(64))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    care_recipient_id: Mapped[int] = mapped_column(ForeignKey("care_recipients.id", ondelete="CASCADE"))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reported: Mapped[bool] = mapped_column(Boolean, default=False)
    signed: Mapped[bool] = mapped_column(Boolean, default=False)


class ReminderRound(Base):
    """One decision to remind: who asked, for which month and scope, and what came of it."""

    __tablename__ = "reminder_rounds"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"), nullable=True)
    scope: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent: Mapped[int] = mapped_column(Integer, default=0)
    segments: Mapped[int] = mapped_column(Integer, default=0)
    held_back: Mapped[dict] = mapped_column(JSON, default=dict)  # reason -> count
    # Set once "everyone has reported" has been announced for this round's month.
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ReminderHistory(Base):
    __tablename__ = "reminder_history"
    __table_args__ = (Index("ix_history_staff_month", "staff_id", "month", "sent_at"),
                      # A month's history per organisation (escalation's count every tick, the month's selection).
                      Index("ix_history_org_month", "org_id", "month", "staff_id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    month: Mapped[str] = mapped_column(String(7))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    round_id: Mapped[int | None] = mapped_column(ForeignKey("reminder_rounds.id", ondelete="SET NULL"), nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Imported history has no key; ours carries the outbox idempotency key it produced.
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True, unique=True)


class OutboxMessage(Base):
    """Every outbound message, from decision to delivery. Nothing is sent except from here."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "not_before"),
        Index("ix_outbox_provider", "provider_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    org_id: Mapped[str | None] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), nullable=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    channel: Mapped[str] = mapped_column(String(16))  # sms | telegram | email | simulator
    address: Mapped[str] = mapped_column(String(200))  # E.164, chat id, e-mail, simulator address
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"), nullable=True)
    kind: Mapped[str] = mapped_column(String(20))  # reminder | reply | team
    body: Mapped[str] = mapped_column(Text)
    # Channel extras: Telegram's reply_markup (buttons), or the message to edit in place.
    payload: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    segments: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # When the provider was called for the current claim. Recorded only for channels that cannot be
    # asked afterwards whether they have a message (Telegram): with it, a row whose process died
    # before calling is known to be unsent, and one that died during the call is in doubt.
    sending_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    provider_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    error_message: Mapped[str | None] = mapped_column(String(300), nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Set at the first claim (first try + the organisation's validity): transient failures are
    # retried until then, and only then does the message become ``expired``.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ChannelState(Base):
    """One outbound channel's health, shared by every worker: consecutive transient failures,
    and while it is down, since when and when the next probe may go."""

    __tablename__ = "channel_state"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    down_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    probe_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class InboundMessage(Base):
    """Every inbound message, unique per provider id, with the reply it was given."""

    __tablename__ = "inbound"
    __table_args__ = (UniqueConstraint("channel", "provider_id", name="uq_inbound_provider"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(16))
    provider_id: Mapped[str] = mapped_column(String(64))
    sender: Mapped[str] = mapped_column(String(64))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"), nullable=True)
    org_id: Mapped[str | None] = mapped_column(ForeignKey("organisations.id", ondelete="SET NULL"), nullable=True)
    body: Mapped[str] = mapped_column(Text)
    command: Mapped[str | None] = mapped_column(String(32), nullable=True)
    reply: Mapped[str | None] = mapped_column(Text, nullable=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # For raw provider updates stored before they are acted on (Telegram): when that finished,
    # and how many tries failed (at bot.telegram_app.MAX_UPDATE_TRIES the update is given up).
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Customer(Base):
    """A customer of the organisation (a clinic, a household, …), with the contacts reminders reach."""

    __tablename__ = "customers"
    __table_args__ = (UniqueConstraint("org_id", "external_id", name="uq_customers_external"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    area: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # [{"name", "email", "mobile"}], as the host system lists them; replaced whole by each import.
    contacts: Mapped[list] = mapped_column(JSON, default=list)
    # The decision (biståndsbeslut) the customer's visits rest on; a visit outside it cannot be passed on.
    decision_from: Mapped[date | None] = mapped_column(Date, nullable=True)
    decision_to: Mapped[date | None] = mapped_column(Date, nullable=True)  # None: open-ended
    # As Staff.deactivated_at: no customer reminders, no event notifications to its contacts.
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class CustomerReminder(Base):
    """A reminder on a customer: due dates from a rule, sent ``days_before`` each, to recipients by role."""

    __tablename__ = "customer_reminders"
    __table_args__ = (
        UniqueConstraint("org_id", "external_id", name="uq_customer_reminders_external"),
        Index("ix_customer_reminders_send_on", "send_on"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)  # a template (core.templates) or plain text
    first_due: Mapped[date] = mapped_column(Date)
    days_before: Mapped[int] = mapped_column(Integer, default=0)
    recurrence: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # core.recurrence's JSON form
    delivery: Mapped[str] = mapped_column(String(16))  # email | sms | both
    recipients: Mapped[list] = mapped_column(JSON, default=list)  # roles: contacts, inspector, admin
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The next due date not yet sent, and the day its reminder goes (next_due - days_before); both
    # None once the rule has ended. send_on is what the tick selects on.
    next_due: Mapped[date | None] = mapped_column(Date, nullable=True)
    send_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    last_sent_due: Mapped[date | None] = mapped_column(Date, nullable=True)
    # Who the last due date did not reach, and why ("Per Persson (ingen e-postadress)").
    last_unreached: Mapped[list | None] = mapped_column(JSON, nullable=True)
    # Why the text could not be rendered for next_due (too costly, or an error): the tick passes the
    # reminder over until an import changes it, instead of failing on it every minute.
    failed_reason: Mapped[str | None] = mapped_column(String(300), nullable=True)


class Visit(Base):
    """A visit at a customer. Confirmed ones wait in the integration buffer for an external system.

    buffer_state: waiting (``reasons`` says what to fix) → ready → leased (handed out in a batch,
    ``lease_token`` until ``lease_until``) → delivered (acknowledged). An unacknowledged lease runs
    out and the visit is offered again.
    """

    __tablename__ = "visits"
    __table_args__ = (
        UniqueConstraint("org_id", "external_id", name="uq_visits_external"),
        Index("ix_visits_buffer", "org_id", "buffer_state", "start_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(64))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    confirmed: Mapped[bool] = mapped_column(Boolean, default=True)
    buffer_state: Mapped[str | None] = mapped_column(String(16), nullable=True)  # None: not confirmed
    reasons: Mapped[list | None] = mapped_column(JSON, nullable=True)
    lease_token: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class NotificationTemplate(Base):
    """What an event of one type (work shift, order, activity, quality check, …) tells whom."""

    __tablename__ = "notification_templates"
    __table_args__ = (UniqueConstraint("org_id", "external_id", name="uq_notification_templates_external"),
                      Index("ix_notification_templates_type", "org_id", "event_type"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)  # core.templates, with the event's values under "händelse"
    delivery: Mapped[str] = mapped_column(String(16))  # email | sms | both
    staff_recipients: Mapped[list] = mapped_column(JSON, default=list)  # static: staff host ids
    contact_roles: Mapped[list] = mapped_column(JSON, default=list)  # dynamic: the customer's contacts with a role


class Event(Base):
    """An event a host system reported, once per host id, with what its notifications came to."""

    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("org_id", "external_id", name="uq_events_external"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"), nullable=True)
    values: Mapped[dict] = mapped_column(JSON, default=dict)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    unreached: Mapped[list | None] = mapped_column(JSON, nullable=True)


class ApiKey(Base):
    """A host system's key to one organisation's API, with the scopes it may use.

    Only the key's SHA-256 is kept: keys are 256 random bits, so a fast hash is as good as a slow one
    and lets a request find its key by an index seek. The key itself is shown once, at creation.
    """

    __tablename__ = "api_keys"
    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_api_keys_name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # hex SHA-256
    scopes: Mapped[str] = mapped_column(String(100))  # comma-separated, core.api_access.SCOPES
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    def scope_list(self) -> list[str]:
        return [s for s in self.scopes.split(",") if s]


class ApiAudit(Base):
    """One write through the API: who (a key's name, or "operator"), what route, and what came of it."""

    __tablename__ = "api_audit"
    __table_args__ = (Index("ix_api_audit_org_at", "org_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    actor: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(8))
    route: Mapped[str] = mapped_column(String(200))  # the route's template, not the request's path
    status: Mapped[int] = mapped_column(Integer)
    # Counts only (created/updated/unchanged, leased, acknowledged, queued …): never names or numbers.
    outcome: Mapped[dict] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class AutoRoundSlot(Base):
    """An automatic round's slot, claimed once: the unique key makes it run exactly once across
    processes and restarts (claimed in the same transaction as the round's messages)."""

    __tablename__ = "auto_round_slots"
    __table_args__ = (UniqueConstraint("org_id", "slot_at", name="uq_auto_round_slots"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    slot_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the slot's moment, in UTC
    month: Mapped[str] = mapped_column(String(7))  # the month reminded about
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    round_id: Mapped[int | None] = mapped_column(ForeignKey("reminder_rounds.id", ondelete="SET NULL"),
                                                 nullable=True)


class Escalation(Base):
    """An assistant listed to supervisors and coordinators for a month: once per month per assistant."""

    __tablename__ = "escalations"
    __table_args__ = (UniqueConstraint("org_id", "staff_id", "month", name="uq_escalations"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    month: Mapped[str] = mapped_column(String(7))
    reminders: Mapped[int] = mapped_column(Integer)  # accepted reminders counted when escalated
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
