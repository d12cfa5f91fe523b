"""The outbox (every message that leaves) and each channel's shared health."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.models._base import Base, BigId, UTCDateTime


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
