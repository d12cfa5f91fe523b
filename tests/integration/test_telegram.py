"""Telegram: the same words as SMS, plus what chat does better, against a loopback fake Bot API."""
from __future__ import annotations

import itertools
import json

import pytest

from tests.builders import ANNA, COORD, load, may_org, reminder, set_team_chat, team_messages
from tests.conftest import eventually, start_harness
from tests.fakes.telegram import TOKEN, FakeTelegram

SECRET = "s3cret-token"
KARIN_TG, ANNA_TG, STRANGER_TG = 5001, 5002, 5999
GROUP = -100777


@pytest.fixture
async def fake_telegram():
    fake = await FakeTelegram().start()
    yield fake
    await fake.close()


@pytest.fixture
async def tg(db_url, fake_twilio, fake_telegram, clock):
    h = await start_harness(db_url, fake_twilio, clock, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_WEBHOOK_SECRET=SECRET,
                            TELEGRAM_API_BASE=fake_telegram.api_base, PAMINN_TEAM_ACK_WINDOW="0")
    h.tg = fake_telegram
    h.ids = itertools.count(1)
    await load(h, may_org())
    yield h
    await h.client.close()


def user(uid: int, name: str = "Test") -> dict:
    return {"id": uid, "is_bot": False, "first_name": name}


