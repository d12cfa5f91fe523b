"""The event loop Påminn runs on: uvloop's (libuv) where it is installed, asyncio's own otherwise.

One process serves webhooks, dispatches the outbox and runs the ticks on one loop, so the loop's own
cost per socket read, write and callback is paid many times over: under the mixed load (docs/benchmarks.md)
uvloop takes about a sixth of the process's CPU off. It is not built for Windows, where asyncio's
loop is used.
"""
from __future__ import annotations

import asyncio
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
