"""Parsing what people text: a pure function from text to a Command value.

Case, diacritics and extra spaces do not matter (``PÅMINN alla Maj`` == ``paminn ALLA maj``).
Telegram's ``/paminn`` is the same words with a slash.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from core.catalogue import render
from core.months import MonthSpec, parse_month_words
from core.text import fold


@dataclass(frozen=True)
class RemindAll:
    month: MonthSpec | None
    recipient: str | None = None  # BRUKARE <name>, folded
    supervisor: str | None = None  # ARBETSLEDARE <name>, folded
    # The names as the person wrote them, to echo back ("Hittar ingen brukare som heter 'Tore'").
    recipient_written: str | None = field(default=None, compare=False)
    supervisor_written: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class RemindOne:
    who: str
    month: MonthSpec | None
    who_written: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Status:
    month: MonthSpec | None
    filter: str = "ready"  # ready | off | no_mobile | all
    recipient: str | None = None
    supervisor: str | None = None
    recipient_written: str | None = field(default=None, compare=False)
    supervisor_written: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Report:
    """RAPPORT maj: the month's funnel (reminded, delivered, acknowledged, unfinished now)."""

    month: MonthSpec | None
    recipient: str | None = None
    supervisor: str | None = None
    recipient_written: str | None = field(default=None, compare=False)
    supervisor_written: str | None = field(default=None, compare=False)


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
    suggestion: str | None = None  # in Swedish, with the month the person wrote if any
    # What to suggest (a catalogue key under ``suggest.``) and the month words the person wrote,
    # so the reply can offer it in the organisation's language with their month, or last month's.
    suggestion_key: str | None = field(default=None, compare=False)
    suggestion_month: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Malformed:
    """A known command word with arguments we could not read; ``problem`` says what to change."""

    command: str
    problem: str  # in Swedish
    key: str = field(default="", compare=False)  # the catalogue key of ``problem``, for other languages
    values: dict = field(default_factory=dict, compare=False)


Command = RemindAll | RemindOne | Status | Report | Acknowledge | Stop | Start | Help | Unknown | Malformed

COORDINATOR_COMMANDS = (RemindAll, RemindOne, Status, Report)

# Every organisation understands every language's words (folded: no case, no diacritics; æ and ø stay);
# replies follow the organisation's locale. docs/commands.md has the table.
REMIND_WORDS = {"paminn", "paminnelse", "pamin", "pamind", "remind"}
ALL_WORDS = {"alla", "alle", "all"}
RECIPIENT_WORDS = {"brukare", "borger", "bruker", "client"}
SUPERVISOR_WORDS = {"arbetsledare", "arbejdsleder", "arbeidsleder", "supervisor"}
# Short forms, accepted right after the month but not taken as the end of a name ("Lisa Ledare").
RECIPIENT_ALIASES = RECIPIENT_WORDS | {"kund", "recipient"}
SUPERVISOR_ALIASES = SUPERVISOR_WORDS | {"ledare", "leder"}
ACK_WORDS = {"ok", "okej", "okay", "klar", "klart", "ja", "japp", "kvitterat"}
# Twilio's own STOP family reaches us too; Swedish, Danish and Norwegian first.
STOP_WORDS = {"stopp", "stop", "stoppa", "stopall", "unsubscribe", "cancel", "end", "quit", "avsluta"}
START_WORDS = {"start", "starta", "unstop", "yes"}
REPORT_WORDS = {"rapport", "report"}  # sv, da, nb: RAPPORT; en: REPORT
HELP_WORDS = {"hjalp", "help", "hjaelp", "hjælp", "info", "hjelp"}

STATUS_FILTERS = {
    "redo": "ready", "avstangda": "off", "avstangd": "off", "saknar mobil": "no_mobile", "alla": "all",
    "klar": "ready", "slaet fra": "off", "slået fra": "off", "mangler mobil": "no_mobile", "alle": "all",
    "avslatt": "off", "slatt av": "off",
    "ready": "ready", "off": "off", "no mobile": "no_mobile", "all": "all",
}

