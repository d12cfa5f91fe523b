"""What several store modules share: bulk inserts (COPY on PostgreSQL), IN-list slices, and the
conditions spelled the same way everywhere (a person the host still has, a shift not finished)."""
from __future__ import annotations

import json
from operator import itemgetter
from typing import Callable, Iterable, TypeVar, cast

from sqlalchemy import ARRAY, JSON, CursorResult, Result, String, any_, bindparam, insert, or_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import Shift, Staff

COPY_THRESHOLD = 500
T = TypeVar("T")


async def bulk_insert(session: AsyncSession, table, rows: list[dict]) -> None:
    """Insert many rows with the same keys, inside the session's transaction.

    On PostgreSQL large batches go through COPY (asyncpg's copy_records_to_table on the
    session's own connection); elsewhere a Core executemany, which skips the ORM's bulk layer.
    """
    if not rows:
        return
    conn = await session.connection()
    if conn.dialect.name != "postgresql" or len(rows) < COPY_THRESHOLD:
        await session.execute(insert(table), rows)
        return
    columns = list(rows[0])
    binders = [json_text if isinstance(table.c[c].type, JSON) else getattr(table.c[c].type, "process_bind_param", None)
               for c in columns]
    # Only the columns whose type converts are touched value by value (a round or a tick writes tens of
    # thousands of rows here, on the loop that also answers webhooks).
    converted, dialect = [(n, b) for n, b in enumerate(binders) if b], conn.dialect
    take = itemgetter(*columns) if len(columns) > 1 else (lambda r: (r[columns[0]],))
    records = []
    for r in rows:
        record = list(take(r))
        for n, b in converted:
            record[n] = b(record[n], dialect)
        records.append(record)
    raw = await conn.get_raw_connection()
    assert raw.driver_connection is not None  # a connection the session holds open has its driver's
    await raw.driver_connection.copy_records_to_table(table.name, records=records, columns=columns)


def affected_rows(result: Result) -> int:
    """The rows an UPDATE or DELETE matched. ``AsyncSession.execute`` is typed as returning a plain Result;
    for those statements it is a CursorResult, which has ``rowcount``."""
    return cast(CursorResult, result).rowcount


def json_text(value, dialect) -> str | None:
    """COPY takes a JSON column as text."""
    return None if value is None else json.dumps(value)


async def conflict_insert(session: AsyncSession):
    """The backend's own INSERT construct, the one that has ``on_conflict_do_nothing``."""
    return pg_insert if on_postgresql(session) else sqlite_insert


def on_postgresql(session: AsyncSession) -> bool:
    """Whether the session talks to PostgreSQL (read from its engine: no round trip)."""
    return session.get_bind().dialect.name == "postgresql"


def one_of(column, name: str, postgresql: bool):
    """``column`` is one of the list bound as ``name``.

    On PostgreSQL ``column = ANY(:name)`` with the list as one array parameter: the SQL text is the same
    for every length, so the driver prepares the statement once per connection. An expanding ``IN``
    writes one placeholder per item, and the statements every inbound batch runs would otherwise be
    prepared again for every batch size (asyncpg keeps 100 statements per connection). SQLite has no
    arrays: there it is the expanding ``IN``.
    """
    if postgresql:
        return column == any_(bindparam(name, type_=array_of(column.type)))
    return column.in_(bindparam(name, expanding=True))


def array_of(item_type) -> ARRAY:
    """The array type to bind a list of ``item_type`` values as, for PostgreSQL. A string's length is left
    off: the bound array is cast to it, and a cast to ``VARCHAR(n)`` cuts a longer value short without a
    word, where a plain parameter is refused ("value too long") by the column it is written to."""
    return ARRAY(String() if isinstance(item_type, String) else item_type)


def per_backend(build: Callable[[bool], T]) -> dict[bool, T]:
    """A statement built once for each backend: ``build(postgresql)``, keyed by ``on_postgresql``."""
    return {postgresql: build(postgresql) for postgresql in (False, True)}


def chunks(ids: list[int], size: int = 5000) -> Iterable[list[int]]:
    """Slices of ``ids`` that fit every backend's limit on bound parameters."""
    return (ids[start:start + size] for start in range(0, len(ids), size))


def active_staff():
    """Staff the host still has: a deactivated person is no one we talk to."""
    return Staff.deactivated_at.is_(None)


def unfinished_shift():
    # Spelled exactly as ix_shifts_unfinished's WHERE, so both backends use that partial index.
    return or_(Shift.reported == False, Shift.signed == False)  # noqa: E712
