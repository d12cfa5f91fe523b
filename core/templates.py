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

This module is pure. Rendering off the event loop, in worker processes that are killed and
replaced when one overruns anyway (the backstop for whatever a budget misses), is
``bot/template_workers.py``; handlers reach it through the ``Renderer`` protocol below.
"""
from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache, wraps
from string import Formatter
from typing import Any, Protocol, cast

from jinja2 import StrictUndefined, Template, TemplateError, UndefinedError, meta, nodes, pass_context
from jinja2.filters import FILTERS, make_attrgetter
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace
from jinja2.visitor import NodeTransformer

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


@dataclass(frozen=True)
class Limits:
    """What one rendering may spend. A real reminder text needs a few dozen steps and well under 1 ms."""

    steps: int = 20_000  # loop turns, calls, filters, operators, lookups, output expressions
    seconds: float = 0.5
    output: int = 20_000  # characters of the finished text
    value: int = 20_000  # characters (or items) of any one value made while rendering
    produced: int = 500_000  # characters made in all while rendering (strings built and thrown away count)
    width: int = 1000  # a width, precision or count given to a format, filter or method
    int_bits: int = 1024  # about 308 digits
    range: int = 10_000  # numbers in one range()

    def to_json(self) -> dict:
        return dict(self.__dict__)


LIMITS = Limits()

# Why a text could not be rendered. The cost codes are the template's fault whatever the values;
# "undefined" and "error" may depend on the values (an event lacking one).
COST_CODES = ("slow", "output", "number", "width")
SWEDISH = {
    "slow": "texten tar för lång tid att fylla i",
    "output": "texten blir för lång",
    "number": "texten räknar med för stora tal",
    "width": "texten ber om en för stor bredd eller ett för stort antal",
    "undefined": "texten använder ett värde som saknas",
    "error": "texten kunde inte fyllas i",
}


class TooCostly(Exception):
    """The template ran over its budget. Not a TemplateError: no filter or test swallows it."""

    def __init__(self, code: str, problem: str):
        self.code, self.problem = code, problem
        super().__init__(problem)


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


# ---------------------------------------------------------------- the budget


class Budget:
    """What one rendering has spent so far; one per rendering (see ``_BUDGET``)."""

    __slots__ = ("limits", "steps", "produced", "deadline")

    def __init__(self, limits: Limits):
        self.limits, self.steps, self.produced = limits, 0, 0
        self.deadline = time.monotonic() + limits.seconds

    def step(self) -> None:
        self.steps += 1
        if self.steps > self.limits.steps:
            raise TooCostly("slow", f"takes too long to render (over {self.limits.steps} steps: loop turns, calls "
                                    "and operations); make its loops smaller")
        if not self.steps & 31 and time.monotonic() > self.deadline:
            raise TooCostly("slow", f"takes too long to render (over {self.limits.seconds:g} s)")

    def made(self, value: Any) -> Any:
        """Measure a value the template just made; return it when within limits."""
        if isinstance(value, (str, list, tuple, dict, bytes)):
            size = len(value)
            if size > self.limits.value:
                raise TooCostly("output", f"makes output over {self.limits.value} characters")
            if isinstance(value, (str, bytes)):
                self.produced += size
                if self.produced > self.limits.produced:
                    raise TooCostly("output", f"makes output over {self.limits.produced} characters in all "
                                              "while rendering")
        elif isinstance(value, int) and value.bit_length() > self.limits.int_bits:
            raise _number(self.limits)
        return value

    def width(self, number: Any, limit: int | None = None) -> None:
        limit = self.limits.width if limit is None else limit
        if isinstance(number, int) and abs(number) > limit:
            raise TooCostly("width", f"asks for a width or count over {limit}")


def _number(limits: Limits) -> TooCostly:
    return TooCostly("number", f"computes a number over {limits.int_bits} bits (about {limits.int_bits * 3 // 10} "
                               "digits); use smaller numbers")


_BUDGET: ContextVar[Budget | None] = ContextVar("template_budget", default=None)


def _budget() -> Budget:
    budget = _BUDGET.get()
    if budget is None:  # a template rendered some other way than render_one: refuse rather than run free
        raise TooCostly("slow", "is rendered without a budget")
    return budget


def _size_check(budget: Budget, expected: int) -> None:
    if expected > budget.limits.value:
        raise TooCostly("output", f"makes output over {budget.limits.value} characters")


# %-formats and str.format: a width or precision is a number of characters to make.
_PERCENT = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d*))?")


def _check_percent(budget: Budget, fmt: str) -> None:
    for width, precision in _PERCENT.findall(fmt):
        for number in (width, precision):
            if number == "*":
                raise TooCostly("width", "takes a width from its values ('*'); write the width as a number")
            if number:
                budget.width(int(number))


def _check_format(budget: Budget, fmt: str) -> None:
    for _, _, spec, _ in Formatter().parse(fmt):
        if spec and "{" in spec:
            raise TooCostly("width", "takes a width from its values ('{:{}}'); write the width as a number")
        for number in re.findall(r"\d+", spec or ""):
            budget.width(int(number))


# ---------------------------------------------------------------- filters, methods, operators

# Filters offered to templates: Jinja's own, each wrapped to count a step and measure its result;
# those whose cost grows with an argument are checked first (below). Left out: tojson, pprint,
# xmlattr, urlize, random, safe and forceescape (costly to bound, or of no use in a plain text).
ALLOWED_FILTERS = (
    "abs", "attr", "batch", "capitalize", "center", "count", "d", "default", "dictsort", "e", "escape",
    "filesizeformat", "first", "float", "format", "groupby", "indent", "int", "items", "join", "last", "length",
    "list", "lower", "map", "max", "min", "reject", "rejectattr", "replace", "reverse", "round", "select",
    "selectattr", "slice", "sort", "string", "striptags", "sum", "title", "trim", "truncate", "unique", "upper",
    "urlencode", "wordcount", "wordwrap",
)


def _arg(args: tuple, kwargs: dict, index: int, name: str, default: Any) -> Any:
    return args[index] if len(args) > index else kwargs.get(name, default)


def _replace_size(s: Any, old: Any, new: Any, count: Any) -> int:
    s, old, new = str(s), str(old), str(new)
    hits = s.count(old) if old else len(s) + 1
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    return len(s) + hits * (len(new) - len(old))


def _check_filter(budget: Budget, name: str, value: Any, args: tuple, kwargs: dict) -> None:
    """Refuse a filter call whose result would be too big, before it is made."""
    if name == "center":
        budget.width(_arg(args, kwargs, 0, "width", 80), budget.limits.value)
    elif name == "indent":
        width = _arg(args, kwargs, 0, "width", 4)
        budget.width(width)
        per_line = len(width) if isinstance(width, str) else int(width) if isinstance(width, int) else 0
        _size_check(budget, len(str(value)) + (str(value).count("\n") + 1) * per_line)
    elif name == "wordwrap":
        width = _arg(args, kwargs, 0, "width", 79)
        wrap = _arg(args, kwargs, 2, "wrapstring", None) or "\n"
        if isinstance(width, int) and width > 0:
            _size_check(budget, len(str(value)) + (len(str(value)) // width + 1) * len(str(wrap)))
    elif name == "format":
        _check_percent(budget, str(value))
    elif name == "replace":
        _size_check(budget, _replace_size(value, _arg(args, kwargs, 0, "old", ""), _arg(args, kwargs, 1, "new", ""),
                                          _arg(args, kwargs, 2, "count", None)))
    elif name == "batch":
        budget.width(_arg(args, kwargs, 0, "linecount", 1), budget.limits.value)
    elif name == "slice":
        budget.width(_arg(args, kwargs, 0, "slices", 1))
    elif name == "truncate":
        budget.width(_arg(args, kwargs, 0, "length", 255), budget.limits.value)


def _guarded_filter(name: str, func):
    passes = hasattr(func, "jinja_pass_arg")  # the filter takes the context/environment first

    @wraps(func)  # keeps jinja_pass_arg
    def guarded(*args, **kwargs):
        budget = _budget()
        budget.step()
        lead = 1 if passes else 0
        if len(args) > lead:
            _check_filter(budget, name, args[lead], args[lead + 1:], kwargs)
        return budget.made(func(*args, **kwargs))

    return guarded


@pass_context
def _join(context, value, d: str = "", attribute=None) -> str:
    """``join`` that stops as soon as the joined text would be too long (the input may be a long range)."""
    budget = _budget()
    budget.step()
    if attribute is not None:
        value = map(make_attrgetter(context.environment, attribute), value)
    parts, size, sep = [], 0, str(d)
    for item in value:
        budget.step()
        part = str(item)
        size += len(part) + len(sep)
        _size_check(budget, size - len(sep))
        parts.append(part)
    return budget.made(sep.join(parts))


@pass_context
def _loop(context, iterable):
    """Every loop's iterable passes through here (see ``_Instrument``): each turn is a step."""
    budget = _budget()
    for item in iterable:
        budget.step()
        yield item


