"""Customers (a cleaning or care company's own) and their recurring reminders."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.models._base import Base, BigId, UTCDateTime


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
