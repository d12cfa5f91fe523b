"""What a rendering may spend (``Limits``), what it has spent (``Budget``, one per rendering, found
through a context variable), and the refusal when it is over (``TooCostly``). Pure."""
from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any


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
