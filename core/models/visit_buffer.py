"""Visits held for the integration buffer."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.models._base import Base, BigId, UTCDateTime


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
