"""Host systems' API keys and their audit trail."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.models._base import Base, BigId, UTCDateTime


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
