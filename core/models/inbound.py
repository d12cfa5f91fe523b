"""Inbound messages: each stored once per (channel, provider id), with the reply it got."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.models._base import Base, BigId, UTCDateTime


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
    # and how many tries failed (at webhooks.telegram.MAX_UPDATE_TRIES the update is given up).
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
