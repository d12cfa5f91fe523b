"""What a handler gets: the transaction, the time, and the few policies the edge decides."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Callable
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from core import store
from core.models import Organisation, Staff
from core.quiet import QuietHours, parse_quiet_hours
from core.templates import InProcessRenderer, Renderer


@dataclass(frozen=True)
class Route:
    channel: str  # sms | simulator | telegram | email
    address: str


@dataclass
class Context:
    session: AsyncSession
    now: datetime
    default_timezone: str = "Europe/Stockholm"
    default_quiet_hours: str = "21:00-08:00"
    team_ack_window: timedelta = timedelta(seconds=60)
    # Decides how a text to a person travels (SMS, simulator, Telegram); set by the edge.
    route_person: Callable[[object], Route | None] | None = None  # a Staff row or a Candidate
    # Decides how a text to a team chat address ("telegram:…", "simulator:…") travels.
    route_team: Callable[[str], Route | None] | None = None
    # Decides how a text to a bare address travels: (kind "sms" | "email", address).
    route_address: Callable[[str, str], Route | None] | None = None
    # Renders organisations' templates; the edge passes worker processes (bot.template_workers),
    # so a costly text never blocks the event loop. In-process (budgets only) is for tests.
    templates: Renderer = field(default_factory=InProcessRenderer)
    # Outbox rows queued in this transaction through ``enqueue``: when there are any, the edge asks
    # for a dispatch once the transaction has committed.
    queued: int = 0

    async def enqueue(self, rows: list[dict]) -> None:
        """Queue outbox rows in this transaction, counted in ``queued``."""
        await store.enqueue(self.session, rows)
        self.queued += len(rows)

    def tz(self, org: Organisation) -> str:
        return org.timezone or self.default_timezone

    def quiet(self, org: Organisation) -> QuietHours | None:
        return parse_quiet_hours(org.quiet_hours if org.quiet_hours is not None else self.default_quiet_hours)

    def today(self, org: Organisation) -> date:
        return self.now.astimezone(ZoneInfo(self.tz(org))).date()

    def local(self, org: Organisation, moment: datetime) -> datetime:
        return moment.astimezone(ZoneInfo(self.tz(org)))


async def require_org(ctx: Context, org_id: str) -> Organisation:
    """The organisation a row names. Every such row holds a foreign key to it (cascading or set to
    NULL on delete), so a missing one is a broken invariant, not a case for the conversation."""
    org = await store.get_org(ctx.session, org_id)
    if org is None:
        raise LookupError(f"organisation {org_id!r} does not exist")
    return org


def is_coordinator(staff: Staff) -> bool:
    return bool({"coordinator", "supervisor", "admin"} & set(staff.role_list()))


def has_full_scope(staff: Staff) -> bool:
    return bool({"coordinator", "admin"} & set(staff.role_list()))
