"""Freshness: from a document complete on disk to a /feed.atom body that contains it.

The server (core 0) serves a ~1,000-document corpus dated 2025. This process (core 1) writes probe
documents dated 27.11.2026 into the watched folder and polls /feed.atom every 2 ms over one keep-alive
connection with If-None-Match (304 while nothing changed), looking for each probe's unique token.
Completion is the moment close() (in place) or os.rename() (rsync style, `.name.tmp` -> `name.txt`)
returned in the writer.
"""

from __future__ import annotations

import random
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from common import CLIENT_CORE, OUT, Client, Feedsvc, log, median, percentile, pin_self, spread, unpin_self
from gen import PROBE_DATE, corpus, make_document, seeds_copy, write_probe

POLL = 0.002
GIVE_UP = 10.0


class Poller:
    """Conditional GETs of one feed path over one keep-alive connection (any server: feedsvc, Hugo)."""

    def __init__(self, port: int, path: str = "/feed.atom", timeout: float = 10.0) -> None:
        self.client = Client(port, timeout=timeout)
        self.path = path
        self.etag: str | None = None
        self.body = b""
        self.polls = 0

    def poll(self) -> tuple[float, bool]:
        """One conditional GET; (time the answer arrived, whether the body changed)."""
        headers = {"If-None-Match": self.etag} if self.etag else {}
        status, h, body = self.client.get(self.path, headers)
        now = time.perf_counter()
        self.polls += 1
        if status == 200:
            self.etag = h.get("etag")
            self.body = body
            return now, True
        return now, False

    def until_seen(self, key: bytes, done: float, give_up: float) -> float:
        """Poll every POLL s until the feed holds `key`; seconds since `done` (inf after `give_up`)."""
        while True:
            started = time.perf_counter()
            seen_at, changed = self.poll()
            if changed and key in self.body:
                return seen_at - done
            if seen_at - done > give_up:
                return float("inf")
            delay = started + POLL - time.perf_counter()
            if delay > 0:
                time.sleep(delay)


def trickle(folder: Path, poller: Poller, *, n: int, gap: float, rename: bool, tag: str,
            rng: random.Random) -> list[float]:
    """n documents written `gap` apart; the latency of each, in seconds (inf when never seen)."""
    latencies: list[float] = []
    pending: dict[bytes, float] = {}
    written = 0
    next_write = time.perf_counter()
    while written < n or pending:
        now = time.perf_counter()
        if written < n and now >= next_write:
            token = f"p{tag}{written:04d}"
            text = make_document(rng, token, PROBE_DATE, paragraphs=rng.choice((3, 6, 10)))
            pending[token.encode()] = write_probe(folder, f"{token}.txt", text, rename=rename)
            written += 1
            next_write += gap
        started = time.perf_counter()
        seen_at, changed = poller.poll()
        if changed:
            for token in [t for t in pending if t in poller.body]:
                latencies.append(seen_at - pending.pop(token))
        for token in [t for t, t0 in pending.items() if seen_at - t0 > GIVE_UP]:
            del pending[token]
            latencies.append(float("inf"))
        wake = started + POLL
        if written < n:
            wake = min(wake, next_write)
        delay = wake - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    return latencies


def burst(folder: Path, poller: Poller, *, n: int, rename: bool, tag: str, rng: random.Random) -> float:
    """n documents written at once; seconds from the last one complete to it visible in /feed.atom.

    Names count down so that the last written has both the newest mtime and the smallest id: once it
    is indexed it is the first entry of /feed.atom.
    """
    texts = []
    for i in range(n):
        token = f"b{tag}{n - 1 - i:04d}"
        texts.append((token, make_document(rng, token, PROBE_DATE, paragraphs=rng.choice((3, 6, 10)))))
    done = 0.0
    for token, text in texts:
        done = write_probe(folder, f"{token}.txt", text, rename=rename)
    last = texts[-1][0].encode()
    while True:
        started = time.perf_counter()
        seen_at, changed = poller.poll()
        if changed and last in poller.body:
            return seen_at - done
        if seen_at - done > GIVE_UP * 3:
            return float("inf")
        delay = started + POLL - time.perf_counter()
        if delay > 0:
            time.sleep(delay)


def run(*, docs: int, gap: float, burst_size: int, bursts: int, modes: Sequence[str] = ("inplace", "rename"),
        wrap: Sequence[str] = (), name: str = "freshness") -> dict[str, object]:
    results: dict[str, object] = {}
    for mode in modes:
        rename = mode == "rename"
        work = Path(tempfile.mkdtemp(prefix="feedsvc-bench-fresh-"))
        svc = None
        try:
            seeds = seeds_copy(corpus(OUT, 1000), work / "seeds")
            svc = Feedsvc(seeds, work / "state", name=f"{name}-{mode}", wrap=wrap)
            if svc.wait_ready(300) is None:
                raise RuntimeError("feedsvc not ready within 300 s")
            pin_self(CLIENT_CORE)
            rng = random.Random(7)
            poller = Poller(svc.port)
            poller.poll()
            lat = trickle(seeds, poller, n=docs, gap=gap, rename=rename, tag=mode[0], rng=rng)
            finite = [x for x in lat if x != float("inf")]
            log(f"freshness {mode}: {docs} docs {gap * 1000:.0f} ms apart: p50 {percentile(lat, 50) * 1000:.1f} ms, "
                f"p99 {percentile(lat, 99) * 1000:.1f} ms, max {max(lat) * 1000:.1f} ms, lost {len(lat) - len(finite)}")
            burst_times = []
            for b in range(bursts):
                t = burst(seeds, poller, n=burst_size, rename=rename, tag=f"{mode[0]}{b}", rng=rng)
                burst_times.append(t)
                log(f"freshness {mode}: burst {b + 1}/{bursts} of {burst_size}: last visible after {t * 1000:.0f} ms")
            time.sleep(0.3)
            health = Client(svc.port).get("/healthz")
            import json

            documents = json.loads(health[2]).get("documents")
            expected = 1000 + docs + burst_size * bursts
            results[mode] = {
                "docs": docs, "gap": gap, "p50": percentile(lat, 50), "p90": percentile(lat, 90),
                "p99": percentile(lat, 99), "max": max(lat), "min": min(lat), "lost": len(lat) - len(finite),
                "polls": poller.polls, "burst_size": burst_size, "bursts": burst_times,
                "burst_median": median(burst_times), "burst_spread": spread([x * 1000 for x in burst_times]),
                "documents_after": documents, "documents_expected": expected, "peak_rss_kb": svc.vm_hwm_kb(),
            }
        finally:
            unpin_self()
            if svc is not None:
                svc.stop()
            shutil.rmtree(work, ignore_errors=True)
    return results
