"""The edges under what real networks and hostile clients send: bodies in pieces, odd bytes, proxies.

Raw asyncio sockets send what aiohttp's client would not (a body in segments with pauses, header
bytes that are not UTF-8), against the real app on a loopback port.
"""
from __future__ import annotations

import asyncio
import json
import logging
import socket
from urllib.parse import urlencode

import pytest
from twilio.request_validator import RequestValidator

from tests.builders import ANNA, COORD, load, may_org
from tests.conftest import start_harness, twiml_messages
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN

TG_SECRET = "tg-secret"
TABLES = ("organisations", "staff", "shifts", "inbound", "outbox", "reminder_rounds", "reminder_history", "customers",
          "customer_reminders", "visits", "notification_templates", "events")


@pytest.fixture
async def fake_tg():
    from tests.fakes.telegram import FakeTelegram

    fake = await FakeTelegram().start()
    yield fake
    await fake.close()


@pytest.fixture
async def edge(db_url, fake_twilio, fake_tg, clock):
    """Every route on: Twilio, Telegram, the API (operator key) and the simulator, with May's organisation."""
    from tests.fakes.telegram import TOKEN

    h = await start_harness(db_url, fake_twilio, clock, PAMINN_API_KEY="key", TELEGRAM_BOT_TOKEN=TOKEN,
                            TELEGRAM_WEBHOOK_SECRET=TG_SECRET, TELEGRAM_API_BASE=fake_tg.api_base,
                            PAMINN_SIMULATOR="on")
    h.tg = fake_tg
    await load(h, may_org())
    yield h
    await h.client.close()


async def counts(h) -> dict[str, int]:
    return {t: await h.scalar(f"SELECT count(*) FROM {t}") for t in TABLES}


