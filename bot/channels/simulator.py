"""The simulator channel: messages appear on the browser page instead of going out.

The outbox row itself is what the page shows, so "sending" is only marking it delivered.
"""
from __future__ import annotations

from bot.channels import Channel, Outgoing, SendResult


class SimulatorChannel(Channel):
    name = "simulator"

    async def send(self, msg: Outgoing) -> SendResult:
        return SendResult("sent", provider_id=f"SIM{msg.id}", status="delivered")

    async def find_sent(self, msg: Outgoing) -> str | None:
        return f"SIM{msg.id}"
