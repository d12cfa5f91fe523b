"""A real SMTP server (aiosmtpd) on a loopback port that keeps every message it accepts."""
from __future__ import annotations

import asyncio
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.smtp import SMTP


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refuse: set[str] = set()  # recipients answered 550
        # While ``gate`` is set to an unset Event, each message waits in DATA until it is set: the test
        # sees how many sends the server holds at once (``in_data``, the most so far ``peak``).
        self.gate: asyncio.Event | None = None
        self.in_data = 0
        self.peak = 0
        self._server: asyncio.AbstractServer | None = None
        self.port = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.gate is not None:
            self.in_data += 1
            self.peak = max(self.peak, self.in_data)
            try:
                await self.gate.wait()
            finally:
                self.in_data -= 1
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]

    async def start(self) -> "Mailbox":
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: SMTP(self, hostname="127.0.0.1"), "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
