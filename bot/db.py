"""The database engine, sessions and migrations."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import event, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

READ_ONLY = "paminn_read_only"  # execution option: this connection only reads (SQLite: plain BEGIN)
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def make_engine(url: str, **kwargs) -> AsyncEngine:
    """An async engine; SQLite connections get WAL, foreign keys and a busy timeout."""
    # A failed statement's parameters are names, mobiles, personal numbers and message texts:
    # keep them out of exception texts, which end up in logs.
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            # pysqlite's own transaction handling breaks SAVEPOINT (a RELEASE outside BEGIN commits):
            # turn it off and begin transactions ourselves (SQLAlchemy's documented recipe).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(conn):
            # IMMEDIATE takes the write lock up front, so concurrent writers wait (busy_timeout)
            # instead of failing when their read snapshot went stale before their first write.
            # A connection marked read_only (health and metrics reads) takes no lock: WAL readers
            # do not wait for a writer.
            conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")

        return engine
    parsed = make_url(url)
    search_path = parsed.query.get("search_path")
    if search_path:
        # "?search_path=schema" puts this deployment (or test) in its own PostgreSQL schema.
        url = parsed.difference_update_query(["search_path"])
        kwargs.setdefault("connect_args", {})["server_settings"] = {"search_path": search_path}
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    # No pre-ping: it costs a round trip on every request. A connection broken by a database
    # restart fails one request (Twilio and Telegram retry it) and is then replaced; recycle
    # bounds how long any connection lives.
    kwargs.setdefault("pool_recycle", 300)
    return create_async_engine(url, **kwargs)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


async def upgrade(engine: AsyncEngine) -> None:
    """Run migrations to head on ``engine`` (inside the running loop, via a sync connection)."""
    cfg = alembic_config()

    def _run(sync_conn):
        cfg.attributes["connection"] = sync_conn
        command.upgrade(cfg, "head")

    async with engine.begin() as conn:
        await conn.run_sync(_run)


class SchemaNotAtHead(RuntimeError):
    """The database's schema is not the one this code expects (run `paminn db upgrade`)."""


async def check_at_head(engine: AsyncEngine) -> None:
    """Refuse to start on a schema other than head, without writing (a worker of ``serve --workers``
    finds the schema its parent migrated; migrating again would queue behind live traffic for
    SQLite's single write lock)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())

    def _current(sync_conn):
        return set(MigrationContext.configure(sync_conn).get_current_heads())

    async with engine.connect() as conn:
        conn = await conn.execution_options(**{READ_ONLY: True})
        current = await conn.run_sync(_current)
    if current != heads:
        raise SchemaNotAtHead(f"the database schema is at {sorted(current) or 'nothing'}, this code needs "
                              f"{sorted(heads)}: run `paminn db upgrade` first")


def _select_one(sync_conn) -> None:
    # On the driver's connection, outside a transaction: SQLite's BEGIN IMMEDIATE (above) would make
    # the health check wait for whatever transaction is writing.
    cursor = sync_conn.connection.dbapi_connection.cursor()
    try:
        cursor.execute("SELECT 1")
        cursor.fetchall()
    finally:
        cursor.close()


async def ping(engine: AsyncEngine) -> bool:
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_select_one)
        return True
    except Exception:
        return False
