"""A customer's contacts and the team chat hear about customer reminders in the organisation's language."""
from __future__ import annotations

from tests.builders import load, set_team_chat, team_messages
from tests.integration.test_customer_reminders import SARA_MOBILE, customer_doc, h, mailbox  # noqa: F401


def english(doc: dict) -> dict:
    doc["organisation"]["locale"] = "en"
    return doc


async def test_a_contact_of_an_english_organisation_is_answered_in_english(h):
    await load(h, english(customer_doc()))
    await set_team_chat(h)
    assert await h.sms("070-987 65 43", "Thanks, see you Tuesday!") == [
        "Thanks! Your reply has been passed on to Assistans Norr AB."]
    assert await h.sms(SARA_MOBILE, "STOP") == [
        "Thank you. Assistans Norr AB has been told that you want no more texts from here."]
    assert (await team_messages(h))[-2:] == [
        "Reply from Sara Svensson (Solbackens vårdcentral): Thanks, see you Tuesday!",
        "Sara Svensson (Solbackens vårdcentral) wants no more texts from us (STOP): remove the number from the "
        "customer register."]


async def test_an_english_team_hears_who_a_customer_reminder_did_not_reach(h):
    doc = english(customer_doc())
    doc["customers"].append({"id": "k2", "name": "Familjen Ek", "contacts": [{"name": "Eva Ek", "email": "eva@ek.se"}]})
    doc["customer_reminders"] = [
        {"id": "sms", "customer": "k1", "title": "Visit tomorrow", "text": "We come {{ datum }}.",
         "due": "2026-06-03", "days_before": 1, "delivery": "sms", "recipients": ["contacts"]},
        {"id": "nobody", "customer": "k2", "title": "Check", "text": "Check {{ datum }}.",
         "due": "2026-06-02", "delivery": "email", "recipients": ["inspector"]},
    ]
    await load(h, doc)
    await set_team_chat(h)
    from bot.app import _customer_reminder_tick

    await _customer_reminder_tick(h.services)
    await h.dispatch()
    told = sorted(m for m in await team_messages(h) if m.startswith("The customer reminder"))
    assert told == [
        "The customer reminder ”Check” for Familjen Ek (2 June 2026) reached nobody: "
        "no recipients: the area's inspectors.",
        "The customer reminder ”Visit tomorrow” for Solbackens vårdcentral (3 June 2026) did not reach everyone: "
        "Per Persson (no mobile number)."]
