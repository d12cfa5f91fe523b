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

    async def handle(batch, act_first):
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
    async def handle(batch, act_first):
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

    async def handle(batch, act_first):
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


async def test_a_batch_stuck_past_the_wait_is_cancelled_and_answered_unavailable_within_the_bound():
    from bot.inbound import InboundUnavailable

    committed: list[str] = []
    release = asyncio.Event()

    async def handle(batch, act_first):
        await release.wait()  # a table lock held elsewhere
        committed.extend(t.provider_id for t in batch)
        return [Handled(["ok"], True) for _ in batch]

    batcher = InboundBatcher(handle, wait=0.3)
    started = asyncio.get_running_loop().time()
    with pytest.raises(InboundUnavailable):
        await batcher.submit(texts(1)[0])
    assert 0.3 <= asyncio.get_running_loop().time() - started < 0.5
    release.set()
    await asyncio.sleep(0.05)
    assert committed == []  # the cancelled batch never got to its commit
    assert (await batcher.submit(texts(1)[0])).replies == ["ok"]  # the retry is acted on
    await batcher.close()


async def test_a_slow_batch_does_not_hold_unrelated_texts_behind_it():
    async def handle(batch, act_first):
        if any(t.body == "slow" for t in batch):
            await asyncio.sleep(5)  # waits for a row lock another process holds
        return [Handled([t.body], True) for t in batch]

    batcher = InboundBatcher(handle, wait=1.0, overtake=0.1)
    loop = asyncio.get_running_loop()
    slow = asyncio.create_task(batcher.submit(InboundText("sms", "SMslow", "+46700000001", "slow")))
    await asyncio.sleep(0.01)
    started = loop.time()
    quick = await batcher.submit(InboundText("sms", "SMquick", "+46700000002", "quick"))
    assert quick.replies == ["quick"] and loop.time() - started < 0.3  # it started its own batch beside
    with pytest.raises(Exception) as caught:
        await slow
    assert type(caught.value).__name__ == "InboundUnavailable"
    await batcher.close()


async def test_beside_a_slow_batch_a_senders_later_text_still_waits_for_their_earlier_one():
    order: list[str] = []

    async def handle(batch, act_first):
        if any(t.body == "STOPP" for t in batch):
            await asyncio.sleep(0.4)  # slow, but inside the bound
        order.extend(t.body for t in batch)
        return [Handled([t.body], True) for t in batch]

    batcher = InboundBatcher(handle, wait=2.0, overtake=0.1)
    first = asyncio.create_task(batcher.submit(InboundText("sms", "SM1", "+46700000001", "STOPP")))
    await asyncio.sleep(0.01)
    later = asyncio.create_task(batcher.submit(InboundText("sms", "SM2", "+46700000001", "START")))
    other = asyncio.create_task(batcher.submit(InboundText("sms", "SM3", "+46700000002", "OK")))
    await asyncio.gather(first, later, other)
    assert order == ["OK", "STOPP", "START"]  # the other sender overtook; this sender's texts kept their order
    await batcher.close()


@pytest.mark.parametrize("pipeline", [None, 0.05])
async def test_with_a_pipeline_the_next_texts_start_beside_a_running_batch_and_a_third_waits(pipeline):
    loop = asyncio.get_running_loop()
    started: list[tuple[float, list[str]]] = []

    async def handle(batch, act_first):
        started.append((loop.time(), [t.provider_id for t in batch]))
        await asyncio.sleep(0.3)  # a batch's round trips on a busy loop
        return [Handled([t.provider_id], True) for t in batch]

    batcher = InboundBatcher(handle, pipeline=pipeline)  # overtake stays at its 1 s
    sent = texts(5)
    first = asyncio.create_task(batcher.submit(sent[0]))
    await asyncio.sleep(0.01)
    second = [asyncio.create_task(batcher.submit(t)) for t in sent[1:3]]
    await asyncio.sleep(0.1)
    third = [asyncio.create_task(batcher.submit(t)) for t in sent[3:]]
    handled = await asyncio.gather(first, *second, *third)
    assert [h.replies for h in handled] == [[t.provider_id] for t in sent]
    if pipeline is None:  # everything that arrived during the first batch is the next one, after it
        assert [ids for _, ids in started] == [["SM0"], ["SM1", "SM2", "SM3", "SM4"]]
        assert started[1][0] - started[0][0] >= 0.29
    else:
        assert [ids for _, ids in started] == [["SM0"], ["SM1", "SM2"], ["SM3", "SM4"]]
        assert started[1][0] - started[0][0] < 0.2  # beside the first, once it had run 0.05 s
        assert started[2][0] - started[0][0] >= 0.29  # no third lane: it waited for the first to finish
    await batcher.close()


async def test_a_batch_that_met_a_repeat_is_handled_again_stored_first_and_so_are_the_next_for_a_while():
    """Acting first is a statement fewer, but a batch holding a text stored before must be done again
    stored first; retries come in runs, so the batches after it are stored first for a while."""
    from handlers.router import SeenBefore

    calls: list[tuple[list[str], bool]] = []
    stored = {"SM0"}  # handled before: a provider's retry

    async def handle(batch, act_first):
        calls.append(([t.provider_id for t in batch], act_first))
        if act_first and any(t.provider_id in stored for t in batch):
            raise SeenBefore("stored before")
        stored.update(t.provider_id for t in batch)
        return [Handled([t.provider_id], True) for t in batch]

    batcher = InboundBatcher(handle, stored_first_for=0.2)
    first = await asyncio.gather(*(batcher.submit(t) for t in texts(3)))
    assert [h.replies for h in first] == [["SM0"], ["SM1"], ["SM2"]]
    assert calls == [(["SM0", "SM1", "SM2"], True), (["SM0", "SM1", "SM2"], False)]
    fresh = InboundText("sms", "SMnew", "+46700001111", "OK")
    assert (await batcher.submit(fresh)).replies == ["SMnew"]
    assert calls[-1] == (["SMnew"], False)  # still within the window: stored first
    await asyncio.sleep(0.25)
    later = InboundText("sms", "SMlater", "+46700002222", "OK")
    assert (await batcher.submit(later)).replies == ["SMlater"]
    assert calls[-1] == (["SMlater"], True)


async def test_a_batch_that_fails_acting_first_is_retried_stored_first_then_text_by_text():
    """A batch that fails acting first may have met its twin handled beside it (a duplicate key, a
    deadlock): it is done again storing first, as a batch. If that fails too, each text is retried on
    its own, storing first: a repeat of one handled before gets its stored reply, never a second act."""
    calls: list[tuple[list[str], bool]] = []

    async def handle(batch, act_first):
        calls.append(([t.provider_id for t in batch], act_first))
        if len(batch) > 1:
            raise RuntimeError("a bug")
        return [Handled(["ok"], True)]

    batcher = InboundBatcher(handle)
    await asyncio.gather(*(batcher.submit(t) for t in texts(2)))
    assert calls == [(["SM0", "SM1"], True), (["SM0", "SM1"], False), (["SM0"], False), (["SM1"], False)]
