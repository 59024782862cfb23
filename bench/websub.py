"""WebSub: from a document complete on disk to each subscriber's callback holding the POST.

The subscribers are one aiohttp process (bench/websubsub.py, core 1, 127.0.0.1, one port, a path per
subscriber). feedsvc (core 0, 1,000-document corpus, `--websub-allow-callbacks 127.0.0.0/8`) gets the
subscriptions as form POSTs to /websub for topic `BASE/feed.atom`, in batches of 20 (the hub keeps at
most 20 verifications pending per callback host); each carries its own X-Forwarded-For address
(`--trusted-proxies 127.0.0.1`) so that the per-client rate limit (30, then one per 2 s) does not turn
1,000 subscriptions into half an hour. Then probe documents are written one at a time; the latency of
a subscriber is the arrival of the POST holding the probe's token − the write complete
(CLOCK_MONOTONIC in both processes).

Two hub configurations:
* `one host` — the service as shipped. All subscribers share the callback host 127.0.0.1, so the
  hub's per-host caps apply to them together: 32 deliveries in flight, 200 subscriptions.
* `distinct hosts` — bench/hubserve.py starts the same service with the three per-host caps raised to
  the global ones (128 in flight), which is what subscribers on their own hosts would see.
"""

from __future__ import annotations

import http.client
import json
import random
import shutil
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

from common import BENCH, CLIENT_CORE, OUT, Feedsvc, Proc, free_port, log, median, percentile, pinned, spread, wait_port
from gen import PROBE_DATE, corpus, make_document, seeds_copy, write_probe

BATCH = 20


class Subscribers(Proc):
    def __init__(self) -> None:
        self.port = free_port()
        super().__init__(pinned([sys.executable, str(BENCH / "websubsub.py"), str(self.port)], CLIENT_CORE),
                         log_name="websub-subscribers")
        wait_port(self.port)

    def _req(self, method: str, path: str) -> dict[str, object]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path)
            body = conn.getresponse().read()
        finally:
            conn.close()
        return json.loads(body) if body.startswith(b"{") else {}

    def results(self) -> dict[str, object]:
        return self._req("GET", "/_results")

    def reset(self) -> None:
        self._req("POST", "/_reset")


def _subscriptions(svc: Feedsvc) -> float:
    return svc.metrics().get("feedsvc_websub_subscriptions", 0.0)


