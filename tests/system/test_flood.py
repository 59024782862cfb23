"""A flood of distinct variants (?limit=, ?page=) must not starve the default feeds or freshness."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from helpers import make_doc, poll_until, write
from helpers.feeds import ids

WORDS = ("war", "article", "officials", "talks", "analysts", "week", "meetings", "cautious", "next", "kyiv")


def limit_variant(worker: int, n: int) -> str:
    return f"?limit={100 + (worker * 37 + n) % 400}"


def search_variant(worker: int, n: int) -> str:
    """A distinct search each time: two words and an excluded number nobody wrote."""
    return f"?q={WORDS[(worker + n) % 10]}+{WORDS[(worker * 3 + n) % 10]}+-{worker * 100_000 + n}"


@pytest.mark.parametrize("variant", [limit_variant, search_variant], ids=["limit", "q"])
def test_a_flood_of_distinct_variants_is_bounded_and_changes_still_arrive(seeds: Path, state: Path,
                                                                          server_factory: Any, variant: Any) -> None:
    for n in range(120):
        write(seeds, f"d{n:03d}.txt", make_doc(n))
    server = server_factory(seeds, state)
    statuses: list[int] = []
    retry_after: list[str | None] = []
    lock = threading.Lock()
    stop = threading.Event()

    def flood(worker: int) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            try:
                with urllib.request.urlopen(f"{server.url}/feed.atom{variant(worker, n)}", timeout=10) as response:
                    response.read()
                    status, after = response.status, None
            except urllib.error.HTTPError as exc:
                status, after = exc.code, exc.headers.get("Retry-After")
            with lock:
                statuses.append(status)
                retry_after.append(after)

    threads = [threading.Thread(target=flood, args=(w,), daemon=True) for w in range(48)]  # past the bound of 32
    for t in threads:
        t.start()
    try:
        time.sleep(1.0)
        write(seeds, "during-the-flood.txt", make_doc(999))
        poll_until(lambda: "during-the-flood" in ids(server.get("/feed.atom")[2]),
                   "a change during a flood of variants (it must still arrive)", 5)
        started = time.monotonic()
        assert server.get("/uk/feed.json")[0] == 200
        assert time.monotonic() - started < 2, "the default feeds are answered from bytes at hand"
    finally:
        stop.set()
        for t in threads:
            t.join(15)
    assert set(statuses) <= {200, 503}, set(statuses)
    assert 200 in statuses and 503 in statuses, "more distinct variants at once than the bound are refused"
    assert all(after == "1" for status, after in zip(statuses, retry_after) if status == 503)
    status, _, body = server.get("/healthz")
    assert status == 200 and json.loads(body)["status"] == "ok"
