"""Conversations below HTTP: the handlers over an in-memory SQLite database and an in-memory channel.

No server, no provider fake, no webhook: a text goes straight into ``handlers.router.handle_inbound``
inside a transaction, exactly as every channel's edge hands it over, and what comes back is the
Reply values and the outbox rows the transaction queued (what a channel would then send).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pytest
from sqlalchemy import select, update
from sqlalchemy.pool import StaticPool

from bot.db import make_engine, make_sessionmaker, upgrade
from core import store
from core.channels import SIMULATOR, SMS
from core.importer import validate_import
from core.models import Organisation, OutboxMessage
from core.replies import Reply
from handlers.context import Context, Route
from handlers.router import handle_inbound

NOW = datetime(2026, 6, 2, 8, 0, tzinfo=timezone.utc)  # 10:00 in Stockholm, as the other suites' clock


def by_sms(person) -> Route | None:
    """The in-memory channel: every person with a usable mobile is reached by SMS."""
    return Route(SMS, person.mobile) if person.mobile and not person.mobile_invalid else None


def team_chat(address: str) -> Route | None:
    kind, _, target = address.partition(":")
    return Route(SIMULATOR, target) if kind == "simulator" else None


@dataclass
class Conversation:
    sessions: object
    now: datetime = NOW
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def context(self, session) -> Context:
        return Context(session=session, now=self.now, route_person=by_sms, route_team=team_chat,
                       route_address=lambda kind, address: Route(SMS, address))

    async def load(self, doc: dict) -> None:
        async with self.sessions.begin() as session:
            plan = validate_import(doc, "Europe/Stockholm", *await store.known_ids(session, doc["organisation"]["id"]))
            await store.apply_import(session, plan, self.now)

    async def team_chat(self, address: str = "simulator:team", org_id: str = "org1") -> None:
        """Give the organisation a team chat (what linking a Telegram group or the simulator's team does)."""
        async with self.sessions.begin() as session:
            await session.execute(update(Organisation).where(Organisation.id == org_id).values(team_chat=address))

    async def say(self, sender: str, body: str) -> list[Reply]:
        """One SMS from ``sender``; the replies it gets, as values."""
        async with self.sessions.begin() as session:
            handled = await handle_inbound(self.context(session), SMS, f"SM{next(self._ids):032d}", sender, body)
        return handled.replies

    async def queued(self) -> list[tuple[str, str, str, str]]:
        """Every outbox row, as (channel, address, kind, body), in the order queued."""
        async with self.sessions() as session:
            rows = await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
            return [(r.channel, r.address, r.kind, r.body) for r in rows]


@pytest.fixture
async def talk():
    engine = make_engine("sqlite+aiosqlite://", poolclass=StaticPool)  # one in-memory database for the test
    await upgrade(engine)
    try:
        yield Conversation(make_sessionmaker(engine))
    finally:
        await engine.dispose()
