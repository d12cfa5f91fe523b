"""Texts that arrive together are handled in one batch, with the same outcome as one after another."""
from __future__ import annotations

import asyncio

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text as sql

from core.messages import UNKNOWN_SENDER
from handlers.router import InboundText, handle_inbound_batch
from tests.builders import ANNA, BO, COORD, FIA, GUSTAV, IVAR, JONNA, load, may_org, set_team_chat, team_messages

ACK_MAY = "Tack! Vi har noterat att du sett påminnelsen för maj 2026."
STRANGER = "+46709999999"


def reminded_org(assistants: int) -> dict:
    """``assistants`` people, each with an open May shift and a May reminder sent this morning."""
    return {"organisation": {"id": "org1", "name": "Stor Assistans AB", "app_name": "Coordinare",
                             "app_link": "https://app.coordinare.se"},
            "staff": [{"id": f"a{i}", "name": f"Assistent {i:03d}", "mobile": f"+4670700{i:04d}"}
                      for i in range(assistants)],
            "care_recipients": [{"id": "r1", "name": "Rolf"}],
            "shifts": [{"id": f"s{i}", "staff": f"a{i}", "care_recipient": "r1", "start": "2026-05-10T08:00:00+02:00",
                        "end": "2026-05-10T16:00:00+02:00"} for i in range(assistants)],
            "reminder_history": [{"staff": f"a{i}", "month": "2026-05", "sent_at": "2026-06-02T07:00:00+02:00"}
                                 for i in range(assistants)]}


async def test_a_burst_of_ok_at_once_acknowledges_each_reminder_once(harness):
    """80 assistants answer OK at the same moment, and Twilio delivers every webhook twice."""
    await load(harness, reminded_org(80))
    await set_team_chat(harness)
    senders = [f"+4670700{i:04d}" for i in range(80)]
    texts = [(sender, f"SMburst{i:028d}") for i, sender in enumerate(senders)]
    replies = await asyncio.gather(*(harness.sms(sender, "OK", sid=sid) for sender, sid in texts + texts))
    assert replies == [[ACK_MAY]] * 160
    assert await harness.scalar("SELECT count(*) FROM reminder_history WHERE acknowledged_at IS NOT NULL") == 80
    assert await harness.scalar("SELECT count(*) FROM inbound") == 80
    # The team chat hears them gathered: each name once, in messages that wait for the window.
    lines = [line for body in await team_messages(harness) for line in body.splitlines()[1:]]
    assert sorted(lines) == sorted(f"✓ Assistent {i:03d} (maj 2026)" for i in range(80))


def scenario_org() -> dict:
    """The May organisation; Anna also has an unacknowledged April reminder, so she can say OK twice."""
    doc = may_org()
    doc["reminder_history"] = doc["reminder_history"] + [
        {"staff": "a1", "month": "2026-04", "sent_at": "2026-05-02T09:00:00+02:00"},
        {"staff": "a1", "month": "2026-05", "sent_at": "2026-06-01T09:00:00+02:00"},
        {"staff": "a7", "month": "2026-05", "sent_at": "2026-06-01T09:00:00+02:00"},
        {"staff": "a9", "month": "2026-05", "sent_at": "2026-06-01T09:00:00+02:00"},
    ]
    return doc


ANNA_TELEGRAM = 5001
ACK_APRIL = "Tack! Vi har noterat att du sett påminnelsen för april 2026."


async def anna_on_telegram_too(harness) -> None:
    """Anna (open reminders for May and April) also writes from a Telegram account."""
    await load(harness, scenario_org())
    await set_team_chat(harness)
    async with harness.services.sessions.begin() as session:
        await session.execute(sql("UPDATE staff SET telegram_user_id = :tg WHERE mobile = :mobile"),
                              {"tg": ANNA_TELEGRAM, "mobile": ANNA})


