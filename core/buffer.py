"""The integration buffer's rule: what keeps a confirmed visit from being passed on. Pure."""
from __future__ import annotations

from datetime import date

# Reason codes, and what to fix, in Swedish for the people who fix them.
REASONS = {
    "staff_personal_number": "personalen saknar personnummer",
    "staff_sd_number": "personalen saknar SD-nummer",
    "customer_decision": "kunden saknar giltigt beslut för besöksdagen",
}


def blocking_reasons(personal_number: str | None, sd_number: str | None, decision_from: date | None,
                     decision_to: date | None, visit_day: date) -> list[str]:
    """Why the visit must wait (reason codes, in a fixed order); empty when it can go."""
    reasons = []
    if not personal_number:
        reasons.append("staff_personal_number")
    if not sd_number:
        reasons.append("staff_sd_number")
    if decision_from is None or visit_day < decision_from or (decision_to is not None and visit_day > decision_to):
        reasons.append("customer_decision")
    return reasons


def buffer_state(confirmed: bool, reasons: list[str]) -> str | None:
    """Where a visit that is not out on a lease or delivered belongs."""
    if not confirmed:
        return None
    return "waiting" if reasons else "ready"
