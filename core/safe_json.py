"""JSON we accept, from a request body or an import file: UTF-8, nested no deeper than anything
we take, and no lone UTF-16 surrogate.

Refused when a later step could not take it: nested deeper than anything we accept (the parser's
recursion limit answers 500 otherwise), or holding a lone UTF-16 surrogate such as ``"\\ud800"``,
which no database column and no UTF-8 encoder takes. Shared by the HTTP routes (webhooks.intake)
and ``paminn import``.
"""
from __future__ import annotations

import json
import re

MAX_DEPTH = 32  # import documents nest 4 deep, Telegram updates about 8
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


class JSONRefused(ValueError):
    """The body is not JSON we can take; the message says why."""


def parse_json(raw: bytes) -> object:
    """The document in ``raw``; JSONRefused when it is not UTF-8 JSON, nests too deep, or holds a lone surrogate."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise JSONRefused("the body is not UTF-8") from None
    try:
        value = json.loads(text)
    except RecursionError:
        raise JSONRefused(f"the JSON nests deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise JSONRefused(f"the body is not valid JSON ({exc})") from None
    check_json(value, strings=bool(SURROGATE_ESCAPE.search(raw)))
    return value


def check_json(value: object, strings: bool = True) -> None:
    """Refuse nesting beyond MAX_DEPTH and (when ``strings``) lone surrogates in keys and strings.

    Iterative, so that the check itself cannot hit the recursion limit. Strings are looked at only
    when the raw text had a surrogate escape at all: without one the decoder cannot have made one.
    """
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            if depth > MAX_DEPTH:
                raise JSONRefused(f"the JSON nests deeper than {MAX_DEPTH} levels")
            for key, inner in item.items():
                if strings:
                    _valid_text(key)
                if isinstance(inner, (dict, list)) or (strings and isinstance(inner, str)):
                    stack.append((inner, depth + 1))
        elif isinstance(item, list):
            if depth > MAX_DEPTH:
                raise JSONRefused(f"the JSON nests deeper than {MAX_DEPTH} levels")
            stack.extend((inner, depth + 1) for inner in item
                         if isinstance(inner, (dict, list)) or (strings and isinstance(inner, str)))
        elif isinstance(item, str):
            _valid_text(item)


def _valid_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = text[exc.start]
        raise JSONRefused(f"the JSON holds a lone surrogate (\\u{ord(bad):04x}); send valid Unicode text") from None
