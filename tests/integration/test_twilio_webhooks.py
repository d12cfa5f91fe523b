"""Twilio webhooks refuse what they should, write nothing for it, and act once per MessageSid."""
from __future__ import annotations

import asyncio
import itertools

import pytest

from tests.builders import ANNA, COORD, load, may_org, reminder

TABLES = ("inbound", "outbox", "reminder_rounds", "reminder_history")


async def counts(harness) -> dict:
    return {t: await harness.scalar(f"SELECT count(*) FROM {t}") for t in TABLES}


def form(sid="SMforged0000000000000000000000001", sender=COORD, body="PÅMINN ALLA maj"):
    return {"MessageSid": sid, "From": sender, "To": "+46766860000", "Body": body}


async def test_forged_or_missing_signature_is_refused_and_writes_nothing(harness):
    await load(harness, may_org())
    before = await counts(harness)
    params = form()
    for signature in ("forged", None, harness.sign("/webhooks/twilio/sms", {**params, "Body": "STATUS maj"})):
        response = await harness.post_form("/webhooks/twilio/sms", params, signature=signature)
        assert response.status == 403
    # Signed for another URL (http vs the configured public URL's path) does not pass either.
    wrong_url = harness.sign("/webhooks/twilio/status", params)
    assert (await harness.post_form("/webhooks/twilio/sms", params, signature=wrong_url)).status == 403
    assert await counts(harness) == before
    await harness.dispatch()
    assert harness.fake.messages == []


async def test_signature_checked_against_public_url_not_request_url(db_url, fake_twilio, clock):
    """Behind a proxy Twilio signs the public URL; the service must check that one."""
    from tests.conftest import start_harness

    h = await start_harness(db_url, fake_twilio, clock, PAMINN_PUBLIC_URL="https://paminn.example.se")
    try:
        await load(h, may_org())
        params = form(body="HJÄLP")
        from twilio.request_validator import RequestValidator

        from tests.fakes.twilio import AUTH_TOKEN

        good = RequestValidator(AUTH_TOKEN).compute_signature("https://paminn.example.se/webhooks/twilio/sms", params)
        assert (await h.post_form("/webhooks/twilio/sms", params, signature=good)).status == 200
        local_form = form(sid="SMx2", body="HJÄLP")
        local = h.sign("/webhooks/twilio/sms", local_form)
        assert (await h.post_form("/webhooks/twilio/sms", local_form, signature=local)).status == 403
    finally:
        await h.client.close()


async def test_a_signature_over_the_url_with_its_default_port_passes_and_odd_ones_are_refused(db_url, fake_twilio,
                                                                                               clock):
    """Twilio sometimes signs ``https://host:443/…`` for ``https://host/…``: both pass, as the library allows; a
    signature that is no base64 at all (non-ASCII) is refused like any forgery, not an error."""
    from twilio.request_validator import RequestValidator

    from tests.conftest import start_harness
    from tests.fakes.twilio import AUTH_TOKEN

    h = await start_harness(db_url, fake_twilio, clock, PAMINN_PUBLIC_URL="https://paminn.example.se")
    try:
        await load(h, may_org())
        validator = RequestValidator(AUTH_TOKEN)
        with_port = form(sid="SMport1", body="HJÄLP")
        signature = validator.compute_signature("https://paminn.example.se:443/webhooks/twilio/sms", with_port)
        assert (await h.post_form("/webhooks/twilio/sms", with_port, signature=signature)).status == 200
        before = await counts(h)
        odd = form(sid="SModd1", body="HJÄLP")
        for forged in ("åäö" + signature[3:], signature[:-2] + "==", "x" * 400):
            assert (await h.post_form("/webhooks/twilio/sms", odd, signature=forged)).status == 403
        assert await counts(h) == before
    finally:
        await h.client.close()


async def test_oversized_malformed_and_incomplete_requests(harness):
    await load(harness, may_org())
    before = await counts(harness)
    big = form(body="x" * (70 * 1024))
    assert (await harness.post_form("/webhooks/twilio/sms", big)).status == 413
    raw = await harness.client.post("/webhooks/twilio/sms", data=b"\xff\xfe=%%%",
                                    headers={"Content-Type": "application/x-www-form-urlencoded",
                                             "X-Twilio-Signature": "x"})
    assert raw.status == 400
    as_json = await harness.client.post("/webhooks/twilio/sms", json=form())
    assert as_json.status == 400
    no_sid = {"From": COORD, "Body": "PÅMINN ALLA maj"}
    assert (await harness.post_form("/webhooks/twilio/sms", no_sid)).status == 400
    assert await counts(harness) == before