@pass_context
def _sized(context, value):
    """Measure a concatenation (``~``) or a captured block (``{% set x %}…{% endset %}``)."""
    budget = _budget()
    budget.step()
    return budget.made(value)


def _range(*args):
    budget = _budget()
    budget.step()
    numbers = range(*args)
    if len(numbers) > budget.limits.range:
        raise TooCostly("slow", f"takes too long to render (a range over {budget.limits.range} numbers)")
    return numbers


LOOP_FILTER, SIZE_FILTER = "paminn_loop", "paminn_size"

# Methods a template may call on plain values; everything else callable on them is refused
# (str.center/ljust/zfill/expandtabs/join/encode, int.to_bytes, … make values of any size).
STR_METHODS = frozenset({
    "capitalize", "casefold", "count", "endswith", "find", "format", "index", "isalnum", "isalpha", "isdecimal",
    "isdigit", "islower", "isnumeric", "isspace", "istitle", "isupper", "lower", "lstrip", "partition",
    "removeprefix", "removesuffix", "replace", "rfind", "rindex", "rpartition", "rsplit", "rstrip", "split",
    "splitlines", "startswith", "strip", "swapcase", "title", "upper",
})
MAPPING_METHODS = frozenset({"get", "items", "keys", "values"})
SEQUENCE_METHODS = frozenset({"count", "index"})


