"""What a handler answers: a value each channel renders its own way. Pure.

A handler says *what* to answer (a catalogue text in the organisation's language) and what the
answer is for (``intent``: buttons under a status, a request to share one's number, ...); it never
says how a channel shows it. The edges render: TwiML for an SMS answered inline, outbox rows for
the rest, inline keyboards on Telegram (from the intent, never from the words), plain text on the
simulator. An SMS has no buttons, so there the intent is simply left out.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable, Union

from core.catalogue import language, render
from core.text import mask_personal_numbers


@dataclass(frozen=True)
class StatusFilters:
    """Under a month's status: a button per STATUS filter and one to remind everyone ready."""
    month_key: str  # "2026-05"


@dataclass(frozen=True)
class ConfirmRemindAll:
    """Ask before reminding everyone ready for the month: yes, or back to the status."""
    month_key: str


@dataclass(frozen=True)
class ShareNumber:
    """Offer a button that shares the person's own mobile number (to link a chat account)."""


@dataclass(frozen=True)
class RemoveKeyboard:
    """Take away a keyboard offered earlier (the number was shared)."""


Intent = Union[StatusFilters, ConfirmRemindAll, ShareNumber, RemoveKeyboard]


@dataclass(frozen=True)
class Reply:
    """One answer: its text (rendered from the catalogue), which catalogue entry it is, in which
    language, what it is for on a channel that can show more than text, and, on a chat that can
    edit what it sent, the message it replaces."""
    text: str
    key: str | None = None  # the catalogue key of its main text; None for text that is not ours (a stored reply)
    locale: str = "sv"
    intent: Intent | None = None
    edit_message: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "locale", language(self.locale))  # "nb_NO", "no" and None read as catalogue languages
        # A reply may echo what was typed ("no one called '…'"): a personal number in it is never shown back.
        object.__setattr__(self, "text", mask_personal_numbers(self.text))

    @classmethod
    def of(cls, locale: str | None, key: str, *, intent: Intent | None = None, **values) -> "Reply":
        """The catalogue text ``key`` in ``locale`` (Swedish when unknown) with ``values`` filled in."""
        return cls(render(locale, key, **values), key=key, locale=locale or "sv", intent=intent)

    def but(self, **changes) -> "Reply":
        """This reply with some fields changed (a new text, an intent, the message to edit)."""
        return replace(self, **changes)

    def __str__(self) -> str:
        return self.text


def texts(replies: Iterable[Reply]) -> list[str]:
    """The plain texts of ``replies``: what an SMS or the simulator shows."""
    return [r.text for r in replies]