async def outcome(harness, texts: list[InboundText], *, together: bool, act_first: bool = False):
    """Replies and the resulting state, with everything rolled back afterwards. Together, the batch
    is stored first, or (``act_first``) acted on first and stored with its replies afterwards."""
    async with harness.services.sessions() as session:
        await session.begin()
        ctx = harness.services.context(session)
        if together:
            handled = await handle_inbound_batch(ctx, texts, act_first=act_first)
        else:
            handled = [(await handle_inbound_batch(ctx, [t]))[0] for t in texts]
        replies = [(h.texts, h.new, [p.id for p in h.people]) for h in handled]
        state = {
            "acknowledged": (await session.execute(sql(
                "SELECT staff_id, month, sent_at FROM reminder_history WHERE acknowledged_at IS NOT NULL "
                "ORDER BY staff_id, month, sent_at"))).all(),
            "opted_out": (await session.execute(sql(
                "SELECT id FROM staff WHERE opted_out_at IS NOT NULL ORDER BY id"))).all(),
            # (Not the keys: a round's number comes from a sequence, which a rollback does not rewind.)
            "outbox": (await session.execute(sql(
                "SELECT kind, address, body, not_before FROM outbox ORDER BY kind, address, body"))).all(),
            "inbound": (await session.execute(sql(
                "SELECT provider_id, command, reply FROM inbound ORDER BY provider_id"))).all(),
        }
        await session.rollback()
    return replies, state


async def test_a_mixed_batch_acts_as_one_text_after_another(harness):
    await load(harness, scenario_org())
    await set_team_chat(harness)
    texts = [InboundText("sms", "SM1", ANNA, "OK"), InboundText("sms", "SM2", GUSTAV, "ok"),
             InboundText("sms", "SM1", ANNA, "OK"),  # Twilio's retry, in the same batch
             InboundText("sms", "SM3", ANNA, "Ok"),  # a second OK: the April reminder
             InboundText("sms", "SM4", STRANGER, "OK"), InboundText("sms", "SM5", IVAR, "STOPP"),
             InboundText("sms", "SM6", COORD, "PÅMINN ALLA maj"), InboundText("sms", "SM7", JONNA, "OK"),
             InboundText("sms", "SM8", BO, "Jag är sjuk idag"), InboundText("sms", "SM9", FIA, "OK")]
    replies, state = await outcome(harness, texts, together=True)
    assert (replies, state) == await outcome(harness, texts, together=False)
    assert (replies, state) == await outcome(harness, texts, together=True, act_first=True)
    assert [r for r, _, _ in replies[:5]] == [
        [ACK_MAY], [ACK_MAY], [ACK_MAY], ["Tack! Vi har noterat att du sett påminnelsen för april 2026."],
        [UNKNOWN_SENDER]]
    assert [new for _, new, _ in replies] == [True, True, False, True, True, True, True, True, True, True]
    team = [body for kind, _, body, _ in state["outbox"] if kind == "team"]
    assert any("✓ Anna Andersson (april 2026)" in body and "✓ Gustav Grön (maj 2026)" in body for body in team)


async def test_any_batch_acts_as_one_text_after_another(harness):
    """Generated batches (senders, commands, repeated provider ids) against one-by-one handling."""
    await anna_on_telegram_too(harness)
    senders = [ANNA, GUSTAV, IVAR, JONNA, FIA, BO, COORD, STRANGER, f"tg:{ANNA_TELEGRAM}"]
    bodies = ["OK", "ok", "KLAR", "STOPP", "START", "HJÄLP", "STATUS maj", "PÅMINN ALLA maj", "hej, sjuk idag"]
    batches: list[list[InboundText]] = []

    @settings(max_examples=80, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(st.tuples(st.sampled_from(senders), st.sampled_from(bodies), st.integers(0, 9)),
                    min_size=1, max_size=10))
    def collect(batch):
        # A provider id always belongs to one text: a repeat repeats sender and body too.
        by_sid: dict[int, tuple[str, str]] = {}
        batches.append([as_text(sid, *by_sid.setdefault(sid, (sender, body))) for sender, body, sid in batch])

    def as_text(sid: int, sender: str, body: str) -> InboundText:  # Anna writes by SMS and by Telegram
        if sender.startswith("tg:"):
            return InboundText("telegram", f"tg-gen{sid}", sender[3:], body)
        return InboundText("sms", f"SMgen{sid}", sender, body)

    collect()
    for batch in batches:
        one_by_one = await outcome(harness, batch, together=False)
        assert await outcome(harness, batch, together=True) == one_by_one, batch
        assert await outcome(harness, batch, together=True, act_first=True) == one_by_one, batch
    assert len(batches) == 80