def _filter_node(node: nodes.Expr | None, name: str, lineno: int) -> nodes.Filter:
    return nodes.Filter(node, name, [], [], None, None, lineno=lineno)


class _Instrument(NodeTransformer):
    """Route loops, concatenations and captured blocks through the budget's filters."""

    # generic_visit returns the node it was given (typed as any Node): cast back to the visited kind.
    def visit_For(self, node: nodes.For) -> nodes.For:
        node = cast(nodes.For, self.generic_visit(node))
        node.iter = _filter_node(cast(nodes.Expr, node.iter), LOOP_FILTER, node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Filter:
        return _filter_node(cast(nodes.Concat, self.generic_visit(node)), SIZE_FILTER, node.lineno)

    def visit_AssignBlock(self, node: nodes.AssignBlock) -> nodes.AssignBlock:
        node = cast(nodes.AssignBlock, self.generic_visit(node))
        node.filter = _filter_node(node.filter, SIZE_FILTER, node.lineno)
        return node

    def visit_FilterBlock(self, node: nodes.FilterBlock) -> nodes.FilterBlock:
        node = cast(nodes.FilterBlock, self.generic_visit(node))
        node.filter = _filter_node(node.filter, SIZE_FILTER, node.lineno)
        return node


@pass_context
def _finalize(context, value) -> str:
    """Every ``{{ … }}`` output: a step, and its text measured. Needing the context also keeps Jinja's
    compiler from evaluating constant output at compile time."""
    budget = _budget()
    budget.step()
    return budget.made(str(value))


class CostlyEnvironment(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox, with a budget on everything a template can spend."""

    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})

    def __init__(self) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False,
                         optimized=False, finalize=_finalize)
        self.globals = {"range": _range, "dict": dict, "namespace": Namespace}  # no lipsum, cycler, joiner
        self.filters = {name: _guarded_filter(name, FILTERS[name]) for name in ALLOWED_FILTERS}
        self.filters.update({"join": _join, LOOP_FILTER: _loop, SIZE_FILTER: _sized})

    def _parse(self, source, name, filename):
        tree = _Instrument().visit(super()._parse(source, name, filename))
        tree.set_environment(self)
        return tree

    def call_binop(self, context, operator: str, left: Any, right: Any) -> Any:
        budget = _budget()
        budget.step()
        ints = isinstance(left, int) and isinstance(right, int)
        if operator == "**" and ints and right > 0 and abs(left) > 1:
            # A lower bound of the result's bits, so 10**300 passes; the result is measured too.
            if right * (abs(left).bit_length() - 1) > budget.limits.int_bits:
                raise _number(budget.limits)
        elif operator == "*":
            if ints and left.bit_length() + right.bit_length() > budget.limits.int_bits:
                raise _number(budget.limits)
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(times, int):
                    _size_check(budget, len(seq) * times)
        elif operator == "%" and isinstance(left, str):
            _check_percent(budget, left)
        return budget.made(super().call_binop(context, operator, left, right))

    def getattr(self, obj: Any, attribute: str) -> Any:
        _budget().step()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _budget().step()
        return super().getitem(obj, argument)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if not super().is_safe_attribute(obj, attr, value):
            return False
        if isinstance(obj, str):
            return attr in STR_METHODS
        if isinstance(obj, (int, float, bytes)):
            return not callable(value)
        if isinstance(obj, dict):
            return attr in MAPPING_METHODS or not callable(value)
        if isinstance(obj, (list, tuple, range)):
            return attr in SEQUENCE_METHODS or not callable(value)
        return True  # Jinja's own objects: loop, macros, namespace

    def wrap_str_format(self, value: Any):
        sandboxed = super().wrap_str_format(value)
        if sandboxed is None:
            return None
        if value.__name__ != "format":
            return self.unsafe_undefined(value.__self__, value.__name__)  # format_map
        fmt = value.__self__

        def checked(*args, **kwargs):
            _check_format(_budget(), fmt)
            return sandboxed(*args, **kwargs)

        return checked

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 (Jinja's own signature)
        budget = _budget()
        budget.step()
        if getattr(__obj, "__name__", None) == "replace" and isinstance(getattr(__obj, "__self__", None), str):
            _size_check(budget, _replace_size(__obj.__self__, _arg(args, kwargs, 0, "old", ""),
                                              _arg(args, kwargs, 1, "new", ""), _arg(args, kwargs, 2, "count", -1)))
        return budget.made(super().call(__context, __obj, *args, **kwargs))


_env = CostlyEnvironment()


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
