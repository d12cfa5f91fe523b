"""The phone simulator in a real browser (Debian's chromium), against `paminn serve` as a user runs it."""
from __future__ import annotations

import asyncio
import json
import urllib.request

import pytest

from core.messages import reminder_text
from core.months import month_label, month_name
from tests.e2e.browser import ARTIFACTS, demo_month, open_simulator, thread_texts, wait_for_text

pytestmark = pytest.mark.browser


def rejected(server: str, reason: str) -> float:
    with urllib.request.urlopen(f"{server}/metrics", timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("paminn_rejected_requests_total{") and f'reason="{reason}"' in line \
                    and 'route="simulator"' in line:
                return float(line.rsplit(" ", 1)[1])
    return 0.0


async def refused_from_another_origin(browser, server: str, text: str) -> None:
    """A page on another origin (localhost instead of 127.0.0.1) tries what any web page can: a no-cors
    text/plain POST and a JSON fetch. Neither reaches a phone: the first is refused, the second never leaves
    (its preflight finds no CORS permission)."""
    page = await browser.new_page()
    other = server.replace("127.0.0.1", "localhost")
    await page.goto(other + "/static/style.css")
    await page.evaluate("""async ([url, text]) => {
        const body = JSON.stringify({from: "+46701110000", text});
        await fetch(url, {method: "POST", mode: "no-cors", body});
        try { await fetch(url, {method: "POST", headers: {"Content-Type": "application/json"}, body}); }
        catch (e) { /* blocked by CORS, as it should be */ }
    }""", [server + "/simulator/api/send", text])
    assert rejected(server, "origin") == 1.0
    await page.close()


async def overlong_text_refused_in_swedish_and_kept(page) -> None:
    """A text longer than the service takes is refused on the page, in Swedish; it stays in the box, unsent."""
    sends = []
    page.on("request", lambda r: sends.append(r) if r.url.endswith("/simulator/api/send") else None)
    before = await thread_texts(page, "#coordinator-phone")
    text = "STATUS " + "å" * 1600  # 1 607 characters; the simulator takes 1 600
    box = page.locator("#coordinator-phone input")
    await box.fill(text)
    await box.press("Enter")
    notice = page.locator("#coordinator-phone .notice")
    await notice.wait_for(state="visible")
    assert await notice.inner_text() == ("Texten är för lång: 1\u00a0607 tecken, högst 1\u00a0600 går att skicka. "
                                         "Korta den och skicka igen – inget skickades.")
    assert await box.input_value() == text
    await asyncio.sleep(1)  # a text that had been sent would be in the thread by now
    assert sends == []
    assert await thread_texts(page, "#coordinator-phone") == before
    # Shortened to what fits, the notice goes and the text can be sent.
    await box.fill("STATUS")
    assert await notice.is_hidden()


async def test_coordinator_round_and_assistant_ok_in_the_browser(server):
    from playwright.async_api import async_playwright

    last = demo_month()
    async with async_playwright() as pw:
        browser, page, failed = await open_simulator(pw, server)
        await page.locator("[data-reason=due] li").first.wait_for()
        ready = await page.locator("[data-reason=due] li").all_inner_texts()
        held = await page.locator("[data-reason=reminders_off] li").all_inner_texts()
        assert ready and held

        icon = await page.locator("link[rel=icon]").get_attribute("href")
        for path in (icon, "/favicon.ico"):
            with urllib.request.urlopen(server + path, timeout=5) as r:
                assert r.status == 200 and r.headers["Content-Type"] == "image/svg+xml"
                assert r.read().startswith(b"<svg")
        await overlong_text_refused_in_swedish_and_kept(page)
        await refused_from_another_origin(browser, server, f"PÅMINN ALLA {month_name(last)}")

        await page.locator("#coordinator-phone input").fill(f"PÅMINN ALLA {month_name(last)}")
        async with page.expect_request(lambda r: r.url.endswith("/simulator/api/send")) as sent:
            await page.locator("#coordinator-phone input").press("Enter")
        # The page's own request: same-origin JSON, which is all the simulator takes.
        request = await sent.value
        headers = await request.all_headers()
        assert headers["content-type"] == "application/json"
        assert headers["origin"] == server and headers["sec-fetch-site"] == "same-origin"
        assert json.loads(request.post_data)["text"] == f"PÅMINN ALLA {month_name(last)}"
        replies = await wait_for_text(page, "#coordinator-phone", f"för {month_label(last)} skickade")
        assert any(r.startswith(f"{len(ready)} påminnelser för {month_label(last)} skickade") for r in replies)
        team = await wait_for_text(page, "[data-testid=team-chat]", "Karin Koordinator skickade påminnelser")
        assert any(f"{len(ready)} skickade" in t for t in team)

        expected = reminder_text("Coordinare", "https://app.coordinare.se", last)
        # Everyone ready got it (their unread badge shows), exactly once; nobody held back did.
        for name in ready:
            button = page.locator("#assistant-list button", has_text=name)
            await button.locator(".badge").wait_for(timeout=15000)
            await button.click()
            texts = await wait_for_text(page, "#assistant-phone", expected)
            assert texts.count(expected) == 1
        for name in held:
            await page.locator("#assistant-list button", has_text=name).click()
            await asyncio.sleep(0.3)
            assert expected not in await thread_texts(page, "#assistant-phone")

        first = ready[0]
        await page.locator("#assistant-list button", has_text=first).click()
        await page.locator("#assistant-phone .quick button", has_text="OK").click()
        await wait_for_text(page, "#assistant-phone", f"Tack! Vi har noterat att du sett påminnelsen för "
                                                      f"{month_label(last)}.")
        await wait_for_text(page, "[data-testid=team-chat]", f"✓ {first} ({month_label(last)})")
        assert failed == []
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "simulator.png"), full_page=True)
        await page.set_viewport_size({"width": 400, "height": 850})
        await page.screenshot(path=str(ARTIFACTS / "simulator-phone.png"), full_page=False)
        await browser.close()
