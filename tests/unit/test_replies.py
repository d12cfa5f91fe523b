"""Replies are values: a catalogue text in a language, and what it is for, rendered by each channel."""
from __future__ import annotations

from core.channels import NO_PAYLOAD, outbox_row
from core.replies import ConfirmRemindAll, RemoveKeyboard, Reply, ShareNumber, StatusFilters, texts
from handlers.team import expired_text
from webhooks.telegram import telegram_payload


def test_a_reply_is_a_catalogue_text_in_the_organisations_language():
    reply = Reply.of("nb_NO", "assistant.started")
    assert (reply.text, reply.key, reply.locale) == ("Påminnelsene er slått på igjen.", "assistant.started", "nb")
    assert Reply.of(None, "assistant.started").text == "Påminnelserna är påslagna igen."
    assert Reply.of("fi", "assistant.started").locale == "sv"
    assert texts([reply, Reply("plain")]) == ["Påminnelsene er slått på igjen.", "plain"]


def test_telegram_renders_the_intent_in_the_replys_language_never_from_its_words():
    status = Reply("Anything at all", locale="en", intent=StatusFilters("2026-05"))
    markup = telegram_payload(status)["reply_markup"]["inline"]
    assert [label for row in markup for label, _ in row] == ["Ready", "Off", "No mobile", "All",
                                                            "Send reminder to all"]
    assert telegram_payload(Reply("Status maj 2026: 4 redo")) is None  # words alone bring no buttons
    assert telegram_payload(Reply("?", locale="da", intent=ConfirmRemindAll("2026-05"))) == {
        "reply_markup": {"inline": [[("Ja, send", "rmok:2026-05"), ("Annuller", "st:2026-05:ready")]]}}
    assert telegram_payload(Reply("x", locale="en", intent=ShareNumber())) == {
        "reply_markup": {"contact_button": "Share my number"}}
    assert telegram_payload(Reply("x", intent=RemoveKeyboard())) == {"reply_markup": {"remove_keyboard": True}}
    assert telegram_payload(Reply("x", edit_message=7)) == {"edit_message_id": 7, "reply_markup": None}


def test_one_outbox_row_shape():
    from datetime import datetime, timezone

    now = datetime(2026, 6, 2, 8, tzinfo=timezone.utc)
    row = outbox_row(key="k", channel="sms", address="+46701234567", body="Hej", kind="reply", now=now)
    assert row == {"org_id": None, "idempotency_key": "k", "channel": "sms", "address": "+46701234567",
                   "staff_id": None, "kind": "reply", "body": "Hej", "segments": 1, "status": "pending",
                   "not_before": now, "created_at": now, "attempts": 0}
    assert outbox_row(key="k", channel="telegram", address="1", body="x", kind="reply", now=now,
                      payload=None)["payload"] is None
    assert "payload" not in outbox_row(key="k", channel="sms", address="1", body="x", kind="reply", now=now,
                                       payload=NO_PAYLOAD)


def test_expired_reminders_are_told_in_the_organisations_language():
    assert expired_text(["Anna A", "Bo B"], "2026-05") == (
        "2 påminnelser för maj 2026 kunde inte skickas: Anna A, Bo B. Leverantören tog inte emot dem i tid; "
        "nästa PÅMINN ALLA tar med dem igen.")
    assert expired_text(["Anna A"], "2026-05", "en") == (
        "1 reminder for May 2026 could not be sent: Anna A. The provider did not take it in time; the next "
        "REMIND ALL includes it again.")
    many = [f"P{i:02d}" for i in range(45)]
    assert expired_text(many, "2026-05", "da").startswith("45 påmindelser for maj 2026 kunne ikke sendes: P00, ")
    assert " …og 5 mere. Udbyderen" in expired_text(many, "2026-05", "da")


def test_each_channel_gets_its_replies_its_own_way():
    from datetime import datetime, timezone

    from bot.inbound import reply_rows
    from handlers.router import Handled, InboundText
    from webhooks.simulator import SimulatorChannel
    from webhooks.telegram import TelegramChannel

    now = datetime(2026, 6, 2, 8, tzinfo=timezone.utc)
    status = Reply("Status may 2026: 4 ready", locale="en", intent=StatusFilters("2026-05"))
    handled = Handled([status], True)
    channels = {"simulator": SimulatorChannel(), "telegram": TelegramChannel(bot=None)}
    assert reply_rows(channels, InboundText("sms", "SM1", "+46701234567", "STATUS may"), handled, now) == []  # TwiML
    from_phone = InboundText("simulator", "sim-1", "+46701234567", "STATUS may", reply_to="+46701234567")
    assert reply_rows(channels, from_phone, Handled([status], False), now) == []  # a repeat was answered the first time
    (sim,) = reply_rows(channels, from_phone, handled, now)
    assert (sim["idempotency_key"], sim["channel"], sim["body"], "payload" in sim) == (
        "reply:sim-1:0", "simulator", "Status may 2026: 4 ready", False)  # plain text: no buttons
    (tg,) = reply_rows(channels, InboundText("telegram", "42", "5001", "STATUS may", reply_to="5001"), handled, now)
    assert (tg["idempotency_key"], tg["address"]) == ("tg-reply:42:0", "5001")
    assert tg["payload"]["reply_markup"]["inline"][-1] == [("Send reminder to all", "rm:2026-05")]
