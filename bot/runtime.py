"""How the serving process runs: on uvloop's event loop (libuv) where it is installed, asyncio's own
otherwise, with the garbage collector tuned for a long-lived server.

One process serves webhooks, dispatches the outbox and runs the ticks on one loop, so the loop's own
cost per socket read, write and callback is paid many times over: under the mixed load (docs/benchmarks.md)
uvloop takes about a sixth of the process's CPU off. It is not built for Windows, where asyncio's
loop is used.
"""
from __future__ import annotations

import asyncio
import gc
from typing import Any, Coroutine, TypeVar

T = TypeVar("T")


def new_event_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on that loop."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(main)


# Allocations of container objects between two young-generation collections (Python's default is 700),
# and how many of those before each older generation is looked at (defaults 10 and 10).
GC_THRESHOLDS = (100_000, 50, 100)


def tune_gc() -> None:
    """Call once the app is built, before it serves: what was imported and set up is moved out of the
    collector's sight for good (``gc.freeze``), and the young generation is collected less often.

    Under the mixed load the default collector was the process's largest single cost: every 700
    allocations a collection, and the full ones walk every object the process holds. Tuned, the same
    work takes 19-24 s of CPU instead of 25-32 s (docs/benchmarks.md). Memory is unaffected for
    garbage freed by reference counting (nearly all of it); only reference cycles wait a little longer.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