@pytest.mark.parametrize("act_first", [False, True])
async def test_two_batches_at_once_gather_the_team_chats_acknowledgements_in_one_message(harness, act_first):
    """Batches run beside each other (two workers, or a second lane of one): the team still hears one
    gathered message per window, not one per batch that found none open."""
    from bot.inbound import handle_in_transaction

    await load(harness, reminded_org(2))
    await set_team_chat(harness)
    first, second = (InboundText("sms", f"SMtwo{i:029d}", f"+4670700{i:04d}", "OK") for i in range(2))
    async with harness.services.sessions.begin() as session:  # the first batch, still open
        (handled,) = await handle_inbound_batch(harness.services.context(session), [first])
        assert handled.texts == [ACK_MAY]
        beside = asyncio.create_task(handle_in_transaction(harness.services, [second], act_first))
        await asyncio.sleep(0.3)  # as far as it gets while the first has not committed
    (handled,) = await beside
    assert handled.texts == [ACK_MAY]
    assert await team_messages(harness) == ["Har bekräftat påminnelsen:\n✓ Assistent 000 (maj 2026)\n"
                                            "✓ Assistent 001 (maj 2026)"]


async def test_provider_ids_longer_than_the_column_are_never_cut_short_into_one(harness):
    """The webhooks refuse ids over 64 characters; below them the store must not shorten one either
    (PostgreSQL binds a batch's rows as arrays, and a cast to VARCHAR(64) would cut them to fit):
    two ids that differ only after the 64th character are two texts, or refused, never one."""
    from sqlalchemy.exc import DBAPIError

    from core import store

    prefix = "SM" + "7" * 62
    rows = [{"channel": "sms", "provider_id": prefix + suffix, "sender": STRANGER, "body": "OK",
             "received_at": harness.clock()} for suffix in ("aaaaaa", "bbbbbb")]
    try:
        async with harness.services.sessions.begin() as session:
            new, _ = await store.claim_inbound(session, rows)
    except DBAPIError:  # PostgreSQL: "value too long for type character varying(64)", nothing stored
        assert await harness.scalar("SELECT count(*) FROM inbound") == 0
    else:  # SQLite keeps a string whole whatever the declared length
        assert len(new) == 2
        assert await harness.scalar("SELECT count(*) FROM inbound") == 2


async def test_the_people_found_bring_their_organisation_along(harness):
    """Who texted and which organisation they are in come in one query: what an OK batch then says reads
    the organisation without another round trip (the batch's own cost under load, docs/benchmarks.md)."""
    from sqlalchemy import event

    from core import store

    await load(harness, reminded_org(3))
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    engine = harness.services.engine.sync_engine
    async with harness.services.sessions.begin() as session:
        by_mobile, _ = await store.staff_by_addresses(session, ["+46707000000", "+46707000001"], [])
        event.listen(engine, "before_cursor_execute", record)
        try:
            orgs = await store.orgs_by_ids(session, [p.org_id for people in by_mobile.values() for p in people])
        finally:
            event.remove(engine, "before_cursor_execute", record)
    assert sorted(by_mobile) == ["+46707000000", "+46707000001"]
    assert [org.name for org in orgs.values()] == ["Stor Assistans AB"]
    assert statements == []


