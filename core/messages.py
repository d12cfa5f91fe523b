"""Everything the service says, rendered from plain values. Swedish first.

The reminder SMS itself follows the organisation's locale (sv, da, nb, en); replies to
coordinators and assistants are Swedish, the working language of the users we have.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from core.eligibility import REASON_ORDER, Reason
from core.months import Month, month_label
from core.segments import count_segments

REMINDER_TEXT = {
    "sv": "Hej! Det här är en påminnelse om att du har pass kvar att närvaroregistrera/signera i {app} för {month}",
    "da": "Hej! Dette er en påmindelse om, at du har vagter tilbage at registrere/signere i {app} for {month}",
    "nb": "Hei! Dette er en påminnelse om at du har vakter igjen å registrere/signere i {app} for {month}",
    "en": "Hi! This is a reminder that you have shifts left to register/sign in {app} for {month}",
}


def reminder_text(app_name: str, app_link: str, month: Month, locale: str = "sv") -> str:
    """The reporting-status reminder SMS, exactly as the contract words it."""
    loc = locale if locale in REMINDER_TEXT else "sv"
    body = REMINDER_TEXT[loc].format(app=app_name, month=month_label(month, loc))
    return f"{body} {app_link}" if app_link else body


REASON_TEXT = {
    Reason.DUE: "redo",
    Reason.NOTHING_TO_REPORT: "har inget kvar att rapportera",
    Reason.REMINDERS_OFF: "har påminnelser avstängda",
    Reason.RECIPIENT_REMINDERS_OFF: "arbetar hos brukare med påminnelser avstängda",
    Reason.NO_MOBILE: "saknar mobilnummer",
    Reason.REMINDED_RECENTLY: "fick påminnelse de senaste 2 timmarna",
}


def held_back_text(counts: Counter[Reason] | dict) -> str:
    """``3 saknar mobilnummer, 1 har påminnelser avstängda`` in a fixed order; empty when none."""
    parts = []
    for reason in REASON_ORDER:
        n = counts.get(reason, 0) or counts.get(reason.value, 0)
        if n and reason is not Reason.NOTHING_TO_REPORT:
            parts.append(f"{n} {REASON_TEXT[reason]}")
    return ", ".join(parts)


@dataclass(frozen=True)
class RoundSummary:
    month: Month
    sent: int
    segments: int
    counts: dict  # Reason -> count
    scope: str = ""  # "" for everyone, else e.g. "brukare Rolf Brukare"
    implicit_month: bool = False
    deferred_until: str | None = None  # local "08:00" when quiet hours hold the round


def implicit_month_note(month: Month) -> str:
    """Said whenever a command named no month and we took last month."""
    return f"Ingen månad angiven, så jag tog förra månaden ({month_label(month)})."


def round_reply(s: RoundSummary) -> str:
    """What the coordinator reads after ``PÅMINN ALLA``."""
    label = month_label(s.month)
    lines = []
    if s.implicit_month:
        lines.append(implicit_month_note(s.month))
    scope = f" ({s.scope})" if s.scope else ""
    word = "påminnelse" if s.sent == 1 else "påminnelser"
    lines.append(f"{s.sent} {word} för {label}{scope} skickade ({s.segments} SMS-delar).")
    held = held_back_text(s.counts)
    if held:
        lines.append(f"Inte skickade: {held}.")
    done = s.counts.get(Reason.NOTHING_TO_REPORT, 0)
    if done:
        lines.append(f"{done} har redan rapporterat allt.")
    if s.deferred_until:
        lines.append(f"Tysta timmar: SMS:en går ut kl {s.deferred_until}.")
    return "\n".join(lines)


def team_round_text(coordinator: str, s: RoundSummary) -> str:
    """What the team chat hears about a round."""
    label = month_label(s.month)
    scope = f" ({s.scope})" if s.scope else ""
    text = f"{coordinator} skickade påminnelser för {label}{scope}: {s.sent} skickade."
    held = held_back_text(s.counts)
    if held:
        text += f" Inte skickade: {held}."
    if s.deferred_until:
        text += f" Går ut kl {s.deferred_until} (tysta timmar)."
    return text


def limit_list(header: str, names: list[str], max_segments: int = 3) -> str:
    """``header`` and as many names as fit in ``max_segments`` SMS parts, then ``…och N till``."""
    def fits(text: str) -> bool:
        return count_segments(text).segments <= max_segments

    whole = f"{header}\n" + ", ".join(names)
    if not names or fits(whole):
        return whole if names else header
    shown = 0
    while shown < len(names):
        candidate = f"{header}\n" + ", ".join(names[:shown + 1]) + f" …och {len(names) - shown - 1} till"
        if not fits(candidate):
            break
        shown += 1
    return f"{header}\n" + ", ".join(names[:shown]) + f" …och {len(names) - shown} till"


STATUS_HEADINGS = {
    "ready": "redo för påminnelse",
    "off": "med påminnelser avstängda",
    "no_mobile": "utan mobilnummer",
    "all": "med pass kvar att rapportera",
}

HELP_COORDINATOR = (
    "Kommandon: PÅMINN ALLA maj | PÅMINN ALLA maj BRUKARE <namn> | PÅMINN ALLA maj ARBETSLEDARE <namn> | "
    "PÅMINN <namn eller mobil> maj | STATUS maj [REDO|AVSTÄNGDA|SAKNAR MOBIL|ALLA] | STOPP | START"
)
HELP_ASSISTANT = (
    "Svara OK när du har sett påminnelsen. STOPP stänger av påminnelserna, START slår på dem igen. "
    "Frågor om dina pass? Kontakta din samordnare."
)
UNKNOWN_SENDER = (
    "Det här numret finns inte hos Påminn. Kontakta din arbetsgivare om du ska få påminnelser hit."
)
NOT_YOURS = (
    "Det kommandot kan bara samordnare och arbetsledare använda. Du kan svara OK, STOPP, START eller HJÄLP."
)
STOPPED = "Påminnelserna är avstängda. Svara START om du vill få dem igen."
STARTED = "Påminnelserna är påslagna igen."
NO_REMINDER_TO_ACK = "Tack! Du har ingen påminnelse att bekräfta just nu."


def ack_reply(month: Month) -> str:
    return f"Tack! Vi har noterat att du sett påminnelsen för {month_label(month)}."


def forwarded_reply() -> str:
    return "Tack, ditt meddelande har skickats vidare till din samordnare."


def unknown_reply(suggestion: str | None, coordinator: bool) -> str:
    base = "Jag förstod inte det."
    if suggestion:
        base += f" Menade du {suggestion}?"
    return base + (" Skriv HJÄLP för alla kommandon." if coordinator else " Skriv HJÄLP för hjälp.")
