"""SMS through Twilio, the whole channel in one module: its error codes, the inbound webhook (TwiML
replies) and delivery status callbacks, and the send through Twilio's REST API.

A webhook request is checked (size, form, signature) before anything is stored; a refused one
writes nothing. Sends go through the official library's async client, pointed at the configured
API base (a loopback fake in tests).
"""
from __future__ import annotations

import asyncio
import base64
import contextvars
import hmac
import logging
import re
import time
from datetime import timedelta
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import aiohttp
from aiohttp import web
from multidict import MultiDict
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse

from core import store
from core.channels import SMS, Channel, Outgoing, SendResult
from core.phones import try_e164
from handlers.router import InboundText, InboundUnavailable
from handlers.team import delivery_failed
from webhooks.intake import BodyTooLarge, is_ascii_number, read_body
from webhooks.keys import SERVICES

logger = logging.getLogger(__name__)
# The library logs request URLs, numbers and bodies at INFO, under twilio.http_client and (the async
# client we use) twilio.async_http_client: hold their parent quiet (bot/logs.py does so too).
logging.getLogger("twilio").setLevel(logging.WARNING)


# ---------------------------------------------------------------- error codes

# Twilio's error codes that say something about the person's number, whether they come back from a
# send (REST errors, 21xxx) or in a delivery status callback (30xxx): the reason
# handlers.team.delivery_failed acts on. Every other code is a failure with no consequence for the number.
ERRORS: dict[str, str] = {
    "21211": "invalid_number",  # not a valid phone number
    "21614": "invalid_number",  # not a mobile number
    "21610": "unsubscribed",  # the person texted STOP to our number
    "30005": "invalid_number",  # unknown destination handset
    "30006": "invalid_number",  # a landline, or a carrier that cannot be reached
}


def failure_reason(error_code: object) -> str | None:
    """What a Twilio error code means for the person's number (``ERRORS``), or None when nothing."""
    return ERRORS.get(str(error_code)) if error_code else None


# ---------------------------------------------------------------- inbound and status webhooks

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


# ---------------------------------------------------------------- send

_last_retry_after: contextvars.ContextVar[float | None] = contextvars.ContextVar("retry_after", default=None)

class RebasedTwilioHttpClient(AsyncTwilioHttpClient):
    """Twilio's async client, pointed at ``base`` (a loopback fake in tests) instead of api.twilio.com.

    Retries stay off (``max_retries=None``): a retried POST can send an SMS twice; the
    dispatcher retries instead, knowing what was sent.

    ``request`` is the library's own, made lighter for a process that sends a thousand a second: the
    form is encoded once with urlencode (the library hands aiohttp a dict, which builds a FormData),
    the Basic credentials are a header computed once (aiohttp's ``auth=`` is deprecated and warns on
    every call), the timeout is a ready ClientTimeout (the library stores its timeout but passes
    none), and nothing is logged (the library logs numbers and bodies at INFO).
    """

    def __init__(self, base: str, timeout: float):
        super().__init__(pool_connections=False, timeout=timeout)
        # One pooled session, as the library's, without a cookie jar: Twilio's API sets none, and an
        # empty jar is still consulted on every request and response.
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
        self._base = urlsplit(base)
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}
        self._credentials: dict[tuple[str, str], str] = {}

    async def request(self, method, url, params=None, data=None, headers=None, auth=None, timeout=None,
                      allow_redirects=False):
        if timeout is not None and timeout <= 0:
            raise ValueError(timeout)
        parts = urlsplit(url)
        url = urlunsplit((self._base.scheme, self._base.netloc, self._base.path.rstrip("/") + parts.path,
                          parts.query, parts.fragment))
        headers = dict(headers or {})
        if auth is not None:
            headers["Authorization"] = self._basic(auth)
        body = urlencode(data, doseq=True).encode() if isinstance(data, dict) else data
        async with self.session.request(method.upper(), url, params=params, data=body, headers=headers,
                                        timeout=self._timeout(timeout), allow_redirects=allow_redirects) as response:
            response_text = await response.text()
        retry_after = response.headers.get("Retry-After")
        try:
            _last_retry_after.set(float(retry_after) if retry_after else None)
        except ValueError:
            _last_retry_after.set(None)
        return Response(response.status, response_text, response.headers)

    def _timeout(self, seconds: float | None) -> aiohttp.ClientTimeout:
        seconds = seconds if seconds is not None else self.timeout
        if seconds not in self._timeouts:
            self._timeouts[seconds] = aiohttp.ClientTimeout(total=seconds)
        return self._timeouts[seconds]

    def _basic(self, auth: tuple[str, str]) -> str:
        if auth not in self._credentials:
            self._credentials[auth] = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
        return self._credentials[auth]


class TwilioSMS(Channel):
    name = "sms"

    def __init__(self, account_sid: str, auth_token: str, *, from_number: str | None,
                 messaging_service_sid: str | None, api_base: str, status_callback: str | None,
                 timeout: float = 15.0):
        self._http = RebasedTwilioHttpClient(api_base, timeout)
        self._client = Client(account_sid, auth_token, http_client=self._http)
        self._from = from_number
        self._service = messaging_service_sid
        self._status_callback = status_callback

    async def close(self) -> None:
        await self._http.close()

    async def send(self, msg: Outgoing) -> SendResult:
        kwargs = {"to": msg.address, "body": msg.body}
        if self._service:
            kwargs["messaging_service_sid"] = self._service
        else:
            kwargs["from_"] = self._from
        if self._status_callback:
            # Our row id rides along so a callback that beats our own bookkeeping still finds the row.
            kwargs["status_callback"] = f"{self._status_callback}?m={msg.id}"
        try:
            created = await self._client.messages.create_async(**kwargs)
        except TwilioRestException as exc:
            return self._classify(exc)
        except aiohttp.ClientConnectorError as exc:
            # Never connected: nothing can have been sent.
            return SendResult("retry", error_code="connect", error_message=type(exc).__name__, outage=True)
        except (asyncio.TimeoutError, aiohttp.ClientError) as exc:
            # The request may have reached Twilio: check its message list before any resend.
            return SendResult("unknown", error_code="transport", error_message=type(exc).__name__, outage=True)
        return SendResult("sent", provider_id=created.sid, status=created.status)

    @staticmethod
    def _classify(exc: TwilioRestException) -> SendResult:
        code = str(exc.code) if exc.code else str(exc.status)
        if exc.status == 429 or exc.status >= 500:
            # 429 is Twilio asking us to slow down (it is up); a 5xx is Twilio failing.
            return SendResult("retry", error_code=code, error_message=f"HTTP {exc.status}",
                              retry_after=_last_retry_after.get(), outage=exc.status >= 500)
        reason = failure_reason(exc.code)
        if reason:
            return SendResult("failed", error_code=str(exc.code), error_message=reason)
        return SendResult("failed", error_code=code, error_message=f"HTTP {exc.status}")

    async def find_sent(self, msg: Outgoing) -> str | None:
        after = (msg.created_at - timedelta(days=1)) if msg.created_at else None
        kwargs = {"to": msg.address, "limit": 200}
        if after is not None:
            kwargs["date_sent_after"] = after
        for record in await self._client.messages.list_async(**kwargs):
            if record.body == msg.body:
                return record.sid
        return None
