"""What every route reads from a request: the body whole and bounded, JSON that cannot hurt, headers that decode.

``await request.content.read(n)`` returns what has arrived so far, so a body sent in two TCP
segments would be read half; ``read_body`` reads to the end or to the route's limit. JSON is
refused when a later step could not take it: nested deeper than anything we accept (the
parser's recursion limit answers 500 otherwise), or holding a lone UTF-16 surrogate such as
``"\\ud800"``, which no database column and no UTF-8 encoder takes.
"""
from __future__ import annotations

import json
import re

from aiohttp import web

MAX_DEPTH = 32  # import documents nest 4 deep, Telegram updates about 8
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


class BodyTooLarge(web.HTTPRequestEntityTooLarge):
    """413 with a JSON body that says the limit."""

    def __init__(self, limit: int, actual: int, what: str = "the body") -> None:
        super().__init__(max_size=limit, actual_size=actual,
                         text=json.dumps({"error": f"{what} is at most {_size(limit)}"}),
                         content_type="application/json")


class JSONRefused(ValueError):
    """The body is not JSON we can take; the message says why."""


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MiB" if limit >= 1024 * 1024 else f"{limit // 1024} KiB"


async def read_body(request: web.Request, limit: int, what: str = "the body") -> bytes:
    """The whole body (however many segments it came in), or 413 when it is longer than ``limit``."""
    if request.content_length is not None and request.content_length > limit:
        raise BodyTooLarge(limit, request.content_length, what)
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(limit + 1 - size)  # what has arrived, at most what we still take
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit, size, what)


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


def is_ascii_number(raw: str) -> bool:
    """``raw`` is a whole number in ASCII digits (str.isdigit also takes '²' and '٣', which int() may refuse)."""
    return raw.isascii() and raw.isdigit()


@web.middleware
async def undecodable_headers(request: web.Request, handler):
    """400 for a header whose bytes are not UTF-8, before any route compares or encodes it.

    aiohttp decodes header bytes with ``surrogateescape``; such a value raises at the first
    ``.encode()`` (a secret or key comparison), which would answer 500.
    """
    for name, value in request.headers.items():
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise web.HTTPBadRequest(text=json.dumps({"error": f"the header {_printable(name)} is not UTF-8"}),
                                         content_type="application/json") from None
    return await handler(request)


def _printable(name: str) -> str:
    return name.encode("utf-8", "replace").decode("ascii", "replace")[:64]