def message_update(update_id: int, uid: int, text: str, chat_id: int | None = None, **extra) -> dict:
    chat_id = chat_id if chat_id is not None else uid
    msg = {"message_id": update_id + 1000, "date": 1780000000, "from": user(uid), "text": text,
           "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group", "title": "Team"}}
    if text.startswith("/"):
        msg["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    msg.update(extra)
    return {"update_id": update_id, "message": msg}


async def post(h, update: dict, secret: str | None = SECRET):
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    return await h.client.post("/webhooks/telegram", data=json.dumps(update),
                               headers={**headers, "Content-Type": "application/json"})


async def say(h, uid: int, text: str, chat_id: int | None = None) -> None:
    response = await post(h, message_update(next(h.ids), uid, text, chat_id))
    assert response.status == 200
    await h.dispatch()


async def link(h, uid: int, phone: str) -> None:
    contact = {"phone_number": phone, "first_name": "X", "user_id": uid}
    response = await post(h, message_update(next(h.ids), uid, "", contact=contact) | {})
    assert response.status == 200
    await h.dispatch()


async def test_webhook_is_registered_with_secret_at_start(tg):
    hook = next(c for c in tg.tg.calls if c.method == "setWebhook")
    assert hook.params["url"] == tg.base + "/webhooks/telegram"
    assert hook.params["secret_token"] == SECRET
    assert hook.params["allowed_updates"] == ["message", "callback_query"]


async def test_wrong_or_missing_secret_is_refused_and_stores_nothing(tg):
    for secret in ("wrong", None, ""):
        response = await post(tg, message_update(1, KARIN_TG, "/paminn alla maj"), secret=secret)
        assert response.status == 403
    assert await tg.scalar("SELECT count(*) FROM inbound") == 0
    assert (await tg.client.post("/webhooks/telegram", data="nej", headers={
        "X-Telegram-Bot-Api-Secret-Token": SECRET})).status == 400


async def test_linking_with_own_contact_only(tg):
    await say(tg, KARIN_TG, "/start")
    first = tg.tg.sent(KARIN_TG)[-1]
    assert first.params["text"].startswith("Hej! Tryck på knappen nedan och dela ditt mobilnummer")
    assert first.params["reply_markup"]["keyboard"][0][0]["request_contact"] is True
    # Someone else's contact (a forwarded card) is refused and links nobody.
    other = {"phone_number": "+46701112233", "first_name": "Karin", "user_id": 4242}
    await post(tg, message_update(next(tg.ids), STRANGER_TG, "", contact=other))
    await tg.dispatch()
    assert tg.tg.texts(STRANGER_TG)[-1] == "Dela ditt eget nummer med knappen, inte någon annans."
    assert await tg.scalar("SELECT count(*) FROM staff WHERE telegram_user_id IS NOT NULL") == 0
    # Unlinked people are told nothing about anyone.
    await say(tg, STRANGER_TG, "/status maj")
    assert tg.tg.texts(STRANGER_TG)[-1].startswith("Jag känner inte igen dig än.")
    await link(tg, KARIN_TG, "46701112233")  # Telegram sends numbers without the plus
    assert tg.tg.texts(KARIN_TG)[-1] == ("Klart! Ditt konto är kopplat till Karin Koordinator. "
                                         "Skriv HJÄLP för vad du kan göra här.")


async def test_repeated_update_id_acts_once(tg):
    await link(tg, KARIN_TG, "+46701112233")
    update = message_update(900, KARIN_TG, "/paminn alla maj")
    for _ in range(3):
        assert (await post(tg, update)).status == 200
    await tg.dispatch()
    assert await tg.scalar("SELECT count(*) FROM reminder_rounds") == 1
    assert len(tg.fake.messages) == 4
    assert [t for t in tg.tg.texts(KARIN_TG) if "påminnelser för maj 2026" in t] == [
        t for t in tg.tg.texts(KARIN_TG) if "påminnelser för maj 2026" in t][:1]


async def test_round_announced_in_team_chat_and_replies_forwarded(tg):
    await link(tg, KARIN_TG, "+46701112233")
    await say(tg, KARIN_TG, "/teamchat", chat_id=GROUP)
    assert tg.tg.texts(GROUP)[-1] == ("Den här chatten är nu teamchatt för Assistans Norr AB. Här hörs "
                                      "påminnelser, svar och leveransfel.")
    await say(tg, KARIN_TG, "påminn alla maj")  # plain words work as well as /paminn
    assert tg.tg.texts(KARIN_TG)[-1].startswith("4 påminnelser för maj 2026 skickade")
    assert tg.tg.texts(GROUP)[-1].startswith("Karin Koordinator skickade påminnelser för maj 2026: 4 skickade.")
    assert tg.fake.to(ANNA) == [reminder()]
    await tg.sms(ANNA, "OK")
    await tg.dispatch()
    assert tg.tg.texts(GROUP)[-1] == "Har bekräftat påminnelsen:\n✓ Anna Andersson (maj 2026)"
    await tg.sms(ANNA, "Jag har glömt mitt lösenord")
    await tg.dispatch()
    assert tg.tg.texts(GROUP)[-1] == "Meddelande från Anna Andersson: Jag har glömt mitt lösenord"


async def test_assistant_cannot_make_team_chat(tg):
    await link(tg, ANNA_TG, ANNA)
    await say(tg, ANNA_TG, "/teamchat", chat_id=GROUP)
    assert tg.tg.texts(GROUP)[-1].startswith("Bara samordnare kan välja teamchatt.")
    assert await tg.scalar("SELECT team_chat FROM organisations") is None


def callback_update(update_id: int, uid: int, data: str, message_id: int) -> dict:
    return {"update_id": update_id, "callback_query": {
        "id": f"cb{update_id}", "from": user(uid), "chat_instance": "ci", "data": data,
        "message": {"message_id": message_id, "date": 1780000000, "chat": {"id": uid, "type": "private"},
                    "text": "Status", "from": {"id": 123456, "is_bot": True, "first_name": "Påminn"}}}}


async def test_status_buttons_edit_in_place_and_send_all_asks_first(tg):
    await link(tg, KARIN_TG, "+46701112233")
    await say(tg, KARIN_TG, "/status maj")
    status = tg.tg.sent(KARIN_TG)[-1]
    assert status.params["text"].startswith("Status maj 2026: 4 redo")
    buttons = [b["callback_data"] for row in status.params["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons == ["st:2026-05:ready", "st:2026-05:off", "st:2026-05:no_mobile", "st:2026-05:all",
                       "rm:2026-05"]
    message_id = 100 + len([c for c in tg.tg.calls if c.method == "sendMessage"]) - 1
    await post(tg, callback_update(next(tg.ids), KARIN_TG, "st:2026-05:off", message_id))
    await tg.dispatch()
    edit = tg.tg.calls[-1]
    assert edit.method == "editMessageText" and int(edit.params["message_id"]) == message_id
    assert edit.params["text"].endswith("Med påminnelser avstängda (2):\nDavid Dahl, Eva Ek")
    assert any(c.method == "answerCallbackQuery" for c in tg.tg.calls)
    await post(tg, callback_update(next(tg.ids), KARIN_TG, "rm:2026-05", message_id))
    await tg.dispatch()
    assert tg.tg.calls[-1].params["text"] == "Skicka påminnelse till alla som är redo för maj 2026?"
    assert tg.fake.messages == []  # nothing sent before the confirmation
    await post(tg, callback_update(next(tg.ids), KARIN_TG, "rmok:2026-05", message_id))
    await tg.dispatch()
    assert tg.tg.calls[-1].params["text"].startswith("4 påminnelser för maj 2026 skickade")
    assert len(tg.fake.messages) == 4


async def test_429_retry_after_is_honoured(tg):
    tg.tg.faults["sendMessage"] = [{"code": 429, "description": "Too Many Requests: retry after 5",
                                    "retry_after": 5}]
    await say(tg, KARIN_TG, "/start")
    assert tg.tg.texts(KARIN_TG) == [tg.tg.calls[-1].params["text"]]  # the refused attempt
    tg.clock.advance(seconds=4)
    await tg.dispatch()
    assert len(tg.tg.sent(KARIN_TG)) == 1
    tg.clock.advance(seconds=1)
    await tg.dispatch()
    assert len(tg.tg.sent(KARIN_TG)) == 2
    assert await tg.scalar("SELECT status FROM outbox WHERE channel = 'telegram'") == "delivered"


async def test_reminders_by_telegram_and_blocked_bot_falls_back_to_sms(tg):
    await link(tg, ANNA_TG, ANNA)
    await say(tg, ANNA_TG, "/kanal telegram")
    assert tg.tg.texts(ANNA_TG)[-1] == "Dina påminnelser kommer nu här i Telegram."
    await tg.sms(COORD, "PÅMINN Anna maj")
    await tg.dispatch()
    assert tg.tg.texts(ANNA_TG)[-1] == reminder() and tg.fake.to(ANNA) == []
    tg.clock.advance(hours=3)
    tg.tg.faults["sendMessage"] = [{"code": 403, "description": "Forbidden: bot was blocked by the user"}]
    await tg.sms(COORD, "PÅMINN Anna maj")
    await tg.dispatch()
    await tg.dispatch()
    assert tg.fake.to(ANNA) == [reminder()]  # the same reminder, by SMS, once
    assert await tg.scalar("SELECT preferred_channel FROM staff WHERE mobile = :m", m=ANNA) == "sms"


async def test_stored_update_is_acted_on_after_a_crash(tg):
    """The update is stored before acting; if the process dies there, the recovery job finishes it."""
    from core.models import InboundMessage
    from webhooks.telegram import reprocess_stored_updates

    await link(tg, KARIN_TG, "+46701112233")
    update = message_update(777, KARIN_TG, "/paminn alla maj")
    async with tg.services.sessions.begin() as session:  # stored, then the "crash"
        session.add(InboundMessage(channel="telegram-update", provider_id="777", sender=str(KARIN_TG),
                                   body=json.dumps(update), received_at=tg.clock()))
    tg.clock.advance(seconds=31)
    assert await reprocess_stored_updates(tg.services.telegram, tg.services) == 1
    await tg.dispatch()
    assert len(tg.fake.messages) == 4
    assert (await post(tg, update)).status == 200  # Telegram's redelivery changes nothing
    assert await reprocess_stored_updates(tg.services.telegram, tg.services) == 0
    await tg.dispatch()
    assert len(tg.fake.messages) == 4


async def test_a_send_cut_off_midway_is_reported_and_never_sent_twice(tg):
    """Telegram got the reminder but the answer was lost. The Bot API cannot say whether it has a
    message, so the reminder is not sent again (that could send it twice): the team is told."""
    await link(tg, ANNA_TG, ANNA)
    await say(tg, ANNA_TG, "/kanal telegram")
    await set_team_chat(tg)
    tg.tg.faults["sendMessage"] = [{"drop_after_receive": True}]
    await tg.sms(COORD, "PÅMINN Anna maj")
    await tg.dispatch()
    assert tg.tg.texts(ANNA_TG).count(reminder()) == 1
    assert await tg.scalar("SELECT status FROM outbox WHERE kind = 'reminder'") == "unknown"
    tg.clock.advance(seconds=31)  # past the grace period before a doubtful send is checked
    await tg.dispatch()
    assert await tg.scalar("SELECT status FROM outbox WHERE kind = 'reminder'") == "unconfirmed"
    assert ("Osäker leverans: Telegram avbröts mitt i sändningen, så vi vet inte om påminnelsen kom fram till "
            "dessa. Den skickas inte om av sig själv; skriv PÅMINN <namn> om den behövs.\n• Anna Andersson"
            ) in await team_messages(tg)
    tg.clock.advance(minutes=30)
    await tg.dispatch()
    assert tg.tg.texts(ANNA_TG).count(reminder()) == 1 and tg.fake.to(ANNA) == []


async def test_long_polling_takes_updates_without_a_public_url(db_url, fake_twilio, fake_telegram, clock):
    """`paminn serve --telegram-polling`: for a laptop that Telegram cannot reach."""
    h = await start_harness(db_url, fake_twilio, clock, telegram_polling=True, TELEGRAM_BOT_TOKEN=TOKEN,
                            TELEGRAM_WEBHOOK_SECRET=SECRET, TELEGRAM_API_BASE=fake_telegram.api_base)
    try:
        await load(h, may_org())
        fake_telegram.pending_updates.append(message_update(1, STRANGER_TG, "hej"))
        await eventually(lambda: h.scalar("SELECT count(*) FROM inbound WHERE channel = 'telegram'"),
                         what="the polled update stored")
        await h.dispatch()
        assert [c.method for c in fake_telegram.calls if c.method in ("deleteWebhook", "setWebhook")] == [
            "deleteWebhook"]
        assert len(fake_telegram.texts(STRANGER_TG)) == 1  # asked to link the account, once
        # more polls: the update was confirmed by the offset and is not taken again
        polls = sum(c.method == "getUpdates" for c in fake_telegram.calls)
        await eventually(lambda: sum(c.method == "getUpdates" for c in fake_telegram.calls) >= polls + 3,
                         what="three more long polls")
        await h.dispatch()
        assert len(fake_telegram.texts(STRANGER_TG)) == 1
        assert await h.scalar("SELECT count(*) FROM inbound WHERE channel = 'telegram-update'") == 1
    finally:
        await h.client.close()
