"""The mixed-load benchmark (benchmarks/mixed.py) at a tiny scale: its bookkeeping finds nothing lost or doubled.

Speed is not asserted (the benchmark prints it); this keeps the benchmark itself working and its checks honest.
"""
from __future__ import annotations

from benchmarks.mixed import measure
from tests.conftest import pg_schema


async def test_mixed_load_loses_and_doubles_nothing():
    async with pg_schema("mixed") as url:
        result = await measure(url, assistants=50, customers=20, concurrency=10, timeout=60, log=lambda *_: None)
    assert result["problems"] == []
    assert result["round_at_fake"] == 50 and result["tick_messages"] == 20
    assert result["load"]["requests"] > 0 and result["db"]["acknowledged"] == result["load"]["senders"]