# Close misspellings of these heads get a suggestion: a catalogue key under ``suggest.``.
SUGGESTIONS = {
    "paminn": "remind_all", "pamind": "remind_all", "remind": "remind_all",
    "status": "status",
    "rapport": "report", "report": "report",
    "ok": "ok",
    "stopp": "stop",
    "start": "start",
    "hjalp": "help", "hjelp": "help", "help": "help",
}
SWEDISH_SUGGESTIONS = {"remind_all": "PÅMINN ALLA {month}", "status": "STATUS {month}",
                       "report": "RAPPORT {month}", "ok": "OK",
                       "stop": "STOPP", "start": "START", "help": "HJÄLP"}


def _tokens(text: str) -> tuple[list[str], list[str]]:
    """The words folded, and the same words as written (for echoing names back)."""
    written = text.split()
    folded = [fold(w) for w in written]
    if folded:
        folded[0] = re.sub(r"^/(\w+)(@\w+)?", r"\1", folded[0])  # Telegram: /paminn@PaminnBot alla maj
        written[0] = re.sub(r"^/(\w+)(@\w+)?", r"\1", written[0])
    pairs = [(f, w) for f, w in zip(folded, written) if f]
    # Punctuation around the message ("ok!", "status maj.") is not part of any word.
    while pairs and not pairs[0][0].lstrip(" .!?"):
        pairs.pop(0)
    if pairs:
        pairs[0] = (pairs[0][0].lstrip(" .!?"), pairs[0][1].lstrip(" .!?"))
    while pairs and not pairs[-1][0].rstrip(" .!?"):
        pairs.pop()
    if pairs:
        pairs[-1] = (pairs[-1][0].rstrip(" .!?"), pairs[-1][1].rstrip(" .!?"))
    return [f for f, _ in pairs], [w for _, w in pairs]


def parse_command(text: str) -> Command:
    """Parse one message. Never raises: anything unreadable becomes Unknown or Malformed."""
    words, written = _tokens(text)
    if not words:
        return Unknown(text="", suggestion="HJÄLP", suggestion_key="help")
    head, rest, rest_written = words[0], words[1:], written[1:]
    if head in REMIND_WORDS:
        return _parse_remind(rest, rest_written)
    if head == "status":
        return _parse_status(rest, rest_written)
    if head in REPORT_WORDS:
        return _parse_report(rest, rest_written)
    if len(words) <= 3 and head in ACK_WORDS:
        return Acknowledge()
    if len(words) == 1:
        if head in STOP_WORDS:
            return Stop()
        if head in START_WORDS:
            return Start()
        if head in HELP_WORDS:
            return Help()
    return _unknown(text.strip(), head, rest, rest_written)


def _unknown(text: str, head: str, rest: list[str], rest_written: list[str]) -> Unknown:
    match = difflib.get_close_matches(head, list(SUGGESTIONS), n=1, cutoff=0.6)
    if not match:
        return Unknown(text=text)
    key = SUGGESTIONS[match[0]]
    month_written = None
    if key in ("remind_all", "status", "report"):
        skip = 1 if key == "remind_all" and rest and rest[0] in ALL_WORDS else 0
        parsed = parse_month_words(rest[skip:])
        if parsed is not None:  # the person's own month, as they wrote it
            month_written = " ".join(rest_written[skip:skip + parsed[1]])
    swedish = SWEDISH_SUGGESTIONS[key].format(month=month_written or "").strip()
    return Unknown(text=text, suggestion=swedish, suggestion_key=key, suggestion_month=month_written)


def _take_month(words: list[str], written: list[str]) -> tuple[MonthSpec | None, list[str], list[str]]:
    """A month at the start of ``words``, and what is left (folded and as written)."""
    parsed = parse_month_words(words)
    if parsed is None:
        return None, words, written
    spec, used = parsed
    return spec, words[used:], written[used:]


