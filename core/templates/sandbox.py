"""Jinja2's immutable sandbox with the budget counted inside it: the checks made before a costly
operation runs, the filters and methods offered, the node transformer that counts steps, and the one
environment (``_env``) every template is compiled in. Pure."""
from __future__ import annotations

import re
from functools import wraps
from string import Formatter
from typing import Any, cast

from jinja2 import StrictUndefined, nodes, pass_context
from jinja2.filters import FILTERS, make_attrgetter
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace
from jinja2.visitor import NodeTransformer

from core.templates.budget import Budget, TooCostly, _budget, _number, _size_check

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
