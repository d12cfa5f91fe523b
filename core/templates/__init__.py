"""Texts that organisations write themselves: Jinja2's sandbox, the names they may use, and a cost limit.

A template sees only plain values (no objects, no attributes to climb through), a missing name is an
error at import time rather than an empty gap in a sent message, and free text is simply a template
without names.

What an organisation writes is untrusted, and the sandbox alone bounds only what a template may
*reach*, not what it may *cost*: ``{% for a in x %}{% for b in x %}``, ``{{ 9**(9**7) }}``,
``'x'*10**9``, ``'%0999999999d'|format(1)`` or a macro calling itself twice each stop a process.
So every rendering here runs on a budget (``Limits``), counted where a template can spend:
each loop turn, call, filter, operator, attribute or item lookup and output expression is a step;
every value made along the way is measured (characters, items, bits) before or right after it is
made, and the characters made in all are counted too; the output is counted while it streams; and
the clock is read every few steps. Operations whose cost is known only from their arguments
(``**``, ``*``, ``%``-formats and ``str.format`` widths, ``center``, ``indent``, ``wordwrap``,
``replace``, ``batch``, ``slice``, ``range``, ``join``) are checked *before* they run; only
filters and string methods known to be cheap are offered at all.

Compiling is cheap too: the environment is built with ``optimized=False`` and a finalize that
needs the render context, so Jinja's compiler folds no constants (it would compute ``9**(9**7)``
while compiling, i.e. in the import's syntax check), and intercepted operators are never folded.

The package is pure: ``budget`` (limits and spending), ``sandbox`` (the environment that counts), the
rendering API here. Rendering off the event loop, in worker processes that are killed and
replaced when one overruns anyway (the backstop for whatever a budget misses), is
``bot/template_workers.py``; handlers reach it through the ``Renderer`` protocol below.
"""
from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Protocol

from jinja2 import Template, TemplateError, UndefinedError, meta

from core.templates.budget import _BUDGET, COST_CODES, LIMITS, SWEDISH, Budget, Limits, TooCostly
from core.templates.sandbox import _env

# What a customer reminder's text may mention (Swedish, as the people writing them do).
REMINDER_NAMES = {
    "kund": "the customer's name",
    "mottagare": "the recipient's name",
    "rubrik": "the reminder's title",
    "typ": "the reminder's type",
    "datum": "the due date, e.g. 1 juli 2026",
    "dagar_kvar": "days left until the due date",
}
# What an event notification's text may mention.
EVENT_NAMES = {"kund": "the customer's name", "mottagare": "the recipient's name", "rubrik": "the template's title",
               "typ": "the event type", "händelse": "the event's own values, e.g. {{ händelse.tid }}"}
NAMES = {"reminder": REMINDER_NAMES, "event": EVENT_NAMES}
MAX_TEMPLATE = 2000


@dataclass(slots=True)  # made thousands of times a tick: plain slots, treated as read-only
class Rendered:
    """One rendering's outcome: the text, or why there is none (``problem``, English; ``swedish``)."""

    text: str | None = None
    code: str = "ok"  # ok | slow | output | number | width | undefined | error | deferred
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.code == "ok"

    @property
    def costly(self) -> bool:
        return self.code in COST_CODES

    @property
    def reason(self) -> str:
        """Why there is no text, as a sentence's end: "<the text> takes too long to render"."""
        if self.code == "undefined":
            return f"cannot be rendered ({self.problem})"
        return self.problem or "cannot be rendered"

    @property
    def swedish(self) -> str:
        return SWEDISH.get(self.code, SWEDISH["error"])


@dataclass(slots=True)
class RenderJob:
    """A text to render with its values. ``group`` jobs share a fate: once one fails, the rest of the
    group fail with it unrendered (a reminder's recipients); ``tenant`` is whose time it spends."""

    text: str
    values: dict
    group: str = ""
    tenant: str = ""


@dataclass
class TenantTime:
    """Seconds each tenant (organisation) has spent rendering, kept across the batches of one tick,
    and the limit after which its remaining jobs wait (``deferred``) so others are not held up."""

    limit: float | None = None
    spent: dict[str, float] = field(default_factory=dict)

    def exhausted(self) -> set[str]:
        return {t for t, s in self.spent.items() if self.limit is not None and s >= self.limit}


class Renderer(Protocol):
    """Renders organisations' templates without blocking the caller's event loop."""

    async def render_many(self, jobs: Sequence[RenderJob], tenants: TenantTime | None = None) -> list[Rendered]:
        """One result per job, in order."""

    async def check_many(self, checks: Sequence[tuple[str, str]]) -> list[list[str]]:
        """For each (text, kind) the import's problems with it: syntax, names, and a trial render."""


# ---------------------------------------------------------------- checking and rendering


def template_problems(text: str, allowed: dict[str, str] = REMINDER_NAMES) -> list[str]:
    """What is wrong with ``text`` as a template: syntax, unknown names, length. Empty when fine.

    Cheap and safe in any process: parsing is linear in the (bounded) text and nothing is folded.
    """
    if len(text) > MAX_TEMPLATE:
        return [f"is longer than {MAX_TEMPLATE} characters"]
    try:
        names = meta.find_undeclared_variables(_env.parse(text))
    except TemplateError as exc:
        return [f"is not a valid template ({exc.message}); write names as {{{{ kund }}}}"]
    except (RecursionError, MemoryError):
        return ["is nested too deeply; write it more simply"]
    unknown = sorted(names - set(allowed))
    if unknown:
        return [f"uses unknown name(s) {', '.join(unknown)}; available: {', '.join(sorted(allowed))}"]
    return []


