"""The 2-hour rule across months, and the month's funnel (RAPPORT, the rounds API and CSV).

Real SMS webhooks, a real database (SQLite and PostgreSQL) and the fake Twilio, as in test_sms_reminders.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tests.builders import ANNA, COORD, load, may_org, reminder

# The test clock stands at 2 June 2026, 10:00 Stockholm (08:00 UTC).


def _reminded_for_april(minutes_ago: int) -> dict:
    doc = may_org()
    doc["shifts"].append({"id": "apr1", "staff": "a1", "care_recipient": "r1",
                          "start": "2026-04-20T08:00:00+02:00", "end": "2026-04-20T16:00:00+02:00"})
    at = datetime(2026, 6, 2, 8, 0, tzinfo=timezone.utc) - timedelta(minutes=minutes_ago)
    doc["reminder_history"].append({"staff": "a1", "month": "2026-04", "sent_at": at.isoformat()})
    return doc


@pytest.mark.parametrize("minutes_ago, held_back", [
    (60, True),     # reminded for April an hour ago
    (120, True),    # exactly 2 hours: not yet "more than 2 hours"
    (121, False),
    (180, False),   # 3 hours ago
])
async def test_two_hour_rule_counts_the_latest_reminder_of_any_month(harness, minutes_ago, held_back):
    await load(harness, _reminded_for_april(minutes_ago))
    replies = await harness.sms(COORD, "PÅMINN ALLA maj")
    await harness.dispatch()
    if held_back:
        # Anna joins Fia among those reminded in the last 2 hours; the other three go.
        assert replies[0].startswith("3 påminnelser för maj 2026 skickade (3 SMS-delar).")
        assert "2 fick påminnelse de senaste 2 timmarna" in replies[0]
        assert harness.fake.to(ANNA) == []
    else:
        assert replies[0].startswith("4 påminnelser för maj 2026 skickade (4 SMS-delar).")
        assert "1 fick påminnelse de senaste 2 timmarna" in replies[0]
        assert harness.fake.to(ANNA) == [reminder()]


async def test_a_round_for_april_holds_back_may_for_two_hours(harness):
    doc = may_org()
    doc["shifts"].append({"id": "apr1", "staff": "a1", "care_recipient": "r1",
                          "start": "2026-04-20T08:00:00+02:00", "end": "2026-04-20T16:00:00+02:00"})
    await load(harness, doc)
    assert (await harness.sms(COORD, "PÅMINN ALLA april"))[0].startswith("1 påminnelse för april 2026 skickade")
    await harness.dispatch()  # reminded means sent: the provider took it
    harness.clock.advance(minutes=30)
    replies = await harness.sms(COORD, "PÅMINN ALLA maj")
    assert replies[0].startswith("3 påminnelser för maj 2026 skickade")
    await harness.dispatch()
    assert harness.fake.to(ANNA) == [reminder("april 2026")]


# ------------------------------------------------------------------ the month's funnel

from tests.builders import GUSTAV, IVAR, JONNA, SUPERVISOR, shift  # noqa: E402
from tests.fakes.twilio import ACCOUNT_SID  # noqa: E402

API_KEY = "operator-secret-key"


async def _delivered(harness, number: str) -> None:
    """Twilio's status callback for the reminder to ``number``: delivered."""
    msg = next(m for m in harness.fake.messages if m.to == number)
    row_id = msg.status_callback.split("?m=")[1]
    params = {"MessageSid": msg.sid, "MessageStatus": "delivered", "To": msg.to, "From": "+46766860000",
              "AccountSid": ACCOUNT_SID}
    assert (await harness.post_form(f"/webhooks/twilio/status?m={row_id}", params)).status == 204


def _later_import() -> dict:
    """The host's next import: Anna has registered and signed her May shift."""
    doc = may_org()
    doc["shifts"][0] = shift("s1", "a1", "r1", "2026-05-03T08:00:00+02:00", reported=True, signed=True)
    return doc


async def _a_month_of_rounds(harness) -> None:
    """Round 1 (10:00) reaches Anna, Gustav, Ivar and Jonna; Anna's and Gustav's are delivered and they
    answer OK; the host then reports Anna done; round 2 (13:00) reaches Fia, Gustav, Ivar and Jonna."""
    await load(harness, may_org())
    await harness.sms(COORD, "PÅMINN ALLA maj")
    await harness.dispatch()
    await _delivered(harness, ANNA)
    await _delivered(harness, GUSTAV)
    assert (await harness.sms(ANNA, "OK"))[0].startswith("Tack!")
    assert (await harness.sms(GUSTAV, "ok"))[0].startswith("Tack!")
    await load(harness, _later_import())
    harness.clock.advance(hours=3)
    assert (await harness.sms(COORD, "PÅMINN ALLA maj"))[0].startswith("4 påminnelser för maj 2026 skickade")
    await harness.dispatch()


