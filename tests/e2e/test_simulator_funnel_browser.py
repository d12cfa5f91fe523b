"""The simulator's funnel panel in a real browser (Debian's chromium), against `paminn serve` as a user runs it:
a round, the fake's deliveries and one assistant's OK show up in the panel as they happen."""
from __future__ import annotations

import asyncio
import time

import pytest

from core.months import month_label, month_name
from tests.e2e.browser import ARTIFACTS, demo_month, open_simulator, wait_for_text

pytestmark = pytest.mark.browser
PANEL = "[data-testid=funnel-panel]"


async def wait_for(page, check, what: str, timeout: float = 20):
    """Poll ``check()`` (async) until it is truthy; the panel follows the feed, a little behind it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := await check():
            return result
        await asyncio.sleep(0.25)
    raise AssertionError(f"{what} never showed; the panel reads: {await page.locator(PANEL).inner_text()!r}")


async def month_count(page, stage: str) -> int:
    return int(await page.locator(f"{PANEL} [data-part=month] .steps [data-stage={stage}] .count").inner_text())


async def test_the_panel_follows_a_round_its_deliveries_and_an_ok(server):
    from playwright.async_api import async_playwright

    last = demo_month()
    command = f"PÅMINN ALLA {month_name(last)}"  # "PÅMINN ALLA maj" when run in June
    async with async_playwright() as pw:
        browser, page, failed = await open_simulator(pw, server, height=1000)
        await page.locator("[data-reason=due] li").first.wait_for()
        ready = await page.locator("[data-reason=due] li").all_inner_texts()
        assert len(ready) >= 2
        panel = page.locator(PANEL)
        await panel.get_by_text(f"Inga påminnelser skickade för {month_label(last)} än.").wait_for()
        assert await page.locator("#funnel-month").inner_text() == month_label(last)

        await page.locator("#coordinator-phone input").fill(command)
        await page.locator("#coordinator-phone input").press("Enter")
        await wait_for_text(page, "#coordinator-phone", f"{len(ready)} påminnelser för {month_label(last)} skickade")
        # The fake delivers every reminder; the panel shows it without a reload.
        await wait_for(page, lambda: _counts_are(page, reminded=len(ready), delivered=len(ready)),
                       f"{len(ready)} reminded and delivered")
        assert await month_count(page, "acknowledged") == 0
        assert await month_count(page, "unfinished_now") == len(ready)
        assert await panel.locator("[data-round]").count() == 1
        assert "Karin Koordinator" in await panel.locator("[data-round] h3").inner_text()
        assert "✓" not in await panel.inner_text()

        first, other = ready[0], ready[1]
        await page.locator("#assistant-list button", has_text=first).click()
        await page.locator("#assistant-phone .quick button", has_text="OK").click()
        await wait_for_text(page, "#assistant-phone", f"Tack! Vi har noterat att du sett påminnelsen för "
                                                      f"{month_label(last)}.")
        await wait_for(page, lambda: _counts_are(page, acknowledged=1), "one acknowledged")
        confirmed = panel.locator(f"[data-round] li[data-name='{first}']")
        assert await confirmed.get_attribute("data-confirmed") == "true"
        assert "✓ bekräftad" in await confirmed.inner_text()
        assert await confirmed.locator(".mark.ok").is_visible()
        not_yet = panel.locator(f"[data-round] li[data-name='{other}']")
        assert await not_yet.get_attribute("data-confirmed") == "false"
        assert "✓" not in await not_yet.inner_text()
        assert await not_yet.locator(".mark").all_inner_texts() == ["levererad", "inte bekräftad", "ännu inte klar"]
        assert await confirmed.locator(".mark").all_inner_texts() == ["levererad", "✓ bekräftad", "ännu inte klar"]
        # The month's names behind the acknowledged number.
        assert await panel.locator("[data-part=month] dd[data-stage=acknowledged]").inner_text() == f"✓ {first}"
        reminded = await panel.locator("[data-part=month] dd[data-stage=reminded]").inner_text()
        assert sorted(reminded.split(", ")) == sorted(ready)
        # Still unfinished: an OK says the reminder was seen, not that the shifts are reported.
        assert await month_count(page, "unfinished_now") == len(ready)
        assert failed == []
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "simulator-funnel.png"), full_page=True)
        await browser.close()


async def _counts_are(page, **wanted: int) -> bool:
    if not await page.locator(f"{PANEL} [data-part=month]").count():
        return False
    return all([await month_count(page, stage) == n for stage, n in wanted.items()])
