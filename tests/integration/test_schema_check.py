"""A `serve --workers` child checks the schema its parent migrated instead of migrating again."""
from __future__ import annotations

import pytest

from bot.db import SchemaNotAtHead, check_at_head, make_engine, upgrade


async def test_a_worker_refuses_an_unmigrated_database_and_says_what_to_run(tmp_path):
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    try:
        with pytest.raises(SchemaNotAtHead, match=r"schema is at nothing.*run `paminn db upgrade` first"):
            await check_at_head(engine)
        await upgrade(engine)
        await check_at_head(engine)  # at head: nothing to say
    finally:
        await engine.dispose()
