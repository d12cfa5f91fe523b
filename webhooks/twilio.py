"""Twilio's webhooks: inbound SMS (TwiML replies) and delivery status callbacks.

A request is checked (size, form, signature) before anything is stored; a refused one
writes nothing.
"""
from __future__ import annotations

import hmac
import logging
import re
import time
from functools import lru_cache
from urllib.parse import parse_qsl

from aiohttp import web
from multidict import MultiDict
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from core import store
from core.channels import SMS, failure_reason
from core.phones import try_e164
from handlers.router import InboundText, InboundUnavailable
from handlers.team import delivery_failed
from webhooks.intake import BodyTooLarge, is_ascii_number, read_body
from webhooks.keys import SERVICES

logger = logging.getLogger(__name__)
MAX_BODY = 64 * 1024
RETRY_AFTER = "5"  # seconds; Twilio's own retry timing is set by #rc/#rp, this is for other clients
FORWARDED_HOST = re.compile(r"[A-Za-z0-9.\-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")


def public_url(request: web.Request) -> str:
    """The URL Twilio called, which its signature covers.

    Behind a proxy ``request.url`` is not it: PAMINN_PUBLIC_URL wins; else, with PAMINN_TRUST_PROXY=on,
    the proxy's X-Forwarded-Proto/-Host. Those headers are believed only when configured, since
    anyone can send them to a server that is reached directly.
    """
    settings = request.app[SERVICES].settings
    if settings.public_url:
        return settings.public_url + request.path_qs
    if settings.trust_proxy:
        proto = _first(request.headers.get("X-Forwarded-Proto"))
        host = _first(request.headers.get("X-Forwarded-Host"))
        scheme = proto.lower() if proto.lower() in ("http", "https") else request.scheme
        if not host or not FORWARDED_HOST.fullmatch(host):
            host = request.host
        return f"{scheme}://{host}{request.path_qs}"
    return str(request.url)


def _first(value: str | None) -> str:
    """The first hop of a forwarded header (each proxy appends its own after a comma)."""
    return (value or "").split(",")[0].strip()


async def read_signed_form(request: web.Request, route: str):
    """The form if it is small, well-formed and signed by Twilio; else the HTTP error to answer."""
    services = request.app[SERVICES]
    metrics = services.metrics
    if request.content_type != "application/x-www-form-urlencoded":
        metrics.rejected.labels(route, "content_type").inc()
        raise web.HTTPBadRequest(text="expected application/x-www-form-urlencoded")
    try:
        raw = await read_body(request, MAX_BODY, "a Twilio webhook")
    except BodyTooLarge:
        metrics.rejected.labels(route, "too_large").inc()
        raise
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(raw))
    except (UnicodeDecodeError, ValueError):
        metrics.rejected.labels(route, "malformed").inc()
        raise web.HTTPBadRequest(text="malformed form body") from None
    form = MultiDict(pairs)
    token = services.settings.twilio_auth_token
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token or not signature or not signed_by_twilio(_validator(token), public_url(request), form, signature):
        metrics.rejected.labels(route, "signature").inc()
        raise web.HTTPForbidden(text="invalid Twilio signature")
    return form


@lru_cache(maxsize=4)  # one auth token per deployment
def _validator(token: str) -> RequestValidator:
    return RequestValidator(token)


def signed_by_twilio(validator: RequestValidator, url: str, form: MultiDict, signature: str) -> bool:
    """Twilio's signature over the URL it called and the form. Checked first as the URL we were called at
    (one HMAC, the usual case), then as the library checks it: with and without the default port
    (Twilio's own signing is inconsistent about the port), which costs two more."""
    if signature.isascii() and hmac.compare_digest(validator.compute_signature(url, form), signature):
        return True
    return validator.validate(url, form, signature)


@lru_cache(maxsize=1024)  # most replies are one of a few texts ("Tack! …" for a month)
def twiml_text(replies: tuple[str, ...]) -> str:
    response = MessagingResponse()
    for reply in replies:
        response.message(reply)
    return str(response)


def twiml(replies: list[str]) -> web.Response:
    return web.Response(text=twiml_text(tuple(replies)), content_type="application/xml")


async def inbound_sms(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    started = time.perf_counter()
    form = await read_signed_form(request, "sms")
    sid, sender, body = form.get("MessageSid"), form.get("From"), form.get("Body", "")
    if not sid or not sender or len(sid) > 64:
        services.metrics.rejected.labels("sms", "fields").inc()
        raise web.HTTPBadRequest(text="MessageSid and From are required")
    sender = try_e164(sender) or sender[:64]
    try:
        handled = await services.inbound.submit(InboundText(SMS, sid, sender, body))
    except InboundUnavailable:
        # Nothing was stored and nothing answered: Twilio retries 5xx when the webhook URL carries
        # connection overrides (#rc=…&rp=…,5xx), and the retry is acted on once.
        services.metrics.inbound.labels("sms", "unavailable").inc()
        raise web.HTTPServiceUnavailable(text="the database is not answering; try again shortly",
                                         headers={"Retry-After": RETRY_AFTER}) from None
    services.metrics.inbound.labels("sms", "new" if handled.new else "duplicate").inc()
    services.metrics.latency.labels("sms").observe(time.perf_counter() - started)
    return twiml(handled.texts)  # an SMS answered inline is its replies' texts: SMS has no buttons


async def status_callback(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    form = await read_signed_form(request, "status")
    sid, status = form.get("MessageSid") or form.get("SmsSid"), form.get("MessageStatus") or form.get("SmsStatus")
    if not sid or not status:
        services.metrics.rejected.labels("status", "fields").inc()
        raise web.HTTPBadRequest(text="MessageSid and MessageStatus are required")
    row_id = request.query.get("m")
    async with services.sessions.begin() as session:
        changed = await store.apply_status(session, sid, status.lower(), form.get("ErrorCode"), services.clock(),
                                           row_id=int(row_id) if row_id and is_ascii_number(row_id) else None)
        if changed is not None and changed.status in ("failed", "undelivered") and changed.kind == "reminder":
            reason = failure_reason(changed.error_code) or "undelivered"
            await delivery_failed(services.context(session), changed, reason)
    return web.Response(status=204)


def setup(app: web.Application) -> None:
    app.router.add_post("/webhooks/twilio/sms", inbound_sms)
    app.router.add_post("/webhooks/twilio/status", status_callback)
