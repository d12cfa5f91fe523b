"""Everything the service says, rendered from plain values and the catalogue (core/catalogue/).

Every text follows the organisation's locale (sv, da, nb, en; Swedish for anything else): the
reminder SMS, the assistant's and the coordinator's side of the conversation, and the team chat.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.catalogue import render, render_plural, text
from core.eligibility import REASON_ORDER, Reason
from core.months import Month, month_label
from core.segments import count_segments


def reminder_text(app_name: str, app_link: str, month: Month, locale: str = "sv") -> str:
    """The reporting-status reminder SMS, exactly as the contract words it."""
    body = render(locale, "reminder", app=app_name, month=month_label(month, locale))
    return f"{body} {app_link}" if app_link else body


def reason_text(reason: Reason, locale: str = "sv") -> str:
    return render(locale, f"reason.{reason.value}")


# Swedish labels by reason, for the simulator page.
REASON_TEXT = {reason: reason_text(reason) for reason in Reason}


def held_back_text(counts: Mapping[Any, int], locale: str = "sv") -> str:
    """``3 saknar mobilnummer, 1 har påminnelser avstängda`` in a fixed order; empty when none.
    ``counts`` is keyed by Reason (a fresh count) or by its value (a round's stored held_back)."""
    parts = []
    for reason in REASON_ORDER:
        n = counts.get(reason, 0) or counts.get(reason.value, 0)
        if n and reason is not Reason.NOTHING_TO_REPORT:
            parts.append(f"{n} {reason_text(reason, locale)}")
    return text(locale, "list.join").join(parts)


@dataclass(frozen=True)
class RoundSummary:
    month: Month
    sent: int
    segments: int
    counts: dict  # Reason -> count
    scope: str = ""  # "" for everyone, else e.g. "brukare Rolf Brukare"
    implicit_month: bool = False
    deferred_until: str | None = None  # local "08:00" when quiet hours hold the round
    locale: str = "sv"
    month_note: str = ""  # said after the summary, e.g. which year a month without one was taken in


def implicit_month_note(month: Month, locale: str = "sv") -> str:
    """Said whenever a command named no month and we took last month."""
    return render(locale, "month.implicit", month=month_label(month, locale))


def _scope(s: RoundSummary) -> str:
    return f" ({s.scope})" if s.scope else ""


def _nobody_reached(s: RoundSummary, label: str) -> str:
    """Why a round reached nobody: no shifts, all done, or what held the rest back."""
    held = {r: n for r, n in s.counts.items() if n and r not in (Reason.DUE, Reason.NOTHING_TO_REPORT)}
    values = {"month": label, "scope": _scope(s)}
    if not held:
        key = "round.none.all_done" if s.counts.get(Reason.NOTHING_TO_REPORT) else "round.none.no_shifts"
        return render(s.locale, key, **values)
    if len(held) == 1:
        ((reason, n),) = held.items()
        return render_plural(s.locale, "round.none.one_reason", n, reason=reason_text(reason, s.locale), **values)
    return render(s.locale, "round.none.mixed", **values)


def round_reply(s: RoundSummary) -> str:
    """What the coordinator reads after ``PÅMINN ALLA``; a round that reached nobody says why."""
    label = month_label(s.month, s.locale)
    held = held_back_text(s.counts, s.locale)
    reasons_held = sum(1 for r, n in s.counts.items() if n and r not in (Reason.DUE, Reason.NOTHING_TO_REPORT))
    done = s.counts.get(Reason.NOTHING_TO_REPORT, 0)
    lines = [implicit_month_note(s.month, s.locale)] if s.implicit_month else []
    if s.sent:
        lines.append(render_plural(s.locale, "round.sent", s.sent, month=label, scope=_scope(s),
                                   segments=s.segments))
    else:
        lines.append(_nobody_reached(s, label))
    if held and (s.sent or reasons_held > 1):  # one reason alone is already said in the line above
        lines.append(render(s.locale, "round.held", held=held))
    if done and (s.sent or held):
        lines.append(render(s.locale, "round.done", n=done))
    if s.deferred_until and s.sent:
        lines.append(render(s.locale, "round.quiet", time=s.deferred_until))
    if s.month_note:
        lines.append(s.month_note)
    return "\n".join(lines)


def team_round_text(coordinator: str, s: RoundSummary) -> str:
    """What the team chat hears about a round."""
    label = month_label(s.month, s.locale)
    out = render(s.locale, "team.round", coordinator=coordinator, month=label, scope=_scope(s), sent=s.sent)
    held = held_back_text(s.counts, s.locale)
    if held:
        out += render(s.locale, "team.round.held", held=held)
    if s.deferred_until:
        out += render(s.locale, "team.round.quiet", time=s.deferred_until)
    return out


def limit_list(header: str, names: list[str], max_segments: int = 3, sep: str = ", ", locale: str = "sv") -> str:
    """``header`` and as many names as fit in ``max_segments`` SMS parts, then ``…och N till``."""
    def fits(candidate: str) -> bool:
        return count_segments(candidate).segments <= max_segments

    def more(n: int) -> str:
        return render(locale, "more", n=n)

    whole = f"{header}\n" + sep.join(names)
    if not names or fits(whole):
        return whole if names else header
    shown = 0
    while shown < len(names):
        candidate = f"{header}\n" + sep.join(names[:shown + 1]) + more(len(names) - shown - 1)
        if not fits(candidate):
            break
        shown += 1
    return f"{header}\n" + sep.join(names[:shown]) + more(len(names) - shown)


def render_for(locale: str, key: str, **values) -> str:
    """A catalogue text by key (for replies that are a single catalogue entry)."""
    return render(locale, key, **values)


def help_coordinator(locale: str = "sv") -> str:
    return render(locale, "help.coordinator") + render(locale, "help.coordinator.narrow")


# Kept for callers that speak Swedish only (no organisation known).
HELP_COORDINATOR = help_coordinator("sv")
UNKNOWN_SENDER = render("sv", "unknown_sender")
NOT_YOURS = render("sv", "not_yours")
HELP_ASSISTANT = render("sv", "assistant.help")


def assistant_reply(key: str, locale: str = "sv", **values) -> str:
    """One of the assistant's replies (``assistant.<key>`` in the catalogue) in ``locale``."""
    return render(locale, f"assistant.{key}", **values)


def ack_reply(month: Month, locale: str = "sv") -> str:
    return assistant_reply("ack", locale, month=month_label(month, locale))


def unknown_reply(suggestion: str | None, coordinator: bool, locale: str = "sv") -> str:
    did_you_mean = assistant_reply("did_you_mean", locale, suggestion=suggestion) if suggestion else ""
    if coordinator:
        return render(locale, "unknown.coordinator", did_you_mean=did_you_mean)
    return assistant_reply("unknown", locale) + did_you_mean + assistant_reply("write_help", locale)
