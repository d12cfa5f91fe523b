"""A loopback fake of Twilio's REST API: speaks its wire format, records what it was asked.

Faults are scripted per request: push entries onto ``faults`` and each Messages.json POST
takes the next one (``None`` = answer normally). For an outage, set ``down``: every request is
answered 503 and nothing is created, until it is cleared.
"""
from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.test_utils import TestServer

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "test-auth-token"


@dataclass
class SentSMS:
    sid: str
    to: str
    from_: str | None
    body: str
    status_callback: str | None
    at: float = field(default_factory=time.time)  # when it was created (wall clock): benchmarks time a round by it


@dataclass
class Fault:
    """status: an HTTP error to answer; code: Twilio's error code; retry_after: the header;
    delay: seconds before answering; drop: close the connection without answering;
    hang_after_create: record the message, then never answer (the 201 is lost);
    create_when: a slow provider under the test's control: the message is created (and answered) only
    once this event is set, however long the client has waited."""

    status: int | None = None
    code: int | None = None
    retry_after: float | None = None
    delay: float = 0.0
    drop: bool = False
    hang_after_create: bool = False
    create_when: asyncio.Event | None = None


@dataclass
class FakeTwilio:
    messages: list[SentSMS] = field(default_factory=list)
    faults: list[Fault | None] = field(default_factory=list)
    asked: list[str] = field(default_factory=list)  # the To of every create request, in arrival order
    requests: int = 0
    down: bool = False
    auth_seen: set = field(default_factory=set)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    server: TestServer | None = None
    _release: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def base_url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    def to(self, number: str) -> list[str]:
        return [m.body for m in self.messages if m.to == number]

    def app(self) -> web.Application:
        app = web.Application()
        path = "/2010-04-01/Accounts/{sid}/Messages.json"
        app.router.add_post(path, self._create)
        app.router.add_get(path, self._list)
        return app

    async def start(self) -> "FakeTwilio":
        self.server = TestServer(self.app(), host="127.0.0.1", port=0)
        await self.server.start_server()
        return self

    async def close(self) -> None:
        self._release.set()  # let "hanging" handlers finish so the server can stop
        if self.server:
            await self.server.close()

    async def _create(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        self.auth_seen.add(request.headers.get("Authorization", ""))
        if request.match_info["sid"] != ACCOUNT_SID:
            return web.json_response({"code": 20404, "message": "not found", "status": 404}, status=404)
        form = await request.post()
        if self.down:
            return web.json_response({"code": 20503, "message": "Service unavailable", "more_info": "",
                                      "status": 503}, status=503)
        self.asked.append(form.get("To", ""))
        fault = self.faults.pop(0) if self.faults else None
        if fault and (fault.delay or fault.create_when) and not fault.status and not fault.drop:
            # Like Twilio, finish creating the message even if the client has given up waiting.
            msg = await asyncio.shield(asyncio.ensure_future(self._create_later(form, fault)))
            return web.json_response(self._resource(msg, "queued"), status=201)
        if fault and fault.delay:
            await asyncio.sleep(fault.delay)
        if fault and fault.drop:
            request.transport.close()
            return web.Response()
        if fault and fault.status:
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            return web.json_response({"code": fault.code or fault.status, "message": "scripted fault",
                                      "more_info": "", "status": fault.status}, status=fault.status, headers=headers)
        sid = f"SM{next(self._ids):032d}"
        msg = SentSMS(sid=sid, to=form["To"], from_=form.get("From") or form.get("MessagingServiceSid"),
                      body=form["Body"], status_callback=form.get("StatusCallback"))
        self.messages.append(msg)
        if fault and fault.hang_after_create:
            await self._release.wait()
        return web.json_response(self._resource(msg, "queued"), status=201)

    async def _create_later(self, form, fault: Fault) -> SentSMS:
        if fault.create_when is not None:
            await fault.create_when.wait()
        else:
            await asyncio.sleep(fault.delay)
        msg = SentSMS(sid=f"SM{next(self._ids):032d}", to=form["To"],
                      from_=form.get("From") or form.get("MessagingServiceSid"), body=form["Body"],
                      status_callback=form.get("StatusCallback"))
        self.messages.append(msg)
        return msg

    async def _list(self, request: web.Request) -> web.Response:
        if self.down:
            return web.json_response({"code": 20503, "message": "Service unavailable", "status": 503}, status=503)
        to = request.query.get("To")
        found = [self._resource(m, "sent") for m in self.messages if to is None or m.to == to]
        return web.json_response({"messages": found, "page": 0, "page_size": 50, "uri": request.path,
                                  "next_page_uri": None, "first_page_uri": request.path})

    @staticmethod
    def _resource(msg: SentSMS, status: str) -> dict:
        return {"sid": msg.sid, "account_sid": ACCOUNT_SID, "to": msg.to, "from": msg.from_, "body": msg.body,
                "status": status, "num_segments": "1", "direction": "outbound-api", "api_version": "2010-04-01",
                "date_created": "Sun, 03 May 2026 08:00:00 +0000", "date_sent": None, "error_code": None,
                "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{msg.sid}.json"}


def main() -> None:
    """Run the fake on its own (``python -m tests.fakes.twilio --port 0``) for benchmarks."""
    import argparse

    from aiohttp import web

    from tests.fakes import serve_forever

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    fake = FakeTwilio()

    async def count(request):
        return web.json_response({"messages": len(fake.messages), "requests": fake.requests})

    async def messages(request):
        return web.json_response([{"sid": m.sid, "to": m.to, "body": m.body, "at": m.at} for m in fake.messages])

    app = fake.app()
    app.router.add_get("/_count", count)
    app.router.add_get("/_messages", messages)

    serve_forever(app, args.port)


if __name__ == "__main__":
    main()
