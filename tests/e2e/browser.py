"""What the browser tests share: `paminn serve` with the simulator and the demo, Debian's chromium opened on
it (failed answers and console errors collected), and waits on what the page shows."""
from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from core.months import Month

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def start_server(tmp_path: Path, port: int, **env_extra) -> subprocess.Popen:
    env = {**os.environ, "PAMINN_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/demo.db", "PAMINN_SIMULATOR": "on",
           "PAMINN_DISPATCH_INTERVAL": "0.5", "PAMINN_TEAM_ACK_WINDOW": "1", **env_extra}
    for key in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TELEGRAM_BOT_TOKEN"):
        env.pop(key, None)
    log = open(tmp_path / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--demo-if-empty", "--port", str(port)],
                            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise AssertionError("server did not start:\n" + (tmp_path / "server.log").read_text())


async def thread_texts(page, selector: str) -> list[str]:
    return await page.locator(f"{selector} .thread .msg").evaluate_all(
        "els => els.map(e => e.firstChild.textContent)")


async def wait_for_text(page, selector: str, wanted: str, timeout: float = 20) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        texts = await thread_texts(page, selector)
        if any(wanted in t for t in texts):
            return texts
        await asyncio.sleep(0.25)
    raise AssertionError(f"{wanted!r} never appeared in {selector}: {await thread_texts(page, selector)}")


# Without the background-networking flags chromium keeps trying this machine's closed network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


async def open_simulator(pw, server: str, height: int = 900):
    """Chromium on the simulator's page, the demo's coordinator shown. Returns the browser, the page and the
    list that collects every answer that was not a success (a missing favicon, say) and every console error."""
    browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    page = await browser.new_page(viewport={"width": 1400, "height": height})
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.on("console", lambda m: failed.append(m.text) if m.type == "error" else None)
    await page.goto(server + "/")
    await page.get_by_text("Karin Koordinator").first.wait_for()
    return browser, page, failed


def demo_month() -> Month:
    """The month the demo's unfinished shifts are in: last month, in Stockholm."""
    local = datetime.now(timezone.utc).astimezone(ZoneInfo("Europe/Stockholm"))
    return Month(local.year, local.month).shift(-1)
