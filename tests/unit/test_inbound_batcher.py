"""The batcher: arrivals during a batch form the next one; one bad text does not fail the others."""
from __future__ import annotations

import asyncio

import pytest

from bot.inbound import InboundBatcher
from handlers.router import Handled, InboundText


def texts(n: int, body: str = "OK") -> list[InboundText]:
    return [InboundText("sms", f"SM{i}", f"+4670000{i:04d}", body) for i in range(n)]


async def test_texts_arriving_together_are_handled_in_few_batches_in_order():
    batches: list[list[str]] = []

    async def handle(batch):
        batches.append([t.provider_id for t in batch])
        await asyncio.sleep(0.01)  # the database round trip, during which more texts arrive
        return [Handled([f"svar {t.provider_id}"], True) for t in batch]

    batcher = InboundBatcher(handle, max_batch=30)
    handled = await asyncio.gather(*(batcher.submit(t) for t in texts(100)))
    assert [h.replies for h in handled] == [[f"svar SM{i}"] for i in range(100)]
    assert [pid for batch in batches for pid in batch] == [f"SM{i}" for i in range(100)]
    assert len(batches) == 4 and max(map(len, batches)) == 30  # 30 + 30 + 30 + 10: bounded, no timer
    # A lone text later goes at once, on its own.
    assert (await batcher.submit(texts(1)[0])).replies == ["svar SM0"]
    assert batches[-1] == ["SM0"]


async def test_a_text_that_fails_fails_alone():
    async def handle(batch):
        if any(t.body == "boom" for t in batch):
            raise RuntimeError("a bug for this text only")
        return [Handled([t.body.lower()], True) for t in batch]

    batcher = InboundBatcher(handle)
    batch = texts(5) + [InboundText("sms", "SMbad", "+46700009999", "boom")] + texts(5, "HJÄLP")
    outcomes = await asyncio.gather(*(batcher.submit(t) for t in batch), return_exceptions=True)
    assert [o.replies if isinstance(o, Handled) else "error" for o in outcomes] == (
        [["ok"]] * 5 + ["error"] + [["hjälp"]] * 5)


async def test_a_request_that_goes_away_does_not_stop_its_text():
    done: list[str] = []

    async def handle(batch):
        await asyncio.sleep(0.02)
        done.extend(t.provider_id for t in batch)
        return [Handled(["ok"], True) for _ in batch]

    batcher = InboundBatcher(handle)
    waiting = asyncio.create_task(batcher.submit(texts(1)[0]))
    await asyncio.sleep(0.005)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await batcher.close()
    assert done == ["SM0"]
