"""Alembic environment: runs on a connection handed in by bot.db.upgrade, or on PAMINN_DATABASE_URL."""
from __future__ import annotations

import asyncio
import os

from alembic import context

from core.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from bot.db import make_engine

    async def main() -> None:
        engine = make_engine(os.environ.get("PAMINN_DATABASE_URL", "sqlite+aiosqlite:///./paminn.db"))
        async with engine.begin() as conn:
            await conn.run_sync(_run)
        await engine.dispose()

    asyncio.run(main())


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
