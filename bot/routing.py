"""How a text to a person or a team chat travels, given what is configured."""
from __future__ import annotations

from dataclasses import dataclass

from bot.config import Settings
from core.eligibility import Candidate
from core.models import Staff
from handlers.context import Route


@dataclass(frozen=True)
class Routes:
    twilio: bool
    telegram: bool
    email: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> "Routes":
        return cls(twilio=settings.twilio_enabled, telegram=bool(settings.telegram_bot_token),
                   email=bool(settings.smtp_url))

    def address(self, kind: str, address: str) -> Route | None:
        """A text to someone who is only an address (a customer's contact): ``kind`` is sms or email."""
        if kind == "email":
            return Route("email", address) if self.email else None  # without SMTP_URL e-mail is off
        return Route("sms" if self.twilio else "simulator", address)

    def person(self, staff: Staff | Candidate) -> Route | None:
        if staff.preferred_channel == "telegram" and staff.telegram_user_id and self.telegram:
            return Route("telegram", str(staff.telegram_user_id))
        if not staff.mobile or staff.mobile_invalid:
            return None
        # Without Twilio credentials every SMS goes to the simulator; with them, only simulated people's.
        if self.twilio and not staff.simulated:
            return Route("sms", staff.mobile)
        return Route("simulator", staff.mobile)

    def team(self, address: str) -> Route | None:
        kind, _, target = address.partition(":")
        if kind == "telegram":
            return Route("telegram", target) if self.telegram else None
        if kind == "simulator":
            return Route("simulator", target or "team")
        return None