async def raw_request(port: int, method: str, path: str, headers: list[tuple[str, bytes]], pieces: list[bytes],
                      pause: float = 0.25) -> tuple[int, bytes]:
    """Send the head, then each piece of the body after a pause (each its own TCP segment); the status and body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    length = sum(len(p) for p in pieces)
    head = [f"{method} {path} HTTP/1.1".encode(), f"Host: 127.0.0.1:{port}".encode(),
            f"Content-Length: {length}".encode(), b"Connection: close"]
    head += [name.encode() + b": " + value for name, value in headers]
    writer.write(b"\r\n".join(head) + b"\r\n\r\n")
    await writer.drain()
    for piece in pieces:
        await asyncio.sleep(pause)
        writer.write(piece)
        await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


def thirds(body: bytes) -> list[bytes]:
    n = len(body) // 3
    return [body[:n], body[n:2 * n], body[2 * n:]]


def tg_update(update_id: int, uid: int, text: str) -> dict:
    msg = {"message_id": update_id, "date": 1780000000, "text": text,
           "from": {"id": uid, "is_bot": False, "first_name": "T"}, "chat": {"id": uid, "type": "private"}}
    if text.startswith("/"):
        msg["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return {"update_id": update_id, "message": msg}


# ---------------------------------------------------------------- bodies that arrive in pieces


async def test_a_signed_twilio_body_in_three_segments_is_read_whole_and_acted_on(edge):
    params = {"MessageSid": "SMsplit0000000000000000000000001", "From": COORD, "To": "+46766860000",
              "Body": "PÅMINN Anna maj", "AccountSid": ACCOUNT_SID}
    body = urlencode(params).encode()
    status, answer = await raw_request(edge.client.server.port, "POST", "/webhooks/twilio/sms", [
        ("Content-Type", b"application/x-www-form-urlencoded"),
        ("X-Twilio-Signature", edge.sign("/webhooks/twilio/sms", params).encode())], thirds(body))
    assert status == 200, answer
    assert twiml_messages(answer.decode()) == ["Påminnelse för maj 2026 skickad till Anna Andersson (070-123 45 67)."]
    await edge.dispatch()
    assert [m.to for m in edge.fake.messages] == [ANNA]


async def test_a_status_callback_in_segments_moves_the_status(edge):
    await edge.sms(COORD, "PÅMINN Anna maj")
    await edge.dispatch()
    sid = edge.fake.messages[0].sid
    params = {"MessageSid": sid, "MessageStatus": "delivered", "AccountSid": ACCOUNT_SID}
    status, _ = await raw_request(edge.client.server.port, "POST", "/webhooks/twilio/status", [
        ("Content-Type", b"application/x-www-form-urlencoded"),
        ("X-Twilio-Signature", edge.sign("/webhooks/twilio/status", params).encode())],
        thirds(urlencode(params).encode()))
    assert status == 204
    assert await edge.scalar("SELECT status FROM outbox WHERE provider_id = :s", s=sid) == "delivered"


async def test_a_telegram_update_in_segments_is_read_whole_and_acted_on(edge):
    body = json.dumps(tg_update(4242, 5001, "/start")).encode()
    status, answer = await raw_request(edge.client.server.port, "POST", "/webhooks/telegram", [
        ("Content-Type", b"application/json"), ("X-Telegram-Bot-Api-Secret-Token", TG_SECRET.encode())], thirds(body))
    assert status == 200, answer
    from handlers.account import LINK_PROMPT

    assert await edge.rows("SELECT address, body FROM outbox WHERE channel = 'telegram'") == [("5001", LINK_PROMPT)]


async def test_an_api_import_in_segments_is_read_whole(edge):
    doc = may_org(id="org2", name="Delad AB")
    body = json.dumps(doc).encode()
    status, answer = await raw_request(edge.client.server.port, "POST", "/api/v1/import", [
        ("Content-Type", b"application/json"), ("Authorization", b"Bearer key")], thirds(body))
    assert status == 200, answer
    assert json.loads(answer)["counts"]["staff"]["created"] == len(doc["staff"])


async def test_a_simulated_text_in_segments_is_read_whole(edge):
    from tests.integration.test_simulator_api import simulate

    await simulate(edge)
    body = json.dumps({"from": COORD, "text": "HJÄLP"}).encode()
    status, answer = await raw_request(edge.client.server.port, "POST", "/simulator/api/send",
                                       [("Content-Type", b"application/json")], thirds(body))
    assert status == 200, answer
    assert await edge.scalar("SELECT body FROM inbound WHERE channel = 'simulator'") == "HJÄLP"


async def test_a_body_over_the_route_s_limit_is_refused_even_without_content_length(edge):
    """Chunked: no Content-Length to refuse up front, so the reader stops at the limit."""
    reader, writer = await asyncio.open_connection("127.0.0.1", edge.client.server.port)
    writer.write(b"POST /webhooks/telegram HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                 b"Content-Type: application/json\r\nX-Telegram-Bot-Api-Secret-Token: tg-secret\r\n"
                 b"Connection: close\r\n\r\n")
    chunk = b"A" * 65536
    for _ in range(17):  # 1 MiB + 64 KiB
        writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    writer.write(b"0\r\n\r\n")
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 413")
    assert b"a Telegram update is at most 1 MiB" in answer
    assert await edge.scalar("SELECT count(*) FROM inbound") == 0


# ---------------------------------------------------------------- what answered 500


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


API = {"Authorization": "Bearer key", "Content-Type": "application/json"}
TG = {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET, "Content-Type": "application/json"}
SIM = {"Content-Type": "application/json"}
EVENTS = "/api/v1/organisations/org1/events"
ACK = "/api/v1/organisations/org1/buffer/ack"
POLL = "/api/v1/organisations/org1/buffer/poll"
TG_TEXT = json.dumps(tg_update(77, 5001, "hej"))

EDGES = [
    # deep nesting: the parser's recursion limit, or deeper than anything we take
    ("deep-import", "POST", "/api/v1/import", API, '{"organisation": %s}' % deep(100_000), 400, "nests deeper"),
    ("deep-import-40", "POST", "/api/v1/import", API, '{"organisation": {"id": "o", "name": "N", "x": %s}}'
     % deep(40), 400, "nests deeper than 32"),
    ("deep-event", "POST", EVENTS, API, deep(20_000), 400, "nests deeper"),
    ("deep-ack", "POST", ACK, API, '{"batch": "b", "ids": %s}' % deep(1000), 400, "send JSON like"),
    ("deep-telegram", "POST", "/webhooks/telegram", TG, '{"update_id": 1, "message": %s}' % deep(100_000), 400,
     "nests deeper"),
    ("deep-simulator", "POST", "/simulator/api/send", SIM, '{"from": %s}' % deep(5000), 400, "nests deeper"),
    # a lone surrogate, which no database column and no UTF-8 encoder takes
    ("surrogate-import", "POST", "/api/v1/import", API, '{"organisation": {"id": "org1", "name": "X\\ud800"}}', 400,
     "lone surrogate (\\ud800)"),
    ("surrogate-import-key", "POST", "/api/v1/import", API,
     '{"organisation": {"id": "o9", "name": "N"}, "staff": [{"id": "s1", "name": "N", "\\udfff": 1}]}', 400,
     "lone surrogate (\\udfff)"),
    ("surrogate-event", "POST", EVENTS, API, '{"id": "e1", "type": "t", "customer": "k1", "values": {"a": "\\udc00"}}',
     400, "lone surrogate"),
    ("surrogate-telegram", "POST", "/webhooks/telegram", TG, TG_TEXT.replace('"hej"', '"hej \\ud83d"'), 400,
     "lone surrogate"),
    ("surrogate-simulator", "POST", "/simulator/api/send", SIM, '{"from": "%s", "text": "hej \\ud800"}' % COORD, 400,
     "lone surrogate"),
    # digits that str.isdigit() takes but int() refuses or reads as another number
    ("superscript-limit", "POST", POLL + "?limit=%C2%B2", API, "", 400, "'limit' must be a whole number"),
    ("arabic-indic-limit", "POST", POLL + "?limit=%D9%A2%D9%A0", API, "", 400, "'limit' must be a whole number"),
    ("fullwidth-limit", "POST", POLL + "?limit=%EF%BC%92", API, "", 400, "'limit' must be a whole number"),
]


@pytest.mark.parametrize("name, method, path, headers, body, status, says", EDGES, ids=[e[0] for e in EDGES])
async def test_what_answered_500_is_a_clear_4xx_and_writes_nothing(edge, name, method, path, headers, body, status,
                                                                  says):
    from tests.integration.test_simulator_api import simulate

    await simulate(edge)
    before = await counts(edge)
    response = await edge.client.request(method, path, data=body.encode(), headers=headers)
    text = await response.text()
    assert response.status == status, text
    assert says in (json.loads(text)["error"] if text.startswith("{") else text)
    assert await counts(edge) == before


@pytest.mark.parametrize("path, header", [
    ("/webhooks/telegram", ("X-Telegram-Bot-Api-Secret-Token", b"tg-\xff\xfe")),
    ("/api/v1/organisations/org1/buffer/waiting", ("Authorization", b"Bearer \xffkey")),
    ("/api/v1/import", ("Authorization", b"Bearer key\xc3")),
    ("/webhooks/twilio/sms", ("X-Twilio-Signature", b"\xff\xfe=")),
    ("/simulator/api/send", ("Origin", b"http://\xff.example")),
    ("/healthz", ("X-Anything", b"\x80")),
], ids=["telegram-secret", "api-key", "api-key-truncated", "twilio-signature", "simulator-origin", "any"])
async def test_header_bytes_that_are_not_utf8_get_400_and_write_nothing(edge, path, header):
    before = await counts(edge)
    form = path.startswith("/webhooks/twilio")
    body = urlencode({"MessageSid": "SMx", "From": COORD, "Body": "hej"}).encode() if form else \
        json.dumps(tg_update(5, 5001, "hej") if "telegram" in path else {"from": COORD, "text": "hej"}).encode()
    content_type = b"application/x-www-form-urlencoded" if form else b"application/json"
    status, answer = await raw_request(edge.client.server.port, "GET" if path.endswith(("waiting", "healthz"))
                                       else "POST", path, [("Content-Type", content_type), header], [body], pause=0)
    assert status == 400, answer
    assert f"the header {header[0]} is not UTF-8".encode() in answer
    assert await counts(edge) == before


async def test_numbers_in_other_digits_are_read_as_the_same_number(edge):
    """Arabic-Indic (or fullwidth) digits in a mobile are the same number: stored and recognised in E.164."""
    doc = may_org(id="org2", name="Siffror AB")
    doc["staff"] = [{"id": "c1", "name": "Samir Samordnare", "mobile": "٠٧٠-٩٩٩ ١١ ٢٢", "roles": ["coordinator"]}]
    doc["care_recipients"], doc["shifts"], doc["reminder_history"] = [], [], []
    response = await edge.client.post("/api/v1/import", json=doc, headers={"Authorization": "Bearer key"})
    assert response.status == 200, await response.text()
    assert await edge.scalar("SELECT mobile FROM staff WHERE org_id = 'org2'") == "+46709991122"
    replies = await edge.sms("٠٧٠٩٩٩١١٢٢", "HJÄLP")
    assert replies[0].startswith("Kommandon:")
    # A status callback whose row id is not an ASCII number is matched by its sid alone.
    params = {"MessageSid": "SMnone", "MessageStatus": "delivered"}
    assert (await edge.post_form("/webhooks/twilio/status?m=%C2%B2", params)).status == 204


# ---------------------------------------------------------------- a Telegram update that cannot be acted on


STORED = "SELECT {} FROM inbound WHERE channel = 'telegram-update' AND provider_id = :p"
MALFORMED = {
    "message-is-text": {"update_id": 9001, "message": "hej hemlig text"},
    "message-without-chat": {"update_id": 9001, "message": {"message_id": 1, "text": "hej hemlig text"}},
    "callback-without-id": {"update_id": 9001, "callback_query": {"data": "hej hemlig text"}},
}


@pytest.mark.parametrize("kind", list(MALFORMED))
async def test_a_malformed_telegram_update_is_given_up_after_three_tries_and_counted(edge, kind, caplog):
    from webhooks.telegram import MAX_UPDATE_TRIES, reprocess_stored_updates

    caplog.set_level(logging.INFO)
    update = MALFORMED[kind]
    post = lambda: edge.client.post("/webhooks/telegram", data=json.dumps(update), headers=TG)  # noqa: E731
    assert (await post()).status == 200  # stored: Telegram need not send it again
    assert await edge.rows(STORED.format("attempts, processed_at"), p="9001") == [(1, None)]
    for _ in range(MAX_UPDATE_TRIES + 2):
        edge.clock.advance(seconds=31)
        await reprocess_stored_updates(edge.services.telegram, edge.services)
    assert await edge.scalar(STORED.format("attempts"), p="9001") == MAX_UPDATE_TRIES
    assert await reprocess_stored_updates(edge.services.telegram, edge.services, older_than_seconds=0) == 0
    assert (await post()).status == 200  # a redelivery of a given-up update is not tried again
    assert await edge.scalar(STORED.format("attempts"), p="9001") == MAX_UPDATE_TRIES
    metrics = await (await edge.client.get("/metrics")).text()
    assert "paminn_telegram_updates_given_up_total 1.0" in metrics
    given_up = [r for r in caplog.records if "given up" in r.getMessage()]
    assert len(given_up) == 1 and given_up[0].levelno == logging.WARNING
    assert not any("hemlig" in r.getMessage() or "hemlig" in (r.exc_text or "") for r in caplog.records)
    assert await edge.scalar("SELECT count(*) FROM outbox") == 0


async def test_an_unreadable_stored_update_is_given_up_too(edge):
    from core.models import InboundMessage
    from webhooks.telegram import MAX_UPDATE_TRIES, reprocess_stored_updates

    async with edge.services.sessions.begin() as session:
        session.add(InboundMessage(channel="telegram-update", provider_id="9002", sender="0", body="{not json",
                                   received_at=edge.clock()))
    for _ in range(MAX_UPDATE_TRIES):
        edge.clock.advance(seconds=31)
        assert await reprocess_stored_updates(edge.services.telegram, edge.services) == 1
    assert await reprocess_stored_updates(edge.services.telegram, edge.services, older_than_seconds=0) == 0
    assert "paminn_telegram_updates_given_up_total 1.0" in await (await edge.client.get("/metrics")).text()


async def test_an_update_whose_try_failed_for_a_passing_reason_is_finished_by_the_next_try(edge):
    """A handler that raised (here the Bot API failed once) rolled back; the recovery job tries again."""
    from webhooks.telegram import reprocess_stored_updates

    edge.tg.faults["answerCallbackQuery"] = [{"code": 500, "description": "Internal Server Error"}]
    update = {"update_id": 9003, "callback_query": {
        "id": "cb1", "chat_instance": "c", "data": "st:2026-05:ready",
        "from": {"id": 5001, "is_bot": False, "first_name": "T"},
        "message": {"message_id": 5, "date": 1780000000, "chat": {"id": 5001, "type": "private"}, "text": "x"}}}
    assert (await edge.client.post("/webhooks/telegram", data=json.dumps(update), headers=TG)).status == 200
    assert await edge.rows(STORED.format("attempts, processed_at"), p="9003") == [(1, None)]
    edge.clock.advance(seconds=31)
    assert await reprocess_stored_updates(edge.services.telegram, edge.services) == 1
    rows = await edge.rows(STORED.format("attempts, processed_at IS NOT NULL"), p="9003")
    assert [(a, bool(done)) for a, done in rows] == [(1, True)]
    assert [c.method for c in edge.tg.calls].count("answerCallbackQuery") == 2
    assert "paminn_telegram_updates_given_up_total 0.0" in await (await edge.client.get("/metrics")).text()


# ---------------------------------------------------------------- behind a TLS proxy


PUBLIC = "https://paminn.example.se"


@pytest.mark.parametrize("trust, forwarded, status", [
    ("on", {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "paminn.example.se"}, 200),
    ("on", {"X-Forwarded-Proto": "https, http", "X-Forwarded-Host": "paminn.example.se, proxy.local"}, 200),
    ("on", {}, 403),
    ("off", {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "paminn.example.se"}, 403),
    ("", {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "paminn.example.se"}, 403),
], ids=["on", "on-chain", "on-no-headers", "off", "default"])
async def test_behind_a_proxy_the_signature_url_comes_from_forwarded_headers_only_when_trusted(
        db_url, fake_twilio, clock, trust, forwarded, status):
    h = await start_harness(db_url, fake_twilio, clock, PAMINN_PUBLIC_URL="", PAMINN_TRUST_PROXY=trust)
    try:
        await load(h, may_org())
        params = {"MessageSid": "SMproxy000000000000000000000001", "From": COORD, "Body": "HJÄLP",
                  "AccountSid": ACCOUNT_SID}
        # Twilio signs the public URL it called, which the proxy forwarded here over plain HTTP.
        signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC + "/webhooks/twilio/sms", params)
        response = await h.client.post("/webhooks/twilio/sms", data=urlencode(params), headers={
            "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature, **forwarded})
        assert response.status == status, await response.text()
        assert await h.scalar("SELECT count(*) FROM inbound") == (1 if status == 200 else 0)
        if status == 200:
            assert twiml_messages(await response.text())[0].startswith("Kommandon:")
    finally:
        await h.client.close()


async def test_the_cli_import_refuses_what_the_api_refuses(edge, db_url, tmp_path):
    from tests.integration.test_import import run_cli

    path = tmp_path / "surrogate.json"
    path.write_text('{"organisation": {"id": "org9", "name": "X\\ud800"}}', encoding="utf-8")
    result = run_cli(db_url, "import", str(path))
    assert result.returncode == 2
    assert "lone surrogate (\\ud800)" in result.stderr and "nothing was written" in result.stderr
    assert await edge.scalar("SELECT count(*) FROM organisations WHERE id = 'org9'") == 0