def subscribe(svc: Feedsvc, subs: Subscribers, callbacks: list[str], batch: int) -> dict[str, int]:
    """POST each subscription; wait until the hub has verified each batch. Returns answers by status."""
    topic = f"{svc.base}/feed.atom"
    answers: dict[str, int] = {}
    conn = http.client.HTTPConnection("127.0.0.1", svc.port, timeout=30)
    accepted = 0
    try:
        for start in range(0, len(callbacks), batch):
            for i, cb in enumerate(callbacks[start:start + batch], start):
                form = urllib.parse.urlencode({"hub.mode": "subscribe", "hub.topic": topic,
                                               "hub.callback": f"http://127.0.0.1:{subs.port}{cb}"})
                conn.request("POST", "/websub", body=form, headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "X-Forwarded-For": f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"})
                resp = conn.getresponse()
                resp.read()
                answers[str(resp.status)] = answers.get(str(resp.status), 0) + 1
                accepted += resp.status == 202
            deadline = time.perf_counter() + 30
            while _subscriptions(svc) < accepted and time.perf_counter() < deadline:
                time.sleep(0.05)
    finally:
        conn.close()
    answers["live_subscriptions"] = int(_subscriptions(svc))
    return answers


def one_config(name: str, *, hosts: str, live: int, dead: str | None, changes: int, seeds_src: Path,
               tag: str) -> dict[str, object]:
    work = Path(tempfile.mkdtemp(prefix="feedsvc-bench-websub-"))
    svc = subs = None
    try:
        seeds = seeds_copy(seeds_src, work / "seeds")
        subs = Subscribers()
        wrap = [sys.executable, str(BENCH / "hubserve.py")] if hosts == "distinct" else []
        svc = Feedsvc(seeds, work / "state", name=f"websub-{tag}", wrap=wrap,
                      extra=["--websub-allow-callbacks", "127.0.0.0/8", "--trusted-proxies", "127.0.0.1"])
        if svc.wait_ready(120) is None:
            raise RuntimeError("feedsvc not ready within 120 s")
        callbacks = [f"/cb/{n}" for n in range(live)]
        if dead:
            callbacks.insert(0, f"/{dead}/0")  # subscribed first: its deliveries are queued first
        t0 = time.perf_counter()
        answers = subscribe(svc, subs, callbacks, BATCH if hosts == "one" else 200)
        subscribe_s = time.perf_counter() - t0
        live_ok = answers.get("live_subscriptions", 0) - (1 if dead else 0)
        rng = random.Random(3)
        per_change = []
        for c in range(changes):
            token = f"ws{tag}x{c:02d}"
            done = write_probe(seeds, f"{token}.txt", make_document(rng, token, PROBE_DATE, paragraphs=6), rename=False)
            deadline = done + 15
            got: dict[str, float] = {}
            while time.perf_counter() < deadline:
                time.sleep(0.05)
                got = subs.results()["arrivals"].get(token, {})  # type: ignore[union-attr]
                if len(got) >= live_ok:
                    break
            lat = sorted(t - done for t in got.values())
            per_change.append({"received": len(lat), "expected": live_ok,
                               "p50_s": percentile(lat, 50) if lat else None,
                               "p99_s": percentile(lat, 99) if lat else None,
                               "last_s": lat[-1] if lat else None, "first_s": lat[0] if lat else None})
            time.sleep(0.5)
        r = subs.results()
        res: dict[str, object] = {
            "hosts": hosts, "live": live, "dead": dead, "subscribe_answers": answers,
            "subscribe_s": subscribe_s, "changes": per_change, "dead_posts": r.get("posts"),
        }
        full = [c for c in per_change if c["received"] == c["expected"] and c["last_s"] is not None]
        if full:
            for key in ("p50_s", "p99_s", "last_s"):
                xs = [float(c[key]) for c in full]  # type: ignore[arg-type]
                res[key] = median(xs)
                res[key.replace("_s", "_spread_ms")] = spread([x * 1000 for x in xs])
            res["last_worst_s"] = max(float(c["last_s"]) for c in full)  # type: ignore[arg-type]
        res["complete_changes"] = len(full)
        log(f"websub {name}: {live_ok} live subscribers ({answers}); per change p50 "
            f"{(res.get('p50_s') or 0) * 1000:.1f} ms, p99 {(res.get('p99_s') or 0) * 1000:.1f} ms, last "
            f"{(res.get('last_s') or 0) * 1000:.1f} ms (medians of {len(full)}/{changes} complete changes)")
        return res
    finally:
        if svc is not None:
            svc.stop()
        if subs is not None:
            subs.stop()
        shutil.rmtree(work, ignore_errors=True)


CONFIGS = [  # (name, hosts, live, dead)
    ("1 subscriber", "one", 1, None),
    ("100 subscribers, one host", "one", 100, None),
    ("100 + 1 hanging, one host", "one", 100, "hang"),
    ("100 + 1 answering 500, one host", "one", 100, "err"),
    ("1,000 asked, one host", "one", 1000, None),
    ("100 subscribers, distinct hosts", "distinct", 100, None),
    ("1,000 subscribers, distinct hosts", "distinct", 1000, None),
    ("1,000 + 1 hanging, distinct hosts", "distinct", 1000, "hang"),
]


def run(*, changes: int, rounds: int, configs: list[tuple[str, str, int, str | None]] | None = None,
        docs: int = 1000) -> dict[str, object]:
    src = corpus(OUT, docs)
    chosen = configs or CONFIGS
    out: dict[str, object] = {"docs": docs, "changes_per_round": changes, "rounds": rounds, "configs": {}}
    merged: dict[str, list[dict[str, object]]] = {c[0]: [] for c in chosen}
    for r in range(rounds):
        order = chosen if r % 2 == 0 else list(reversed(chosen))
        for name, hosts, live, dead in order:
            merged[name].append(one_config(name, hosts=hosts, live=live, dead=dead, changes=changes,
                                           seeds_src=src, tag=f"{r}{chosen.index((name, hosts, live, dead))}"))
    for name, hosts, live, dead in chosen:
        runs = merged[name]
        changes_all = [c for run in runs for c in run["changes"]]  # type: ignore[attr-defined]
        full = [c for c in changes_all if c["received"] == c["expected"] and c["last_s"] is not None]
        entry: dict[str, object] = {"hosts": hosts, "live": live, "dead": dead, "runs": runs,
                                    "subscribe_answers": runs[-1]["subscribe_answers"],
                                    "complete_changes": len(full), "changes": len(changes_all)}
        for key in ("p50_s", "p99_s", "last_s", "first_s"):
            xs = [float(c[key]) for c in full]  # type: ignore[arg-type]
            if xs:
                entry[key] = median(xs)
                entry[key.replace("_s", "_spread_ms")] = spread([x * 1000 for x in xs])
                entry[key.replace("_s", "_worst_s")] = max(xs)
        entry["received_min"] = min((int(c["received"]) for c in changes_all), default=0)  # type: ignore[arg-type]
        entry["expected"] = changes_all[0]["expected"] if changes_all else 0
        out["configs"][name] = entry  # type: ignore[index]
    return out