async def test_report_by_sms_after_rounds_a_delivery_acknowledgements_and_a_later_import(harness):
    await _a_month_of_rounds(harness)
    assert await harness.sms(COORD, "RAPPORT maj") == [
        "Rapport maj 2026: 2 omgångar, 5 påminda, 2 levererade, 2 bekräftade, 4 ännu inte klara.\n"
        "Omgång 1 (02/06 10:00, Karin Koordinator): 4 påminda, 2 levererade, 2 bekräftade, 3 ännu inte klara.\n"
        "Omgång 2 (02/06 13:00, Karin Koordinator): 4 påminda, 0 levererade, 0 bekräftade, 4 ännu inte klara.\n"
        "Ännu inte klara (4):\nFia Fors, Gustav Grön, Ivar Isaksson, Jonna Jansson"]
    # A supervisor sees their own care recipients' people (Lisa: Rolf's, i.e. Anna, Fia and Gustav).
    assert await harness.sms(SUPERVISOR, "rapport maj") == [
        "Rapport maj 2026: 2 omgångar, 3 påminda, 2 levererade, 2 bekräftade, 2 ännu inte klara.\n"
        "Omgång 1 (02/06 10:00, Karin Koordinator): 2 påminda, 2 levererade, 2 bekräftade, 1 ännu inte klara.\n"
        "Omgång 2 (02/06 13:00, Karin Koordinator): 2 påminda, 0 levererade, 0 bekräftade, 2 ännu inte klara.\n"
        "Ännu inte klara (2):\nFia Fors, Gustav Grön"]
    assert await harness.sms(COORD, "RAPPORT april") == [
        "Rapport april 2026: inga påminnelser skickade den månaden."]
    assert await harness.sms(COORD, "RAPPORT maj BLAHA") == [
        "Jag förstod inte 'blaha'. Skriv t.ex. RAPPORT maj eller RAPPORT maj BRUKARE Rolf."]
    assert await harness.sms(ANNA, "RAPPORT maj") == [
        "Det kommandot kan bara samordnare och arbetsledare använda. Du kan svara OK, STOPP, START eller HJÄLP."]


async def test_report_follows_the_organisations_language(harness):
    await load(harness, may_org(locale="en"))
    await harness.sms(COORD, "REMIND ALL may")
    await harness.dispatch()
    await _delivered(harness, IVAR)
    assert await harness.sms(COORD, "REPORT may") == [
        "Report May 2026: 1 round, 4 reminded, 1 delivered, 0 acknowledged, 4 still unfinished.\n"
        "Round 1 (02/06 10:00, Karin Koordinator): 4 reminded, 1 delivered, 0 acknowledged, 4 still unfinished.\n"
        "Still unfinished (4):\nAnna Andersson, Gustav Grön, Ivar Isaksson, Jonna Jansson"]
    assert (await harness.sms(COORD, "HELP"))[0].count("REPORT may") == 1


async def test_queued_but_not_sent_is_not_reminded(harness):
    await load(harness, may_org())
    await harness.sms(COORD, "PÅMINN ALLA maj")  # not dispatched: the provider has taken nothing yet
    assert (await harness.sms(COORD, "RAPPORT maj"))[0].startswith(
        "Rapport maj 2026: 1 omgång, 0 påminda, 0 levererade, 0 bekräftade, 0 ännu inte klara.")


async def _api(harness, path: str):
    return await harness.client.get(path, headers={"Authorization": f"Bearer {API_KEY}"})


@pytest.fixture
async def api_harness(db_url, fake_twilio, clock):
    from tests.conftest import start_harness

    h = await start_harness(db_url, fake_twilio, clock, PAMINN_API_KEY=API_KEY)
    yield h
    await h.client.close()


