"""Reminder rounds and their history; automatic rounds' slots and escalations."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.models._base import Base, BigId, UTCDateTime


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
