"""Parsing what people text: a pure function from text to a Command value.

Case, diacritics and extra spaces do not matter (``PÅMINN alla Maj`` == ``paminn ALLA maj``).
Telegram's ``/paminn`` is the same words with a slash.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from core.months import MonthSpec, parse_month_words
from core.text import fold


@dataclass(frozen=True)
class RemindAll:
    month: MonthSpec | None
    recipient: str | None = None  # BRUKARE <name>
    supervisor: str | None = None  # ARBETSLEDARE <name>


@dataclass(frozen=True)
class RemindOne:
    who: str
    month: MonthSpec | None


@dataclass(frozen=True)
class Status:
    month: MonthSpec | None
    filter: str = "ready"  # ready | off | no_mobile | all


@dataclass(frozen=True)
class Acknowledge:
    pass


@dataclass(frozen=True)
class Stop:
    pass


@dataclass(frozen=True)
class Start:
    pass


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class Unknown:
    text: str
    suggestion: str | None = None


@dataclass(frozen=True)
class Malformed:
    """A known command word with arguments we could not read; ``problem`` says what to change."""

    command: str
    problem: str


Command = RemindAll | RemindOne | Status | Acknowledge | Stop | Start | Help | Unknown | Malformed

COORDINATOR_COMMANDS = (RemindAll, RemindOne, Status)

ACK_WORDS = {"ok", "okej", "okay", "klar", "klart", "ja", "japp", "kvitterat"}
# Twilio's own STOP family reaches us too; Swedish, Danish and Norwegian first.
STOP_WORDS = {"stopp", "stop", "stoppa", "stopall", "unsubscribe", "cancel", "end", "quit", "avsluta"}
START_WORDS = {"start", "starta", "unstop", "yes"}
HELP_WORDS = {"hjalp", "help", "hjaelp", "hjælp", "info", "hjelp"}

STATUS_FILTERS = {
    "redo": "ready", "avstangda": "off", "avstangd": "off", "saknar mobil": "no_mobile",
    "alla": "all", "ready": "ready", "off": "off", "no mobile": "no_mobile", "all": "all",
}

# Canonical spellings offered as suggestions for commands we did not understand.
SUGGESTIONS = {
    "paminn": "PÅMINN ALLA maj",
    "status": "STATUS maj",
    "ok": "OK",
    "stopp": "STOPP",
    "start": "START",
    "hjalp": "HJÄLP",
}


def parse_command(text: str) -> Command:
    """Parse one message. Never raises: anything unreadable becomes Unknown or Malformed."""
    folded = fold(text)
    folded = re.sub(r"^/(\w+)(@\w+)?", r"\1", folded)  # Telegram: /paminn@PaminnBot alla maj
    folded = folded.strip(" .!?")
    words = folded.split()
    if not words:
        return Unknown(text="", suggestion="HJÄLP")
    head, rest = words[0], words[1:]
    if head in ("paminn", "paminnelse", "pamin"):
        return _parse_remind(rest)
    if head == "status":
        return _parse_status(rest)
    if len(words) <= 3 and head in ACK_WORDS:
        return Acknowledge()
    if len(words) == 1:
        if head in STOP_WORDS:
            return Stop()
        if head in START_WORDS:
            return Start()
        if head in HELP_WORDS:
            return Help()
    return Unknown(text=text.strip(), suggestion=_suggest(head))


def _suggest(head: str) -> str | None:
    match = difflib.get_close_matches(head, list(SUGGESTIONS), n=1, cutoff=0.6)
    return SUGGESTIONS[match[0]] if match else None


def _take_month(words: list[str]) -> tuple[MonthSpec | None, list[str]]:
    """A month at the start of ``words``, and what is left."""
    parsed = parse_month_words(words)
    if parsed is None:
        return None, words
    spec, used = parsed
    return spec, words[used:]


def _parse_remind(rest: list[str]) -> Command:
    if not rest:
        return Malformed("PÅMINN", "Skriv vem som ska påminnas, t.ex. PÅMINN ALLA maj eller PÅMINN Anna maj.")
    if rest[0] == "alla":
        month, tail = _take_month(rest[1:])
        if not tail:
            return RemindAll(month)
        narrow, name = tail[0], " ".join(tail[1:])
        if narrow in ("brukare", "kund") and name:
            return RemindAll(month, recipient=name)
        if narrow in ("arbetsledare", "ledare") and name:
            return RemindAll(month, supervisor=name)
        return Malformed(
            "PÅMINN ALLA",
            f"Jag förstod inte '{' '.join(tail)}'. Skriv t.ex. PÅMINN ALLA maj BRUKARE Rolf "
            "eller PÅMINN ALLA maj ARBETSLEDARE Lisa.",
        )
    # PÅMINN <name or mobile> [month]: the month, if any, is at the end.
    for month_words in (2, 1):
        if len(rest) > month_words:
            parsed = parse_month_words(rest[-month_words:])
            who = " ".join(rest[:-month_words])
            if parsed is not None and parsed[1] == month_words and not _cuts_a_number(who):
                return RemindOne(who, parsed[0])
    return RemindOne(" ".join(rest), None)


def _cuts_a_number(who: str) -> bool:
    """True when ``who`` is the front of a phone number whose tail we mistook for a month."""
    digits = re.sub(r"[\s\-+()]", "", who)
    return digits.isdigit() and len(digits) < 9


def _parse_status(rest: list[str]) -> Command:
    month, tail = _take_month(rest)
    if not tail:
        return Status(month)
    wanted = " ".join(tail)
    if wanted in STATUS_FILTERS:
        return Status(month, STATUS_FILTERS[wanted])
    return Malformed("STATUS", f"Okänt filter '{wanted}'. Skriv STATUS maj REDO, AVSTÄNGDA, SAKNAR MOBIL eller ALLA.")
