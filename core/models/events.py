"""Event notifications: organisations' templates and the events they are sent for."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.models._base import Base, BigId, UTCDateTime


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
