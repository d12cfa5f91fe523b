"""The integration buffer at scale: importing confirmed visits, and an external system draining them.

Usage: python -m benchmarks.buffer [--visits 20000] [--backends sqlite,postgresql]
Every tenth visit waits (its staff member has no SD number). The import re-decides every visit not
out on a lease; the drain polls 20 at a time and acknowledges each batch, over the real HTTP API.
"""
from __future__ import annotations

import argparse
import asyncio
import time
from datetime import datetime, timedelta, timezone

from benchmarks.run import empty_database, peak_rss_mb

NOW = datetime(2026, 6, 2, 8, 0, tzinfo=timezone.utc)


def document(visits: int) -> dict:
    staff = [{"id": f"s{i}", "name": f"Personal {i:04d}", "personal_number": f"19800101-{i:04d}",
              **({"sd_number": f"SD{i}"} if i % 10 else {})} for i in range(500)]
    customers = [{"id": f"k{i}", "name": f"Kund {i:04d}", "decision": {"from": "2026-01-01", "to": None}}
                 for i in range(1000)]
    start = datetime(2026, 6, 1, 6, 0, tzinfo=timezone.utc)
    return {"organisation": {"id": "bench", "name": "Hemtjänst AB"}, "staff": staff, "customers": customers,
            "visits": [{"id": f"v{i}", "staff": f"s{i % 500}", "customer": f"k{i % 1000}",
                        "start": (start + timedelta(minutes=i)).isoformat(),
                        "end": (start + timedelta(minutes=i + 30)).isoformat()} for i in range(visits)]}


async def measure(url: str, visits: int) -> dict:
    from aiohttp.test_utils import TestClient, TestServer

    from bot.app import create_app
    from bot.config import Settings
    from bot.imports import run_import
    from webhooks.keys import SERVICES

    app = create_app(Settings.from_env({"PAMINN_DATABASE_URL": url, "PAMINN_API_KEY": "key"}), clock=lambda: NOW,
                     scheduler=False)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        started = time.perf_counter()
        await run_import(app[SERVICES], document(visits))
        import_s = time.perf_counter() - started
        auth = {"Authorization": "Bearer key"}
        started, polls, taken = time.perf_counter(), 0, 0
        while True:
            batch = await (await client.post("/api/v1/organisations/bench/buffer/poll?limit=20", headers=auth)).json()
            polls += 1
            if not batch["items"]:
                break
            ids = [item["id"] for item in batch["items"]]
            answer = await (await client.post("/api/v1/organisations/bench/buffer/ack", headers=auth,
                                              json={"batch": batch["batch"], "ids": ids})).json()
            taken += len(answer["acknowledged"])
        drain_s = time.perf_counter() - started
        started = time.perf_counter()
        await run_import(app[SERVICES], document(visits))  # the same file again: every visit re-decided
        reimport_s = time.perf_counter() - started
        # The host sends its whole lists: a tenth of the visits, staff and customers are gone.
        complete = document(visits)
        complete["complete"] = ["staff", "customers", "visits"]
        complete["visits"] = [v for n, v in enumerate(complete["visits"]) if n % 10 != 1]
        complete["staff"] = [s for n, s in enumerate(complete["staff"]) if n % 10 != 1]
        complete["customers"] = [c for n, c in enumerate(complete["customers"]) if n % 10 != 1]
        started = time.perf_counter()
        counts = await run_import(app[SERVICES], complete)
        complete_s = time.perf_counter() - started
        return {"import_s": import_s, "drain_s": drain_s, "polls": polls, "taken": taken, "reimport_s": reimport_s,
                "complete_s": complete_s, "removed": counts["visits"]["removed"],
                "deactivated": counts["staff"]["deactivated"] + counts["customers"]["deactivated"],
                "rss": peak_rss_mb()}
    finally:
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--visits", type=int, default=20000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    print(f"# integration buffer — {args.visits} confirmed visits, every tenth waiting\n")
    for backend in args.backends.split(","):
        with empty_database(backend) as url:
            r = asyncio.run(measure(url, args.visits))
            print(f"## {backend}\n- import with buffer decisions: **{r['import_s']:.2f} s**; the same file again: "
                  f"{r['reimport_s']:.2f} s; as complete lists a tenth shorter: {r['complete_s']:.2f} s "
                  f"({r['removed']} visits removed, {r['deactivated']} staff and customers deactivated)")
            print(f"- drain over HTTP, 20 per poll, each batch acknowledged: {r['taken']} visits in {r['polls']} "
                  f"polls, **{r['drain_s']:.2f} s** ({r['taken'] / r['drain_s']:.0f} visits/s); peak RSS "
                  f"{r['rss']:.0f} MB\n")


if __name__ == "__main__":
    main()
