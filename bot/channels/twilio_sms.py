"""SMS through Twilio's REST API with the official library's async client."""
from __future__ import annotations

import asyncio
import base64
import contextvars
import logging
from datetime import timedelta
from urllib.parse import urlencode, urlsplit, urlunsplit

import aiohttp
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from bot.channels import Channel, Outgoing, SendResult
from core.channels import failure_reason

logger = logging.getLogger(__name__)
# The library logs request URLs, numbers and bodies at INFO, under twilio.http_client and (the async
# client we use) twilio.async_http_client: hold their parent quiet (bot/logs.py does so too).
logging.getLogger("twilio").setLevel(logging.WARNING)

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