@lru_cache(maxsize=1024)  # a reminder's text is rendered once per recipient: compile it once
def _compiled(text: str) -> Template:
    return _env.from_string(text)


def _render(text: str, values: dict, limits: Limits) -> str:
    if len(text) > MAX_TEMPLATE:
        raise TooCostly("output", f"is longer than {MAX_TEMPLATE} characters")
    template = _compiled(text)
    # Template.generate, less its traceback rewriting and its merging of globals per call.
    context = template.new_context({**_env.globals, **values}, shared=True)
    budget = Budget(limits)
    token = _BUDGET.set(budget)
    try:
        parts, size = [], 0
        for chunk in template.root_render_func(context):  # the output, counted while it streams
            size += len(chunk)
            if size > limits.output:
                raise TooCostly("output", f"makes output over {limits.output} characters")
            parts.append(chunk)
        return "".join(parts).strip()
    finally:
        _BUDGET.reset(token)


def render(text: str, values: dict[str, object], limits: Limits = LIMITS) -> str:
    """Fill in a checked template in this process, within ``limits``; raise why it cannot be.

    For trusted callers and tests: a service renders organisations' texts through a ``Renderer``.
    """
    return _render(text, values, limits)


def render_one(text: str, values: dict, limits: Limits = LIMITS) -> Rendered:
    """Render within ``limits``; the outcome, never an exception."""
    try:
        return Rendered(_render(text, values, limits))
    except TooCostly as exc:
        return Rendered(code=exc.code, problem=exc.problem)
    except UndefinedError as exc:
        return Rendered(code="undefined", problem=exc.message)
    except RecursionError:
        return Rendered(code="slow", problem="takes too long to render (calls nested too deeply)")
    except MemoryError:
        return Rendered(code="output", problem="makes output too large to hold")
    except Exception as exc:  # a bad template's own error (TypeError, SecurityError, …): the text's problem
        detail = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        return Rendered(code="error", problem=f"cannot be rendered ({detail[:200]})")


def render_batch(jobs: Sequence[RenderJob], limits: Limits = LIMITS, tenants: TenantTime | None = None,
                 clock=time.monotonic) -> Iterator[tuple[Rendered, float]]:
    """Render jobs in order, with the time each took. A group whose job failed fails whole; a tenant
    over its time limit gets ``deferred`` for the rest of its jobs (rendered another time)."""
    failed: dict[str, Rendered] = {}
    for job in jobs:
        if job.group and job.group in failed:
            yield failed[job.group], 0.0
            continue
        if tenants is not None and tenants.limit is not None and tenants.spent.get(job.tenant, 0) >= tenants.limit:
            yield Rendered(code="deferred", problem="waits for the next round"), 0.0
            continue
        started = clock()
        result = render_one(job.text, job.values, limits)
        took = clock() - started
        if tenants is not None:
            tenants.spent[job.tenant] = tenants.spent.get(job.tenant, 0.0) + took
        if not result.ok and job.group:
            failed[job.group] = result
        yield result, took


class SampleValues(dict):
    """An event's values at import time, when the real ones are not known: any name is some text."""

    def __missing__(self, key: str) -> str:
        return "exempel"


def sample_values(kind: str) -> dict:
    """Realistic values for the import's trial render (the longest ``dagar_kvar`` a reminder can have)."""
    values = {"kund": "Solbackens vårdcentral och äldreboende", "mottagare": "Anna-Karin Andersson Lindqvist",
              "rubrik": "Avtalet löper ut", "typ": "Avtalsuppföljning"}
    if kind == "event":
        return {**values, "händelse": SampleValues()}
    return {**values, "datum": "30 september 2026", "dagar_kvar": 366}


def check_template(text: str, kind: str, limits: Limits = LIMITS) -> list[str]:
    """The import's problems with a text: syntax and names, then what a trial render costs.

    A reminder's values are known in kind, so any failure of the trial is the text's; an event's
    values are not, so only cost refuses it (``{{ händelse.antal + 1 }}`` is fine with a number).
    """
    problems = template_problems(text, NAMES[kind])
    if problems:
        return problems
    result = render_one(text, sample_values(kind), limits)
    if result.costly or (kind == "reminder" and not result.ok):
        return [result.reason]
    return []


class InProcessRenderer:
    """A ``Renderer`` that renders in the calling process (budgets only, no process to kill):
    for trusted texts and tests; a service uses ``bot.template_workers.TemplateWorkers``."""

    def __init__(self, limits: Limits = LIMITS):
        self.limits = limits

    async def render_many(self, jobs: Sequence[RenderJob], tenants: TenantTime | None = None) -> list[Rendered]:
        return [result for result, _ in render_batch(jobs, self.limits, tenants)]

    async def check_many(self, checks: Sequence[tuple[str, str]]) -> list[list[str]]:
        return [check_template(text, kind, self.limits) for text, kind in checks]
