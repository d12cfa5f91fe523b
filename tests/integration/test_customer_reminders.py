"""Customer reminders: imported with their rule, sent N days before each due date, by e-mail and SMS,
to recipients by role; a real SMTP server (aiosmtpd) and the fake Twilio receive them."""
from __future__ import annotations

import asyncio

import pytest

from bot.app import queue_customer_reminders
from core.importer import ImportError_
from tests.builders import load, may_org
from tests.conftest import eventually, start_harness
from tests.mailbox import Mailbox

SARA_MOBILE = "+46709876543"


@pytest.fixture
async def mailbox():
    box = await Mailbox().start()
    yield box
    await box.close()


@pytest.fixture
async def h(db_url, fake_twilio, clock, mailbox):
    harness = await start_harness(db_url, fake_twilio, clock, SMTP_URL=f"smtp://127.0.0.1:{mailbox.port}",
                                  PAMINN_EMAIL_FROM="Påminn <noreply@paminn.se>", PAMINN_API_KEY="key")
    harness.mailbox = mailbox
    yield harness
    await harness.client.close()


def customer_doc() -> dict:
    doc = may_org()
    doc["staff"] += [
        {"id": "i1", "name": "Ingrid Inspektör", "roles": ["inspector"], "area": "Norr", "email": "ingrid@norr.se"},
        {"id": "i2", "name": "Sven Söder", "roles": ["inspector"], "area": "Söder", "email": "sven@norr.se"},
        {"id": "ad", "name": "Adam Admin", "roles": ["admin"], "email": "adam@norr.se"},
    ]
    doc["customers"] = [{"id": "k1", "name": "Solbackens vårdcentral", "area": "norr", "contacts": [
        {"name": "Sara Svensson", "email": "sara@solbacken.se", "mobile": "070-987 65 43"},
        {"name": "Per Persson", "email": "per@solbacken.se"}]}]
    doc["customer_reminders"] = [
        {"id": "cr1", "customer": "k1", "type": "Avtalsuppföljning", "title": "Avtalet löper ut",
         "text": "Hej {{ mottagare }}! {{ rubrik }} för {{ kund }} den {{ datum }} ({{ dagar_kvar }} dagar kvar).",
         "due": "2026-06-16", "days_before": 14, "recurrence": {"every": "month"}, "delivery": "both",
         "recipients": ["contacts", "inspector"]},
        {"id": "cr2", "customer": "k1", "type": "Kontroll", "title": "Kvalitetskontroll",
         "text": "Kvalitetskontroll hos {{ kund }} {{ datum }}.", "due": "2026-07-01", "days_before": 7,
         "delivery": "email", "recipients": ["admin"]},
        # Weekly since May: the service sees it first today, so only today's due date goes (not four old ones).
        {"id": "cr3", "customer": "k1", "title": "Veckorapport", "text": "Skicka veckorapporten.",
         "due": "2026-05-05", "recurrence": {"every": "week"}, "delivery": "email", "recipients": ["admin"]},
    ]
    return doc


async def tick(h):
    run = await queue_customer_reminders(h.services)
    await h.dispatch()
    return run


def texts(mailbox, address: str) -> list[tuple[str, str]]:
    return [(m["Subject"], m.get_content().strip()) for m in mailbox.to(address)]


async def test_reminders_go_n_days_before_to_each_role_by_email_and_sms(h):
    counts = await load(h, customer_doc())
    assert counts["customers"]["created"] == 1 and counts["customer_reminders"]["created"] == 3
    run = await tick(h)
    assert (run.reminders, run.skipped_due_dates) == (2, 4)
    sara = ("Avtalet löper ut: Solbackens vårdcentral",
            "Hej Sara Svensson! Avtalet löper ut för Solbackens vårdcentral den 16 juni 2026 (14 dagar kvar).")
    assert texts(h.mailbox, "sara@solbacken.se") == [sara]
    assert texts(h.mailbox, "per@solbacken.se") == [(sara[0], sara[1].replace("Sara Svensson", "Per Persson"))]
    assert texts(h.mailbox, "ingrid@norr.se") == [(sara[0], sara[1].replace("Sara Svensson", "Ingrid Inspektör"))]
    assert h.mailbox.to("sven@norr.se") == []  # an inspector of another area
    assert h.fake.to(SARA_MOBILE) == [sara[1]]  # "both": the contact with a mobile also gets an SMS
    assert texts(h.mailbox, "adam@norr.se") == [("Veckorapport: Solbackens vårdcentral", "Skicka veckorapporten.")]
    assert h.mailbox.messages[0]["From"] == "Påminn <noreply@paminn.se>"
    # Ticks in every process, again and again: nothing more until the next send day.
    assert (await tick(h)).reminders == 0
    assert len(h.mailbox.messages) == 4 and len(h.fake.to(SARA_MOBILE)) == 1
    h.clock.advance(days=22)  # 24 June: cr2 (due 1 July, 7 days before) and cr3's weekly due date
    await tick(h)
    assert sorted(texts(h.mailbox, "adam@norr.se")[1:]) == [
        ("Kvalitetskontroll: Solbackens vårdcentral", "Kvalitetskontroll hos Solbackens vårdcentral 1 juli 2026."),
        ("Veckorapport: Solbackens vårdcentral", "Skicka veckorapporten.")]
    h.clock.advance(days=8)  # 2 July: cr1's next due date is 16 July
    await tick(h)
    assert h.fake.to(SARA_MOBILE)[-1] == sara[1].replace("16 juni", "16 juli")
    rows = await h.rows("SELECT external_id, next_due, last_sent_due FROM customer_reminders ORDER BY external_id")
    assert [(r[0], str(r[1]), str(r[2])) for r in rows] == [
        ("cr1", "2026-08-16", "2026-07-16"), ("cr2", "None", "2026-07-01"), ("cr3", "2026-07-07", "2026-06-30")]


