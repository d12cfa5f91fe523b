"""Everything the service says, rendered from plain values. Swedish first.

The reminder SMS and the assistant's side of the conversation (OK, STOPP, START, HJÄLP, free text)
follow the organisation's locale (sv, da, nb, en); coordinators' replies and the team chat are Swedish.
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
    Reason.WAITING: "har en påminnelse som väntar på att skickas",
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
# What an assistant is answered, in the organisation's locale.
ASSISTANT_REPLIES = {
    "sv": {
        "ack": "Tack! Vi har noterat att du sett påminnelsen för {month}.",
        "nothing_to_ack": "Tack! Du har ingen påminnelse att bekräfta just nu.",
        "stopped": "Påminnelserna är avstängda. Svara START om du vill få dem igen.",
        "started": "Påminnelserna är påslagna igen.",
        "help": HELP_ASSISTANT,
        "forwarded": "Tack, ditt meddelande har skickats vidare till din samordnare.",
        "unknown": "Jag förstod inte det.", "did_you_mean": " Menade du {suggestion}?",
        "write_help": " Skriv HJÄLP för hjälp.",
    },
    "da": {
        "ack": "Tak! Vi har noteret, at du har set påmindelsen for {month}.",
        "nothing_to_ack": "Tak! Du har ingen påmindelse at bekræfte lige nu.",
        "stopped": "Påmindelserne er slået fra. Svar START, hvis du vil have dem igen.",
        "started": "Påmindelserne er slået til igen.",
        "help": "Svar OK, når du har set påmindelsen. STOP slår påmindelserne fra, START slår dem til igen. "
                "Spørgsmål om dine vagter? Kontakt din koordinator.",
        "forwarded": "Tak, din besked er sendt videre til din koordinator.",
        "unknown": "Det forstod jeg ikke.", "did_you_mean": " Mente du {suggestion}?",
        "write_help": " Skriv HJÆLP for hjælp.",
    },
    "nb": {
        "ack": "Takk! Vi har notert at du har sett påminnelsen for {month}.",
        "nothing_to_ack": "Takk! Du har ingen påminnelse å bekrefte akkurat nå.",
        "stopped": "Påminnelsene er slått av. Svar START hvis du vil få dem igjen.",
        "started": "Påminnelsene er slått på igjen.",
        "help": "Svar OK når du har sett påminnelsen. STOPP slår av påminnelsene, START slår dem på igjen. "
                "Spørsmål om vaktene dine? Kontakt koordinatoren din.",
        "forwarded": "Takk, meldingen din er sendt videre til koordinatoren din.",
        "unknown": "Det forsto jeg ikke.", "did_you_mean": " Mente du {suggestion}?",
        "write_help": " Skriv HJELP for hjelp.",
    },
    "en": {
        "ack": "Thanks! We have noted that you have seen the reminder for {month}.",
        "nothing_to_ack": "Thanks! You have no reminder to confirm right now.",
        "stopped": "Reminders are off. Reply START to get them again.",
        "started": "Reminders are on again.",
        "help": "Reply OK when you have seen the reminder. STOP turns reminders off, START turns them on again. "
                "Questions about your shifts? Contact your coordinator.",
        "forwarded": "Thanks, your message has been passed on to your coordinator.",
        "unknown": "I did not understand that.", "did_you_mean": " Did you mean {suggestion}?",
        "write_help": " Write HELP for help.",
    },
}


def assistant_reply(key: str, locale: str = "sv", **values) -> str:
    """One of ASSISTANT_REPLIES in ``locale`` (Swedish for any other)."""
    return ASSISTANT_REPLIES.get(locale, ASSISTANT_REPLIES["sv"])[key].format(**values)


def ack_reply(month: Month, locale: str = "sv") -> str:
    return assistant_reply("ack", locale, month=month_label(month, locale))


def unknown_reply(suggestion: str | None, coordinator: bool, locale: str = "sv") -> str:
    if coordinator:  # coordinators work in Swedish
        base = "Jag förstod inte det." + (f" Menade du {suggestion}?" if suggestion else "")
        return base + " Skriv HJÄLP för alla kommandon."
    did_you_mean = assistant_reply("did_you_mean", locale, suggestion=suggestion) if suggestion else ""
    return assistant_reply("unknown", locale) + did_you_mean + assistant_reply("write_help", locale)
