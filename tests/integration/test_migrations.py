"""The migrations build exactly the schema the models describe, on both backends."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from bot.db import make_engine, upgrade
from core.models import Base


async def test_migrations_match_the_models(db_url):
    engine = make_engine(db_url)
    try:
        await upgrade(engine)
        async with engine.connect() as conn:
            differences = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata))
    finally:
        await engine.dispose()
    assert differences == []
