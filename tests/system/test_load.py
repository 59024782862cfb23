"""Load with churn: concurrent loopback clients on every route of a real `feedsvc serve` while
documents are added, changed and deleted. Zero 5xx, every body complete and parseable, and at the
end every change visible. `make test`: 32 clients for 10 s; `make load`: 64 clients for 20 s
(FEEDSVC_LOAD_CLIENTS, FEEDSVC_LOAD_SECONDS)."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import shutil
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import feedparser
from helpers import SEED, make_doc, poll_until_async, write
from helpers.feeds import FEEDS, doc_id
from lxml import etree

CLIENTS = int(os.environ.get("FEEDSVC_LOAD_CLIENTS", "32"))
SECONDS = float(os.environ.get("FEEDSVC_LOAD_SECONDS", "10"))
ROUTES = [*FEEDS, *(f + "?limit=5&page=2" for f in FEEDS), *(f + "?limit=500" for f in FEEDS[:3]), "/", "/healthz",
          "/metrics"]
ENDINGS = {"atom": b"</feed>", "rss": b"</rss>"}


class Churn:
    """Adds, edits and deletes documents from a thread; remembers the folder's final state."""

    def __init__(self, seeds: Path) -> None:
        self.seeds = seeds
        self.titles: dict[str, str] = {}  # id -> English title of the file on disk
        self.ops: Counter[str] = Counter()
        self.stop = threading.Event()
        self.rng = random.Random(1234)
        self.thread = threading.Thread(target=self.run, daemon=True)

    def put(self, n: int, version: int) -> None:
        title = f"Churn article {n} version {version} about the war"
        text = make_doc(n, en=title, date=f"{1 + n % 28:02d}.{1 + n % 12:02d}.2024")
        name = f"churn-{n:03d}.txt"
        if version % 2:  # an atomic replace, as rsync and editors do
            tmp = self.seeds / f".{name}.tmp"
            tmp.write_text(text, encoding="utf-8")
            tmp.rename(self.seeds / name)
        else:
            write(self.seeds, name, text)
        self.titles[f"churn-{n:03d}"] = title

    def run(self) -> None:
        version = itertools.count(1)
        while not self.stop.is_set():
            n = self.rng.randrange(120)
            key = f"churn-{n:03d}"
            if key in self.titles and self.rng.random() < 0.3:
                (self.seeds / f"{key}.txt").unlink()
                del self.titles[key]
                self.ops["deleted"] += 1
            else:
                self.ops["changed" if key in self.titles else "added"] += 1
                self.put(n, next(version))
            time.sleep(0.01)


def check_body(route: str, headers: Any, body: bytes, deep: bool) -> None:
    length = headers.get("Content-Length")
    if "Content-Encoding" not in headers:  # gzip bodies arrive decompressed (a truncated one fails to inflate)
        assert length is None or int(length) == len(body), f"{route}: truncated body"
    path = route.split("?")[0]
    fmt = path.rsplit(".", 1)[-1] if "feed." in path else path
    if fmt == "json" or path == "/healthz":
        json.loads(body)
    elif fmt in ENDINGS:
        assert body.rstrip().endswith(ENDINGS[fmt]), f"{route}: incomplete"
        etree.fromstring(body)
        if deep:
            assert not feedparser.parse(body).bozo, route
    elif path == "/":
        assert body.rstrip().endswith(b"</html>"), f"{route}: incomplete page"


async def test_load_with_churn(seeds: Path, state: Path, server_factory: Any, record_property: Any) -> None:
    shutil.copy(SEED, seeds)
    churn = Churn(seeds)
    for n in range(0, 120, 3):
        churn.put(n, 0)
    server = server_factory(seeds, state)
    statuses: Counter[int] = Counter()
    errors: list[str] = []
    served = 0
    deadline = time.monotonic() + SECONDS

    async def client(session: aiohttp.ClientSession, number: int) -> None:
        nonlocal served
        rng = random.Random(number)
        while time.monotonic() < deadline:
            route = rng.choice(ROUTES)
            coding = {"Accept-Encoding": "identity"} if number % 2 else {}  # half plain, half gzip
            try:
                async with session.get(server.url + route, headers=coding) as response:
                    body = await response.read()
                    statuses[response.status] += 1
                    served += 1
                    if response.status >= 500:
                        errors.append(f"{route}: {response.status} {body[:200]!r}")
                    elif response.status == 200:
                        check_body(route, response.headers, body, deep=served % 97 == 0)
                    elif not (response.status == 404 and "page=2" in route):
                        errors.append(f"{route}: unexpected {response.status}")
            except (TimeoutError, aiohttp.ClientError, AssertionError, ValueError, etree.XMLSyntaxError) as exc:
                errors.append(f"{route}: {type(exc).__name__}: {exc}")

    churn.thread.start()
    started = time.monotonic()
    try:
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CLIENTS), timeout=timeout) as session:
            await asyncio.gather(*(client(session, i) for i in range(CLIENTS)))
    finally:
        churn.stop.set()
        await asyncio.to_thread(churn.thread.join)
    elapsed = time.monotonic() - started

    # Every change visible at the end: the id set and each document's latest title.
    expected = {**churn.titles}
    last: dict[str, str] = {}

    async def converged() -> bool:
        nonlocal last
        async with aiohttp.ClientSession() as session:
            async with session.get(server.url + "/en/feed.json?limit=500") as response:
                items = json.loads(await response.read())["items"]
        last = {doc_id(i["id"]): i["title"] for i in items if doc_id(i["id"]).startswith("churn-")}
        return last == expected

    await poll_until_async(converged, "the changes to be visible", 20, interval=0.1, detail=lambda: (
        f"changes not visible: missing {sorted(set(expected) - set(last))[:5]}, "
        f"extra {sorted(set(last) - set(expected))[:5]}, stale "
        f"{[k for k in expected if k in last and last[k] != expected[k]][:5]}"))
    async with aiohttp.ClientSession() as session, session.get(server.url + "/healthz") as response:
        health = await response.json()
    assert response.status == 200 and health["rejected"] == [], health

    summary = (f"load: {CLIENTS} clients for {elapsed:.1f}s: {served} requests served "
               f"({served / elapsed:.0f}/s), statuses {dict(statuses)}, errors {len(errors)}; churn {dict(churn.ops)}")
    print(summary)
    record_property("load_summary", summary)
    assert served > 0
    assert not errors, f"{len(errors)} errors, first: {errors[:5]}"
    assert not any(s >= 500 for s in statuses), statuses
    log = server.log.read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