async def test_e_mail_goes_at_most_ten_at_once_to_the_smtp_server(db_url, fake_twilio, clock, mailbox):
    """One connection per e-mail: a reminder to 25 contacts holds at most 10 SMTP sessions at a time,
    whatever the dispatcher's own concurrency; the other 15 wait their turn and all arrive once."""
    # 50 sends at once allowed, and a send timeout that outlasts the test holding messages in DATA.
    h = await start_harness(db_url, fake_twilio, clock, SMTP_URL=f"smtp://127.0.0.1:{mailbox.port}",
                            PAMINN_API_KEY="key", PAMINN_DISPATCH_CONCURRENCY="50", PAMINN_SEND_TIMEOUT="30")
    h.mailbox = mailbox
    try:
        doc = customer_doc()
        addresses = [f"kontakt{i}@stora.se" for i in range(25)]
        doc["customers"].append({"id": "k9", "name": "Stora Kunden", "contacts": [
            {"name": f"Kontakt {i}", "email": address} for i, address in enumerate(addresses)]})
        doc["customer_reminders"] = [{"id": "many", "customer": "k9", "title": "Städning", "text": "Vi kommer.",
                                      "due": "2026-05-05", "recurrence": {"every": "week"}, "delivery": "email",
                                      "recipients": ["contacts"]}]
        await load(h, doc)
        h.mailbox.gate = asyncio.Event()
        assert (await queue_customer_reminders(h.services)).messages == 25
        sending = asyncio.create_task(h.dispatch())
        await eventually(lambda: h.mailbox.in_data == 10, what="ten e-mails held at the SMTP server at once")
        # That no eleventh comes cannot be awaited: give the others time to start if they could. The
        # harness allows 50 sends at once, so without the channel's limit all 25 would be held here.
        await asyncio.sleep(0.5)
        assert h.mailbox.in_data == 10
        assert await h.scalar("SELECT count(*) FROM outbox WHERE channel = 'email' AND status = 'sending' "
                              "AND sending_started_at IS NULL") == 15  # waiting for a slot, no provider call begun
        h.mailbox.gate.set()
        stats = await sending
        assert stats.sent == 25 and sorted(m["To"] for m in h.mailbox.messages) == sorted(addresses)
        assert h.mailbox.peak == 10
    finally:
        if h.mailbox.gate is not None:
            h.mailbox.gate.set()  # let held sends finish before the server goes
        await h.client.close()


async def test_a_refused_recipient_fails_alone_and_the_rest_arrive(h):
    h.mailbox.refuse.add("per@solbacken.se")
    await load(h, customer_doc())
    await tick(h)
    assert len(texts(h.mailbox, "sara@solbacken.se")) == 1 and h.mailbox.to("per@solbacken.se") == []
    assert await h.scalar("SELECT status FROM outbox WHERE address = 'per@solbacken.se'") == "failed"


async def test_bad_customer_reminders_are_refused_whole_with_every_problem(h):
    doc = customer_doc()
    doc["customer_reminders"] += [
        {"id": "bad", "customer": "k9", "title": "x", "text": "Hej {{ namn }}", "due": "1 juli",
         "recurrence": {"every": "month", "day": 32}, "delivery": "post", "recipients": ["boss"]}]
    doc["customers"][0]["contacts"].append({"name": "Utan adress"})
    with pytest.raises(ImportError_) as refused:
        await load(h, doc)
    assert refused.value.problems == [
        "customers[0] (id 'k1') contacts[2]: a contact needs an 'email' or a 'mobile' to be reached",
        "customer_reminders[3] (id 'bad'): 'customer' 'k9' is neither in the file nor stored",
        "customer_reminders[3] (id 'bad'): 'text' uses unknown name(s) namn; available: dagar_kvar, datum, kund, "
        "mottagare, rubrik, typ",
        "customer_reminders[3] (id 'bad'): 'due' must be a date like 2026-07-01",
        "customer_reminders[3] (id 'bad'): 'delivery' 'post' is not supported yet; use email, sms or both",
        "customer_reminders[3] (id 'bad'): 'recipients' must be a list of contacts, inspector, admin",
        "customer_reminders[3] (id 'bad'): 'recurrence.day' is a date from 1 to 31, with every: month",
    ]
    assert await h.scalar("SELECT count(*) FROM customers") == 0
    assert await h.scalar("SELECT count(*) FROM staff") == 0


