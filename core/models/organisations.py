"""Organisations and their people: staff, care recipients, who supervises whom, and the shifts."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.models._base import Base, BigId, UTCDateTime


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
    # Loaded only where a query asks for it (core.store.staff_by_addresses): each person then holds their
    # organisation, so the session keeps it (its identity map holds objects only while something refers to
    # them) and store.orgs_by_ids finds it without a query. Never loaded lazily, never written through.
    organisation: Mapped[Organisation] = relationship(lazy="raise", viewonly=True)
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
