"""What keeps a confirmed visit in the buffer."""
from __future__ import annotations

from datetime import date

import pytest

from core.buffer import blocking_reasons, buffer_state

DAY = date(2026, 6, 10)


@pytest.mark.parametrize("personal, sd, start, end, expected", [
    ("19900101-1234", "SD1", date(2026, 1, 1), None, []),
    ("19900101-1234", "SD1", date(2026, 1, 1), date(2026, 6, 10), []),  # the last day counts
    (None, "SD1", date(2026, 1, 1), None, ["staff_personal_number"]),
    ("19900101-1234", "", date(2026, 1, 1), None, ["staff_sd_number"]),
    ("19900101-1234", "SD1", None, None, ["customer_decision"]),
    ("19900101-1234", "SD1", date(2026, 6, 11), None, ["customer_decision"]),  # not yet valid
    ("19900101-1234", "SD1", date(2026, 1, 1), date(2026, 6, 9), ["customer_decision"]),  # expired
    (None, None, None, None, ["staff_personal_number", "staff_sd_number", "customer_decision"]),
])
def test_blocking_reasons(personal, sd, start, end, expected):
    assert blocking_reasons(personal, sd, start, end, DAY) == expected


def test_state_follows_confirmation_and_reasons():
    assert buffer_state(False, []) is None
    assert buffer_state(True, []) == "ready"
    assert buffer_state(True, ["customer_decision"]) == "waiting"
