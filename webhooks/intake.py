"""What every route reads from a request: the body whole and bounded, JSON that cannot hurt, headers that decode.

``await request.content.read(n)`` returns what has arrived so far, so a body sent in two TCP
segments would be read half; ``read_body`` reads to the end or to the route's limit. JSON is
parsed by core.safe_json (also used by ``paminn import``), re-exported here for the routes.
"""
from __future__ import annotations

import json

from aiohttp import web

from core.safe_json import JSONRefused, check_json, parse_json

__all__ = ["BodyTooLarge", "JSONRefused", "check_json", "is_ascii_number", "parse_json", "read_body",
           "undecodable_headers"]


class BodyTooLarge(web.HTTPRequestEntityTooLarge):
    """413 with a JSON body that says the limit."""

    def __init__(self, limit: int, actual: int, what: str = "the body") -> None:
        super().__init__(max_size=limit, actual_size=actual,
                         text=json.dumps({"error": f"{what} is at most {_size(limit)}"}),
                         content_type="application/json")


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
