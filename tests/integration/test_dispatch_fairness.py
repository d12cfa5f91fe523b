"""One organisation's big round must not hold up another's messages: the dispatcher takes each
organisation's messages of each kind in turns, not the whole backlog oldest first."""
from __future__ import annotations

import pytest

from bot.config import Settings
from tests.builders import load, shift
from tests.conftest import start_harness

BIG, SMALL = 450, 3
BATCH = Settings.dispatch_batch  # the dispatcher's batch, unpaced in tests (400: BIG is more than one)


def organisation(org_id: str, name: str, coordinator: str, assistants: int, number_base: int) -> dict:
    return {
        "organisation": {"id": org_id, "name": name, "timezone": "Europe/Stockholm", "locale": "sv",
                         "app_name": "Coordinare", "app_link": "https://app.coordinare.se"},
        "staff": [{"id": "c1", "name": "Karin Koordinator", "mobile": coordinator, "roles": ["coordinator"]}]
        + [{"id": f"a{i}", "name": f"Assistent {i}", "mobile": f"+4670{number_base + i:07d}"}
           for i in range(assistants)],
        "care_recipients": [{"id": "r1", "name": "Rolf Brukare"}],
        "shifts": [shift(f"s{i}", f"a{i}", "r1", "2026-05-04T08:00:00+02:00") for i in range(assistants)],
    }


@pytest.fixture
async def h(db_url, fake_twilio, clock):
    # 453 unpaced sends to the fake in this process's own event loop: on a busy machine a few answers take
    # longer than the harness's send timeout and would come back "unknown". The order is what is tested here.
    harness = await start_harness(db_url, fake_twilio, clock, PAMINN_QUIET_HOURS="off", PAMINN_SEND_TIMEOUT="15")
    yield harness
    await harness.client.close()


async def test_a_small_organisations_round_is_not_held_behind_a_big_one(h):
    await load(h, organisation("big", "Stora Assistans AB", "+46709000001", BIG, 1000000))
    await load(h, organisation("small", "Lilla Assistans AB", "+46709000002", SMALL, 2000000))
    # The big organisation's round is queued first, the small one's after it.
    assert (await h.sms("+46709000001", "PÅMINN ALLA maj"))[0].startswith(f"{BIG} påminnelser")
    assert (await h.sms("+46709000002", "PÅMINN ALLA maj"))[0].startswith(f"{SMALL} påminnelser")
    stats = await h.dispatch()
    assert stats.sent == BIG + SMALL
    small = {f"+4670{2000000 + i:07d}" for i in range(SMALL)}
    # Every send of a batch is made before the next batch is claimed: the small organisation's
    # assistants are in the first one, not after the big round's 450.
    first_batch = h.fake.asked[:BATCH]
    assert small <= set(first_batch), [h.fake.asked.index(n) for n in small]
    assert sorted(m.to for m in h.fake.messages) == sorted(
        [f"+4670{1000000 + i:07d}" for i in range(BIG)] + sorted(small))