async def test_repeated_message_sid_is_answered_but_acted_on_once(harness):
    await load(harness, may_org())
    first = await harness.sms(COORD, "PÅMINN ALLA maj", sid="SMdup00000000000000000000000000001")
    harness.clock.advance(hours=3)  # even when the 2-hour rule would allow a new round
    again = await harness.sms(COORD, "PÅMINN ALLA maj", sid="SMdup00000000000000000000000000001")
    assert again == first
    assert await harness.scalar("SELECT count(*) FROM reminder_rounds") == 1
    await harness.dispatch()
    assert len(harness.fake.messages) == 4


async def test_same_message_sid_twice_at_once_acts_once(harness):
    await load(harness, may_org())
    results = await asyncio.gather(*(harness.sms(COORD, "PÅMINN ALLA maj", sid="SMrace0000000000000000000000000001")
                                     for _ in range(5)))
    assert all(r == results[0] for r in results), results
    assert await harness.scalar("SELECT count(*) FROM reminder_rounds") == 1
    await harness.dispatch()
    assert len(harness.fake.messages) == 4


async def status(harness, sid: str, row_id: int | None, value: str, error: str | None = None):
    path = "/webhooks/twilio/status" + (f"?m={row_id}" if row_id else "")
    params = {"MessageSid": sid, "MessageStatus": value, "AccountSid": "AC"}
    if error:
        params["ErrorCode"] = error
    return await harness.post_form(path, params)


@pytest.mark.parametrize("order", list(itertools.permutations(["sent", "delivered", "queued"])))
async def test_status_callbacks_in_every_order_end_delivered(harness, order):
    await load(harness, may_org())
    await harness.sms(COORD, "PÅMINN Anna maj")
    await harness.dispatch()
    (row_id, sid), = await harness.rows("SELECT id, provider_id FROM outbox WHERE address = :a", a=ANNA)
    for value in order:
        assert (await status(harness, sid, row_id, value)).status == 204
    assert await harness.scalar("SELECT status FROM outbox WHERE id = :i", i=row_id) == "delivered"


async def test_status_callback_before_send_result_is_kept(harness):
    """Twilio may call back before our own bookkeeping of the send is committed."""
    await load(harness, may_org())
    await harness.sms(COORD, "PÅMINN Anna maj")
    from core import store

    async with harness.services.sessions.begin() as session:
        rows = await store.claim_due(session, harness.clock(), harness.services.dispatcher.worker_id,
                                     __import__("datetime").timedelta(seconds=60),
                                     10, ["sms"])
    row = rows[0]
    assert (await status(harness, "SMearly", row.id, "delivered")).status == 204
    from core.channels import SendResult

    stats = __import__("bot.dispatcher", fromlist=["DispatchStats"]).DispatchStats()
    await harness.services.dispatcher._store([(row, SendResult("sent", provider_id="SMearly", status="queued"))],
                                             stats)
    assert await harness.scalar("SELECT status FROM outbox WHERE id = :i", i=row.id) == "delivered"


async def test_forged_status_callback_changes_nothing(harness):
    await load(harness, may_org())
    await harness.sms(COORD, "PÅMINN Anna maj")
    await harness.dispatch()
    (row_id, sid), = await harness.rows("SELECT id, provider_id FROM outbox WHERE address = :a", a=ANNA)
    response = await harness.post_form(f"/webhooks/twilio/status?m={row_id}",
                                       {"MessageSid": sid, "MessageStatus": "failed"}, signature="forged")
    assert response.status == 403
    assert await harness.scalar("SELECT status FROM outbox WHERE id = :i", i=row_id) == "sent"


async def test_undelivered_callback_tells_the_team(harness):
    from tests.builders import set_team_chat, team_messages

    await load(harness, may_org())
    await set_team_chat(harness)
    await harness.sms(COORD, "PÅMINN Anna maj")
    await harness.dispatch()
    (row_id, sid), = await harness.rows("SELECT id, provider_id FROM outbox WHERE address = :a", a=ANNA)
    await status(harness, sid, row_id, "undelivered", error="30006")
    assert (await team_messages(harness))[-1] == (
        "Leverans misslyckades: Anna Andersson har ett ogiltigt mobilnummer; rätta det i verksamhetssystemet.")
    assert reminder()  # the text itself is unchanged by failures