async def test_one_persons_ok_by_sms_and_by_telegram_in_one_batch_acknowledges_two_reminders(harness):
    """Two senders that are one person do not commute: the second OK acknowledges the next reminder,
    as it would a moment later, and the team hears each acknowledgement once."""
    await anna_on_telegram_too(harness)
    texts = [InboundText("sms", "SMboth1", ANNA, "OK"), InboundText("telegram", "tg-both-2", str(ANNA_TELEGRAM), "OK"),
             InboundText("sms", "SMboth3", GUSTAV, "OK")]
    replies, state = await outcome(harness, texts, together=True)
    assert (replies, state) == await outcome(harness, texts, together=False)
    assert (replies, state) == await outcome(harness, texts, together=True, act_first=True)
    assert [r for r, _, _ in replies] == [[ACK_MAY], [ACK_APRIL], [ACK_MAY]]
    assert sorted(month for _, month, _ in state["acknowledged"]) == ["2026-04", "2026-05", "2026-05"]
    team_lines = [line for kind, _, body, _ in state["outbox"] if kind == "team" for line in body.splitlines()[1:]]
    assert sorted(team_lines) == ["✓ Anna Andersson (april 2026)", "✓ Anna Andersson (maj 2026)",
                                  "✓ Gustav Grön (maj 2026)"]


@pytest.mark.parametrize("act_first", [False, True])
async def test_one_persons_ok_by_sms_and_by_telegram_in_batches_side_by_side_acknowledges_two_reminders(
        harness, act_first):
    """The same two OKs in two batches at once (two lanes, or two workers): the second waits for the
    first's row lock and then acknowledges the next reminder, not the one the first just acknowledged."""
    from bot.inbound import handle_in_transaction

    await anna_on_telegram_too(harness)
    by_sms = InboundText("sms", "SMside1", ANNA, "OK")
    by_telegram = InboundText("telegram", "tg-side-2", str(ANNA_TELEGRAM), "OK")
    async with harness.services.sessions.begin() as session:  # the first batch, still open
        (handled,) = await handle_inbound_batch(harness.services.context(session), [by_sms])
        assert handled.texts == [ACK_MAY]
        beside = asyncio.create_task(handle_in_transaction(harness.services, [by_telegram], act_first))
        await asyncio.sleep(0.3)  # as far as it gets while the first has not committed
    (handled,) = await beside
    assert handled.texts == [ACK_APRIL]
    assert await harness.scalar("SELECT count(*) FROM reminder_history h JOIN staff s ON s.id = h.staff_id "
                                "WHERE s.mobile = :m AND h.acknowledged_at IS NOT NULL", m=ANNA) == 2
    team_lines = [line for body in await team_messages(harness) for line in body.splitlines()[1:]]
    assert sorted(team_lines) == ["✓ Anna Andersson (april 2026)", "✓ Anna Andersson (maj 2026)"]


async def test_acting_first_on_a_batch_with_a_text_stored_before_leaves_nothing_of_it(harness):
    """A batch acted on first, then found to hold a provider's retry, must not stand: the new text's
    acknowledgement, its row and the team chat's line are all rolled back, for the batch to be done
    again stored first."""
    from bot.inbound import handle_in_transaction
    from handlers.router import SeenBefore

    await load(harness, reminded_org(2))
    await set_team_chat(harness)
    handled_before, new = (InboundText("sms", f"SMseen{i:028d}", f"+4670700{i:04d}", "OK") for i in range(2))
    (handled,) = await handle_in_transaction(harness.services, [handled_before])
    assert handled.texts == [ACK_MAY]
    # The new OK's line would be added to this open gathered message (the row's body, not a new row).
    assert await team_messages(harness) == ["Har bekräftat påminnelsen:\n✓ Assistent 000 (maj 2026)"]
    outbox = await harness.scalar("SELECT count(*) FROM outbox")
    with pytest.raises(SeenBefore):
        await handle_in_transaction(harness.services, [new, handled_before], act_first=True)
    assert await harness.scalar("SELECT count(*) FROM reminder_history WHERE acknowledged_at IS NOT NULL") == 1
    assert await harness.scalar("SELECT count(*) FROM inbound") == 1
    assert await harness.scalar("SELECT count(*) FROM outbox") == outbox
    assert await team_messages(harness) == ["Har bekräftat påminnelsen:\n✓ Assistent 000 (maj 2026)"]
    # Stored first, the retry gets the reply it got the first time and the new text is acted on.
    retried, fresh = await handle_in_transaction(harness.services, [handled_before, new])
    assert (retried.texts, retried.new, fresh.texts, fresh.new) == ([ACK_MAY], False, [ACK_MAY], True)
    assert await harness.scalar("SELECT count(*) FROM reminder_history WHERE acknowledged_at IS NOT NULL") == 2


