"""Organisations' templates rendered in worker processes, so the event loop never waits on one.

``core.templates`` puts a budget on everything a template can spend; this is the backstop for
whatever a budget misses. Each worker is ``python -m bot.template_workers``, a persistent process
that reads one JSON request per line on stdin and answers one JSON line per job on stdout. A
worker that gives no answer for ``hard_seconds`` (stuck in one C-level operation, which no Python
check can interrupt) is killed and replaced: a thread could not be killed and would keep the GIL.
The job it was on fails as "takes too long to render", and the jobs after it are sent again.

Answers are flushed every few milliseconds rather than one by one (a tick renders thousands), so
after a kill the jobs not yet answered are sent again one answer per flush ("careful"), which
names the job that hangs exactly. Workers also run with a cap on their address space, so a text
that makes huge values fails there with MemoryError instead of taking the machine's memory.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence

from core.templates import LIMITS, Limits, Rendered, RenderJob, TenantTime, check_template, render_batch

logger = logging.getLogger(__name__)

READY = b'"ready"\n'
FLUSH_SECONDS = 0.02
MEMORY_LIMIT = 1 << 30  # bytes of address space per worker
STREAM_LIMIT = 1 << 22  # longest answer line: a 20,000-character text, escaped
PARALLEL_FROM = 200  # jobs per worker from which a batch is split between the workers


class RendererUnavailable(RuntimeError):
    """No worker could be started: the service's fault, not the template's (try again later)."""


class _Worker:
    def __init__(self, proc: asyncio.subprocess.Process):
        self.proc = proc

    @classmethod
    async def start(cls, start_seconds: float) -> "_Worker":
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.template_workers", stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE, limit=STREAM_LIMIT)
        except OSError as exc:
            raise RendererUnavailable(f"cannot start a template worker ({type(exc).__name__})") from None
        worker = cls(proc)
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), start_seconds)
        except asyncio.TimeoutError:
            line = b""
        if line != READY:
            worker.kill()
            raise RendererUnavailable("a template worker did not start")
        return worker

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None

    def kill(self) -> None:
        if self.alive:
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass
        # Reap it in the background; nothing waits on a killed worker.
        asyncio.get_running_loop().create_task(self.proc.wait())


class TemplateWorkers:
    """A ``core.templates.Renderer``: a small pool of persistent worker processes, started on first use."""

    def __init__(self, size: int = 2, limits: Limits = LIMITS, hard_seconds: float | None = None,
                 start_seconds: float = 30.0):
        self.limits = limits
        # A job stops itself at limits.seconds; one that has not answered well after that is stuck.
        self.hard_seconds = hard_seconds if hard_seconds is not None else 3 * limits.seconds + 1.0
        self._start_seconds = start_seconds
        self._size = max(1, size)
        self._slots = asyncio.Semaphore(self._size)
        self._idle: list[_Worker] = []
        self._closed = False
        self.killed = 0  # workers killed for overrunning (for tests and metrics)

    async def render_many(self, jobs: Sequence[RenderJob], tenants: TenantTime | None = None) -> list[Rendered]:
        if not jobs:
            return []
        texts: dict[str, int] = {}
        encoded = [[texts.setdefault(j.text, len(texts)), j.values, j.group, j.tenant] for j in jobs]
        text_list = list(texts)

        def request(indexes: list[int], careful: bool) -> dict:
            return {"op": "render", "limits": self.limits.to_json(), "careful": careful,
                    "tenant_limit": tenants.limit if tenants else None,
                    "spent": dict(tenants.spent) if tenants else None,
                    "texts": text_list, "jobs": [encoded[i] for i in indexes]}

        def answer(index: int, line: list) -> Rendered:
            code, payload, took = line
            if tenants is not None:
                tenant = jobs[index].tenant
                tenants.spent[tenant] = tenants.spent.get(tenant, 0.0) + took
            return Rendered(payload, code) if code == "ok" else Rendered(code=code, problem=payload)

        def stuck(index: int) -> Rendered:
            if tenants is not None:
                tenant = jobs[index].tenant
                tenants.spent[tenant] = tenants.spent.get(tenant, 0.0) + self.hard_seconds
            return Rendered(code="slow", problem=f"takes too long to render (over {self.hard_seconds:g} s)")

        results = await self._run(len(jobs), request, answer, stuck, [j.group for j in jobs])
        # A group whose job hung fails whole, as inside a worker.
        failed = {jobs[i].group: r for i, r in enumerate(results)
                  if jobs[i].group and not r.ok and r.code != "deferred"}
        return [failed.get(j.group, r) if j.group and r.code in ("ok", "deferred") else r
                for j, r in zip(jobs, results)]

    async def check_many(self, checks: Sequence[tuple[str, str]]) -> list[list[str]]:
        if not checks:
            return []

        def request(indexes: list[int], careful: bool) -> dict:
            return {"op": "check", "limits": self.limits.to_json(), "careful": careful,
                    "checks": [list(checks[i]) for i in indexes]}

        def stuck(index: int) -> list[str]:
            return [f"takes too long to render (over {self.hard_seconds:g} s)"]

        return await self._run(len(checks), request, lambda index, line: line, stuck)

    async def _run(self, count: int, request, answer, stuck, groups: list[str] | None = None) -> list:
        """One answer per job; a large batch is split between the workers (never inside a group)."""
        results: list = [None] * count
        chunks = _chunks(count, self._size, groups)
        await asyncio.gather(*(self._run_chunk(chunk, results, request, answer, stuck) for chunk in chunks))
        return results

    async def _run_chunk(self, pending: list[int], results: list, request, answer, stuck) -> None:
        """Send the jobs; collect one answer each. A worker that hangs is killed, the job it was on
        gets ``stuck``, and the rest go again (to a fresh worker, answer by answer)."""
        careful = False
        while pending:
            async with self._slots:
                worker = await self._take()
                done = 0
                try:
                    worker.proc.stdin.write(json.dumps(request(pending, careful), ensure_ascii=False).encode()
                                            + b"\n")
                    await worker.proc.stdin.drain()
                    async with asyncio.timeout(self.hard_seconds) as deadline:
                        while done < len(pending):
                            line = await worker.proc.stdout.readline()
                            if not line:
                                raise ConnectionResetError("template worker stopped")
                            for item in json.loads(line):  # the answers of one flush
                                results[pending[done]] = answer(pending[done], item)
                                done += 1
                            deadline.reschedule(asyncio.get_running_loop().time() + self.hard_seconds)
                except (TimeoutError, ConnectionError, ValueError, IndexError) as exc:
                    worker.kill()
                    self.killed += 1
                    logger.warning("template worker overran or stopped (%s); killed, %d jobs left",
                                   type(exc).__name__, len(pending) - done)
                    pending = pending[done:]
                    if careful:  # answers came one by one: the first unanswered job is the culprit
                        results[pending[0]] = stuck(pending[0])
                        pending = pending[1:]
                    careful = True
                    continue
                except BaseException:  # cancelled mid-answer: the worker's next lines would be stale
                    worker.kill()
                    raise
                self._idle.append(worker)
                pending = []

    async def _take(self) -> _Worker:
        if self._closed:
            raise RendererUnavailable("the template workers are closed")
        while self._idle:
            worker = self._idle.pop()
            if worker.alive:
                return worker
        return await _Worker.start(self._start_seconds)

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for worker in idle:
            if worker.alive:
                worker.proc.stdin.close()
        for worker in idle:
            try:
                await asyncio.wait_for(worker.proc.wait(), 2)
            except asyncio.TimeoutError:
                worker.kill()


def _chunks(count: int, workers: int, groups: list[str] | None) -> list[list[int]]:
    """Job indexes split into about equal runs, one per worker, for batches worth splitting;
    a group ("" is none) stays in one run, so it still fails whole inside one worker."""
    if workers < 2 or count < 2 * PARALLEL_FROM:
        return [list(range(count))]
    bounds, step = [0], -(-count // workers)
    for _ in range(workers - 1):
        cut = min(bounds[-1] + step, count)
        while groups and 0 < cut < count and groups[cut] and groups[cut] == groups[cut - 1]:
            cut += 1
        bounds.append(cut)
    bounds.append(count)
    return [list(range(a, b)) for a, b in zip(bounds, bounds[1:]) if b > a]


# ---------------------------------------------------------------- the worker process


def _protect() -> None:
    """Limit this worker: memory, and death with its parent (a stuck worker would not read EOF)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent, which stops us
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if soft == resource.RLIM_INFINITY or soft > MEMORY_LIMIT:
            resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, hard))
    except (ImportError, ValueError, OSError):
        pass
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
        if os.getppid() == 1:  # the parent died before we asked
            sys.exit(0)


def _answers(req: dict):
    limits = Limits(**req["limits"])
    if req["op"] == "check":
        for text, kind in req["checks"]:
            yield check_template(text, kind, limits)
        return
    texts = req["texts"]
    tenants = TenantTime(req.get("tenant_limit"), dict(req.get("spent") or {}))
    jobs = [RenderJob(texts[t], values, group, tenant) for t, values, group, tenant in req["jobs"]]
    for result, took in render_batch(jobs, limits, tenants):
        yield [result.code, result.text if result.ok else result.problem, took]


def main() -> None:
    _protect()
    out = sys.stdout.buffer
    out.write(READY)
    out.flush()
    for line in sys.stdin.buffer:
        req = json.loads(line)
        careful, batch, last_flush = bool(req.get("careful")), [], time.monotonic()
        for result in _answers(req):
            batch.append(result)
            if careful or time.monotonic() - last_flush >= FLUSH_SECONDS:
                _send(out, batch)
                batch, last_flush = [], time.monotonic()
        _send(out, batch)


def _send(out, answers: list) -> None:
    """One line per flush: the answers since the last one, in order."""
    if answers:
        out.write(json.dumps(answers, ensure_ascii=False).encode() + b"\n")
        out.flush()


if __name__ == "__main__":
    main()
