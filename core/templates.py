"""Reminder texts that organisations write themselves: Jinja2's sandbox, with the names they may use.

A template sees only plain values (no objects, no attributes to climb through), a missing name is an
error at import time rather than an empty gap in a sent message, and free text is simply a template
without names.
"""
from __future__ import annotations

from functools import lru_cache

from jinja2 import StrictUndefined, Template, TemplateError, meta
from jinja2.sandbox import SandboxedEnvironment

# What a customer reminder's text may mention (Swedish, as the people writing them do).
REMINDER_NAMES = {
    "kund": "the customer's name",
    "mottagare": "the recipient's name",
    "rubrik": "the reminder's title",
    "typ": "the reminder's type",
    "datum": "the due date, e.g. 1 juli 2026",
    "dagar_kvar": "days left until the due date",
}
MAX_TEMPLATE = 2000

_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


def template_problems(text: str, allowed: dict[str, str] = REMINDER_NAMES) -> list[str]:
    """What is wrong with ``text`` as a template: syntax, unknown names, length. Empty when fine."""
    if len(text) > MAX_TEMPLATE:
        return [f"is longer than {MAX_TEMPLATE} characters"]
    try:
        names = meta.find_undeclared_variables(_env.parse(text))
    except TemplateError as exc:
        return [f"is not a valid template ({exc.message}); write names as {{{{ kund }}}}"]
    unknown = sorted(names - set(allowed))
    if unknown:
        return [f"uses unknown name(s) {', '.join(unknown)}; available: {', '.join(sorted(allowed))}"]
    return []


@lru_cache(maxsize=1024)  # a reminder's text is rendered once per recipient: compile it once
def _compiled(text: str) -> Template:
    return _env.from_string(text)


def render(text: str, values: dict[str, object]) -> str:
    """Fill in a checked template. Values must be plain (str, int, …)."""
    return _compiled(text).render(**values).strip()