async def test_host_systems_read_each_reminders_schedule_and_deliveries(h):
    await load(h, customer_doc())
    h.mailbox.refuse.add("per@solbacken.se")
    await tick(h)
    auth = {"Authorization": "Bearer key"}
    response = await h.client.get("/api/v1/organisations/org1/customer-reminders", headers=auth)
    assert response.status == 200
    report = {r["id"]: r for r in (await response.json())["customer_reminders"]}
    cr1 = report["cr1"]
    assert (cr1["customer"], cr1["next_due"], cr1["send_on"], cr1["last_sent_due"]) == (
        "k1", "2026-07-16", "2026-07-02", "2026-06-16")
    assert sorted((d["channel"], d["address"], d["status"]) for d in cr1["last_deliveries"]) == [
        ("email", "ingrid@norr.se", "sent"), ("email", "per@solbacken.se", "failed"),
        ("email", "sara@solbacken.se", "sent"), ("sms", SARA_MOBILE, "sent")]
    assert (report["cr2"]["send_on"], report["cr2"]["last_deliveries"]) == ("2026-06-24", [])
    none = await h.client.get("/api/v1/organisations/org1/customer-reminders?customer=k9", headers=auth)
    assert (await none.json()) == {"customer_reminders": []}
    assert (await h.client.get("/api/v1/organisations/nope/customer-reminders", headers=auth)).status == 404
    assert (await h.client.get("/api/v1/organisations/org1/customer-reminders")).status == 401


async def test_the_team_hears_who_a_reminder_did_not_reach(h):
    from tests.builders import set_team_chat, team_messages

    doc = customer_doc()
    doc["customers"].append({"id": "k2", "name": "Familjen Ek", "contacts": [{"name": "Eva Ek", "email": "eva@ek.se"}]})
    doc["customer_reminders"] = [
        {"id": "sms", "customer": "k1", "title": "Besök imorgon", "text": "Vi kommer {{ datum }}.",
         "due": "2026-06-03", "days_before": 1, "delivery": "sms", "recipients": ["contacts"]},
        {"id": "nobody", "customer": "k2", "title": "Kontroll", "text": "Kontroll {{ datum }}.",
         "due": "2026-06-02", "delivery": "email", "recipients": ["inspector"]},
    ]
    await load(h, doc)
    await set_team_chat(h)
    from bot.app import _customer_reminder_tick

    await _customer_reminder_tick(h.services)  # what the scheduler runs each minute
    await h.dispatch()
    assert h.fake.to(SARA_MOBILE) == ["Vi kommer 3 juni 2026."]
    metrics = await (await h.client.get("/metrics")).text()
    assert 'paminn_customer_reminder_messages_total{outcome="queued"} 1.0' in metrics
    assert 'paminn_customer_reminder_messages_total{outcome="unreached"} 2.0' in metrics
    assert sorted(m for m in await team_messages(h) if m.startswith("Kundpåminnelsen")) == [
        "Kundpåminnelsen ”Besök imorgon” för Solbackens vårdcentral (3 juni 2026) nådde inte alla: "
        "Per Persson (inget mobilnummer).",
        "Kundpåminnelsen ”Kontroll” för Familjen Ek (2 juni 2026) nådde inte någon: "
        "inga mottagare: områdets inspektörer."]
    report = await (await h.client.get("/api/v1/organisations/org1/customer-reminders",
                                       headers={"Authorization": "Bearer key"})).json()
    assert {r["id"]: r["last_unreached"] for r in report["customer_reminders"]} == {
        "sms": ["Per Persson (inget mobilnummer)"], "nobody": ["inga mottagare: områdets inspektörer"]}


async def test_a_contact_answering_a_reminder_reaches_the_team(h):
    from tests.builders import set_team_chat, team_messages

    await load(h, customer_doc())
    await set_team_chat(h)
    assert await h.sms("070-987 65 43", "Tack, vi ses på tisdag!") == [
        "Tack! Ditt svar har skickats vidare till Assistans Norr AB."]
    assert await h.sms(SARA_MOBILE, "STOPP") == [
        "Tack. Assistans Norr AB har fått besked om att du inte vill få fler SMS härifrån."]
    assert (await team_messages(h))[-2:] == [
        "Svar från Sara Svensson (Solbackens vårdcentral): Tack, vi ses på tisdag!",
        "Sara Svensson (Solbackens vårdcentral) vill inte få fler SMS från oss (STOPP): ta bort numret i "
        "kundregistret."]
    # A number that is nobody's learns nothing.
    assert await h.sms("+46709999999", "hej") == [
        "Det här numret finns inte hos Påminn. Kontakta din arbetsgivare om du ska få påminnelser hit."]