def _narrowing(words: list[str], written: list[str]) -> dict[str, tuple[str, str]] | None:
    """``BRUKARE <name>`` and/or ``ARBETSLEDARE <name>``, in either order: {kind: (folded, written)}.

    None when the words are anything else. A name runs until the other kind's word, so
    ``ARBETSLEDARE Lisa Ledare BRUKARE Rolf Brukare`` reads as two names.
    """
    found: dict[str, tuple[str, str]] = {}
    i = 0
    while i < len(words):
        if words[i] in RECIPIENT_ALIASES:
            kind, stop_at = "recipient", SUPERVISOR_WORDS
        elif words[i] in SUPERVISOR_ALIASES:
            kind, stop_at = "supervisor", RECIPIENT_WORDS
        else:
            return None
        end = i + 1
        while end < len(words) and words[end] not in stop_at:
            end += 1
        if end == i + 1 or kind in found:
            return None
        found[kind] = (" ".join(words[i + 1:end]), " ".join(written[i + 1:end]))
        i = end
    return found or None


def _narrowed(found: dict[str, tuple[str, str]]) -> dict:
    recipient, supervisor = found.get("recipient"), found.get("supervisor")
    return {"recipient": recipient[0] if recipient else None, "supervisor": supervisor[0] if supervisor else None,
            "recipient_written": recipient[1] if recipient else None,
            "supervisor_written": supervisor[1] if supervisor else None}


def _malformed(command: str, key: str, **values) -> Malformed:
    return Malformed(command, render("sv", key, **values), key, values)


def _parse_remind(rest: list[str], written: list[str]) -> Command:
    if not rest:
        return _malformed("PÅMINN", "malformed.remind")
    if rest[0] in ALL_WORDS:
        month, tail, tail_written = _take_month(rest[1:], written[1:])
        if not tail:
            return RemindAll(month)
        found = _narrowing(tail, tail_written)
        if found is None:
            return _malformed("PÅMINN ALLA", "malformed.narrow", tail=" ".join(tail))
        return RemindAll(month, **_narrowed(found))
    # PÅMINN <name or mobile> [month]: the month, if any, is at the end.
    for month_words in (2, 1):
        if len(rest) > month_words:
            parsed = parse_month_words(rest[-month_words:])
            who = " ".join(rest[:-month_words])
            numeric = all(w.isdigit() for w in rest[-month_words:])
            if parsed is not None and parsed[1] == month_words and not (numeric and _cuts_a_number(who)):
                return RemindOne(who, parsed[0], " ".join(written[:-month_words]))
    return RemindOne(" ".join(rest), None, " ".join(written))


def _cuts_a_number(who: str) -> bool:
    """True when ``who`` is the front of a phone number whose tail we mistook for a month."""
    digits = re.sub(r"[\s\-+()]", "", who)
    return digits.isdigit() and len(digits) < 9


def _take_filter(words: list[str], at_end: bool) -> tuple[str | None, int]:
    """A status filter at the start (or end) of ``words``, and how many words it used."""
    for length in (2, 1):
        if len(words) >= length:
            phrase = " ".join(words[-length:] if at_end else words[:length])
            if phrase in STATUS_FILTERS:
                return STATUS_FILTERS[phrase], length
    return None, 0


def _parse_status(rest: list[str], written: list[str]) -> Command:
    """``STATUS [month] [filter] [BRUKARE <name>] [ARBETSLEDARE <name>]`` (the filter may also come last)."""
    month, tail, tail_written = _take_month(rest, written)
    if not tail:
        return Status(month)
    wanted, used = _take_filter(tail, at_end=False)
    if wanted is not None and used == len(tail):
        return Status(month, wanted)
    if wanted is None:
        wanted, used_end = _take_filter(tail, at_end=True)
        narrow, narrow_written = (tail[:-used_end], tail_written[:-used_end]) if used_end else (tail, tail_written)
    else:
        narrow, narrow_written = tail[used:], tail_written[used:]
    found = _narrowing(narrow, narrow_written) if narrow else None
    if found is None:
        return _malformed("STATUS", "malformed.status", tail=" ".join(tail))
    return Status(month, wanted or "ready", **_narrowed(found))


def _parse_report(rest: list[str], written: list[str]) -> Command:
    """``RAPPORT [month] [BRUKARE <name>] [ARBETSLEDARE <name>]``."""
    month, tail, tail_written = _take_month(rest, written)
    if not tail:
        return Report(month)
    found = _narrowing(tail, tail_written)
    if found is None:
        return _malformed("RAPPORT", "malformed.report", tail=" ".join(tail))
    return Report(month, **_narrowed(found))
