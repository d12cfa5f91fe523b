"""The column type and base every table shares: times stored as naive UTC, ids that are BIGINT on PostgreSQL."""
from __future__ import annotations

from datetime import timezone
from typing import TYPE_CHECKING, ClassVar

from sqlalchemy import BigInteger, DateTime, Integer, Table
from sqlalchemy.orm import DeclarativeBase
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
