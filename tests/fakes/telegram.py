"""A loopback fake of Telegram's Bot API: answers what the service calls and records it."""
from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.test_utils import TestServer

TOKEN = "123456:TEST-token"
BOT_USER = {"id": 123456, "is_bot": True, "first_name": "Påminn", "username": "PaminnBot",
            "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}


@dataclass
class Call:
    method: str
    params: dict


@dataclass
class FakeTelegram:
    calls: list[Call] = field(default_factory=list)
    pending_updates: list[dict] = field(default_factory=list)  # what getUpdates hands out (long polling)
    faults: dict[str, list[dict]] = field(default_factory=dict)  # method -> scripted answers
    server: TestServer | None = None
    _ids: itertools.count = field(default_factory=lambda: itertools.count(100))

    @property
    def api_base(self) -> str:
        return str(self.server.make_url("/bot")).rstrip("/")

    def sent(self, chat_id: int | str) -> list[Call]:
        return [c for c in self.calls if c.method in ("sendMessage", "editMessageText")
                and str(c.params.get("chat_id")) == str(chat_id)]

    def texts(self, chat_id: int | str) -> list[str]:
        return [c.params["text"] for c in self.sent(chat_id)]

    async def start(self) -> "FakeTelegram":
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        self.server = TestServer(app, host="127.0.0.1", port=0)
        await self.server.start_server()
        return self

    async def close(self) -> None:
        if self.server:
            await self.server.close()

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != TOKEN:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        if request.content_type == "application/json":
            params = await request.json()
        else:
            params = {}
            for key, value in (await request.post()).items():
                value = str(value)
                try:  # nested objects arrive as JSON text
                    params[key] = json.loads(value) if value[:1] in "[{" else value
                except ValueError:
                    params[key] = value
        self.calls.append(Call(method, params))
        scripted = self.faults.get(method)
        if scripted:
            fault = scripted.pop(0)
            if fault.get("drop_after_receive"):  # Telegram has the message; the answer never arrives
                self._result(method, params)
                request.transport.close()
                return web.Response()
            body = {"ok": False, "error_code": fault["code"], "description": fault["description"]}
            if "retry_after" in fault:
                body["parameters"] = {"retry_after": fault["retry_after"]}
            return web.json_response(body, status=fault["code"])
        if method == "getUpdates" and not self.pending_updates:
            await asyncio.sleep(0.05)  # Telegram holds a long poll open; answering at once would spin the poller
        return web.json_response({"ok": True, "result": self._result(method, params)})

    def _result(self, method: str, params: dict):
        if method == "getMe":
            return BOT_USER
        if method in ("sendMessage", "editMessageText"):
            chat_id = int(params["chat_id"])
            message_id = int(params["message_id"]) if method == "editMessageText" else next(self._ids)
            return {"message_id": message_id, "date": int(time.time()), "text": params.get("text", ""),
                    "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"}, "from": BOT_USER}
        if method == "getUpdates":
            offset = int(params.get("offset") or 0)
            self.pending_updates = [u for u in self.pending_updates if u["update_id"] >= offset]
            return list(self.pending_updates)
        return True


def main() -> None:
    """Run the fake on its own (``python -m tests.fakes.telegram --port 0``) for the kill test.

    ``GET /_messages`` lists what was sent.
    """
    import argparse

    from tests.fakes import serve_forever

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    fake = FakeTelegram()

    async def messages(request):
        return web.json_response([{"chat_id": str(c.params.get("chat_id")), "text": c.params.get("text")}
                                  for c in fake.calls if c.method == "sendMessage"])

    app = web.Application()
    app.router.add_post("/bot{token}/{method}", fake._handle)
    app.router.add_get("/_messages", messages)
    serve_forever(app, args.port)


if __name__ == "__main__":
    main()