async def test_rounds_api_gives_the_funnel_with_names_and_no_numbers(api_harness):
    h = api_harness
    await _a_month_of_rounds(h)
    response = await _api(h, "/api/v1/organisations/org1/rounds?month=2026-05")
    assert response.status == 200, await response.text()
    body = await response.json()
    rounds = body.pop("rounds")
    assert body == {
        "organisation": "org1", "month": "2026-05",
        "counts": {"reminded": 5, "delivered": 2, "acknowledged": 2, "unfinished_now": 4},
        "names": {"reminded": ["Anna Andersson", "Fia Fors", "Gustav Grön", "Ivar Isaksson", "Jonna Jansson"],
                  "delivered": ["Anna Andersson", "Gustav Grön"],
                  "acknowledged": ["Anna Andersson", "Gustav Grön"],
                  "unfinished_now": ["Fia Fors", "Gustav Grön", "Ivar Isaksson", "Jonna Jansson"]}}
    assert [(r["started_at"], r["requested_by"], r["scope"], r["counts"]) for r in rounds] == [
        ("2026-06-02T08:00:00+00:00", "Karin Koordinator", "",
         {"reminded": 4, "delivered": 2, "acknowledged": 2, "unfinished_now": 3}),
        ("2026-06-02T11:00:00+00:00", "Karin Koordinator", "",
         {"reminded": 4, "delivered": 0, "acknowledged": 0, "unfinished_now": 4})]
    assert rounds[0]["names"]["unfinished_now"] == ["Gustav Grön", "Ivar Isaksson", "Jonna Jansson"]
    assert rounds[1]["names"]["reminded"] == ["Fia Fors", "Gustav Grön", "Ivar Isaksson", "Jonna Jansson"]
    text_ = await response.text()
    assert "+4670" not in text_ and "19900101" not in text_ and "mobile" not in text_

    csv_response = await _api(h, "/api/v1/organisations/org1/rounds.csv?month=2026-05")
    assert csv_response.status == 200 and csv_response.content_type == "text/csv"
    csv_text = await csv_response.text()
    first, second = rounds[0]["id"], rounds[1]["id"]
    r1, r2 = "2026-06-02T08:00:00+00:00", "2026-06-02T11:00:00+00:00"
    lines = csv_text.splitlines()
    assert lines[0] == "name,round,reminded_at,delivered,acknowledged_at,unfinished_now"
    assert lines[1:] == [
        f"Anna Andersson,{first},{r1},true,{r1},false",
        f"Gustav Grön,{first},{r1},true,{r1},true",
        f"Ivar Isaksson,{first},{r1},false,,true",
        f"Jonna Jansson,{first},{r1},false,,true",
        f"Fia Fors,{second},{r2},false,,true",
        f"Gustav Grön,{second},{r2},false,,true",
        f"Ivar Isaksson,{second},{r2},false,,true",
        f"Jonna Jansson,{second},{r2},false,,true",
    ]
    assert "+4670" not in csv_text and "19900101" not in csv_text
    same = await _api(h, "/api/v1/organisations/org1/rounds?month=2026-05&format=csv")
    assert await same.text() == csv_text

    bad = await _api(h, "/api/v1/organisations/org1/rounds?month=maj")
    assert bad.status == 400 and (await bad.json()) == {"error": "'month' must be a month as YYYY-MM, e.g. 2026-05"}
    empty = await (await _api(h, "/api/v1/organisations/org1/rounds?month=2026-04")).json()
    assert empty["rounds"] == [] and empty["counts"] == {"reminded": 0, "delivered": 0, "acknowledged": 0,
                                                         "unfinished_now": 0}


# ------------------------------------------------------------------ by Telegram

from tests.integration.test_telegram import KARIN_TG, fake_telegram, link, say, tg  # noqa: E402

__all__ = ["fake_telegram", "tg"]  # fixtures used below


async def test_report_by_telegram(tg):
    await link(tg, KARIN_TG, COORD)
    await tg.sms(COORD, "PÅMINN ALLA maj")
    await tg.dispatch()
    expected = (
        "Rapport maj 2026: 1 omgång, 4 påminda, 0 levererade, 0 bekräftade, 4 ännu inte klara.\n"
        "Omgång 1 (02/06 10:00, Karin Koordinator): 4 påminda, 0 levererade, 0 bekräftade, 4 ännu inte klara.\n"
        "Ännu inte klara (4):\nAnna Andersson, Gustav Grön, Ivar Isaksson, Jonna Jansson")
    await say(tg, KARIN_TG, "/rapport maj")
    assert tg.tg.sent(KARIN_TG)[-1].params["text"] == expected
    await say(tg, KARIN_TG, "RAPPORT maj")  # plain words, as by SMS
    assert tg.tg.sent(KARIN_TG)[-1].params["text"] == expected