async def test_retries_arriving_with_new_texts_are_answered_as_the_first_time_and_the_new_acted_on_once(
        harness, caplog):
    """Twilio retries two OKs it already had answered while four assistants answer for the first time:
    one batch, acted on first, meets the retries, and is done again stored first. The retries get the
    reply they got (acted on again, their OK would acknowledge the April reminder), everyone is
    acknowledged once, the team hears each name once."""
    doc = reminded_org(6)  # each also has an April reminder open: an OK acted on twice would acknowledge it
    doc["reminder_history"] += [{"staff": f"a{i}", "month": "2026-04", "sent_at": "2026-05-02T07:00:00+02:00"}
                                for i in range(6)]
    await load(harness, doc)
    await set_team_chat(harness)
    texts = [InboundText("sms", f"SMrun{i:029d}", f"+4670700{i:04d}", "OK") for i in range(6)]
    assert [h.texts for h in await asyncio.gather(*(harness.services.inbound.submit(t) for t in texts[:2]))] == [
        [ACK_MAY]] * 2
    with caplog.at_level("INFO", logger="bot.inbound"):
        handled = await asyncio.gather(*(harness.services.inbound.submit(t) for t in texts))
    assert [(h.texts, h.new) for h in handled] == [([ACK_MAY], False)] * 2 + [([ACK_MAY], True)] * 4
    assert "a batch of 6 inbound text(s) met texts stored before; handling it again, storing first" in caplog.messages
    assert await harness.scalar("SELECT count(*) FROM reminder_history WHERE acknowledged_at IS NOT NULL") == 6
    assert await harness.scalar("SELECT count(*) FROM inbound") == 6
    lines = [line for body in await team_messages(harness) for line in body.splitlines()[1:]]
    assert sorted(lines) == [f"✓ Assistent {i:03d} (maj 2026)" for i in range(6)]


async def test_the_same_texts_delivered_to_two_processes_at_once_are_acted_on_once(harness, caplog):
    """A provider delivers the same STOPP and OK twice at once, to two processes (two batchers on one
    database), each acting first: the twin that comes second meets the first one's rows or locks and
    is done again storing first (not logged as a failure). Each text is acted on once and both
    deliveries get the same reply."""
    from bot.inbound import InboundBatcher, handle_in_transaction

    await anna_on_telegram_too(harness)  # Anna has May and April open: an OK acted on twice would show
    other_process = InboundBatcher(lambda texts, act_first: handle_in_transaction(harness.services, texts, act_first))
    stop = InboundText("sms", "SMtwinstop", IVAR, "STOPP")
    ok = InboundText("sms", "SMtwinok", ANNA, "OK")
    try:
        with caplog.at_level("INFO", logger="bot.inbound"):
            first, second = await asyncio.gather(
                asyncio.gather(harness.services.inbound.submit(stop), harness.services.inbound.submit(ok)),
                asyncio.gather(other_process.submit(ok), other_process.submit(stop)))
    finally:
        await other_process.close()
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == []
    assert [h.texts for h in first] == [h.texts for h in reversed(second)]
    assert first[1].texts == [ACK_MAY]
    assert sorted((h.new for h in first + second)) == [False, False, True, True]
    assert await harness.scalar("SELECT count(*) FROM reminder_history h JOIN staff s ON s.id = h.staff_id "
                                "WHERE s.mobile = :m AND h.acknowledged_at IS NOT NULL", m=ANNA) == 1
    assert await harness.scalar("SELECT count(*) FROM staff WHERE mobile = :m AND opted_out_at IS NOT NULL",
                                m=IVAR) == 1
    assert await harness.scalar("SELECT count(*) FROM inbound") == 2
    team = await team_messages(harness)
    assert sum(body.count("Anna Andersson") for body in team) == 1
    assert sum(body.count("Ivar") for body in team) == 1
