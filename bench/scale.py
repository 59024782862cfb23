"""Scale: cold start (empty index) and warm restart (index present, folder unchanged) until /healthz is
ready, render time per feed, the time to publish one change, and peak RSS, at 1k/10k/100k documents."""

from __future__ import annotations

import random
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from common import CLIENT_CORE, OUT, Feedsvc, log, median, pin_self, spread, unpin_self
from freshness import Poller
from gen import GEN_VERSION, PROBE_DATE, corpus, make_document, seeds_copy, write_probe

# Peaks are read this long after ready, so that anything a start does after ready is counted.
WARM_UP_S = 2.0
# Cold starts (up to 10,000 documents) and warm restarts timed per size; the median is reported.
COLD_REPEATS = 3


def _render_stats(svc: Feedsvc) -> tuple[float, float]:
    m = svc.metrics()
    return m.get("feedsvc_render_seconds_sum", 0.0), m.get("feedsvc_render_seconds_count", 0.0)


def _schema_version() -> int:
    from feedsvc.store.index import SCHEMA_VERSION

    return SCHEMA_VERSION


def _cache_dir(n: int) -> Path:
    return OUT / f"index-cache-{n}"


def save_cache(state: Path, n: int) -> None:
    """Keep the index of a completed cold start so later runs can measure a warm restart at this size."""
    dst = _cache_dir(n)
    shutil.rmtree(dst, ignore_errors=True)
    dst.mkdir(parents=True)
    for f in state.glob("index.sqlite3*"):
        shutil.copy2(f, dst / f.name)
    (dst / "marker").write_text(f"{GEN_VERSION} {n}")


def load_cache(state: Path, n: int) -> bool:
    src = _cache_dir(n)
    if not (src / "marker").exists() or (src / "marker").read_text() != f"{GEN_VERSION} {n}":
        return False
    try:
        db = sqlite3.connect(src / "index.sqlite3")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        db.close()
    except sqlite3.Error:
        return False
    if version != _schema_version():
        return False  # the index layout changed since: a warm start would be a cold one
    state.mkdir(parents=True, exist_ok=True)
    for f in src.glob("index.sqlite3*"):
        shutil.copy2(f, state / f.name)
    return True


def changes(svc: Feedsvc, seeds: Path, *, count: int, tag: str) -> list[float]:
    """Write one document (in place) at a time; seconds until /feed.atom contains it."""
    rng = random.Random(11)
    poller = Poller(svc.port)
    poller.poll()
    out = []
    pin_self(CLIENT_CORE)
    try:
        for i in range(count):
            token = f"c{tag}{i:03d}"
            done = write_probe(seeds, f"{token}.txt", make_document(rng, token, PROBE_DATE, paragraphs=6),
                               rename=False)
            out.append(poller.until_seen(token.encode(), done, give_up=30))
            time.sleep(0.2)
    finally:
        unpin_self()
        poller.client.close()
    return out


def _timed_starts(seeds: Path, states: Sequence[Path], name: str, cap: float, *, scratch: bool) -> list[float]:
    """Seconds from spawn to ready of one start per state folder, each stopped once ready;
    `scratch` folders are removed after their start."""
    timings: list[float] = []
    for i, state in enumerate(states):
        probe = Feedsvc(seeds, state, name=f"{name}-{i}", core=None)
        try:
            took = probe.wait_ready(cap)
        finally:
            probe.stop()
        if scratch:
            shutil.rmtree(state, ignore_errors=True)
        if took is not None:
            timings.append(took)
    return timings


def _record_peaks(svc: Feedsvc, res: dict[str, object], kind: str) -> None:
    """The server's VmHWM and the tree's sampled peaks (RSS and PSS summed) under `kind`_..."""
    res[f"{kind}_peak_rss_kb"] = svc.vm_hwm_kb()
    svc.sample_tree()
    res[f"{kind}_peak_tree_kb"] = svc.peak_tree_kb
    res[f"{kind}_peak_tree_pss_kb"] = svc.peak_tree_pss_kb


def one_size(n: int, *, cold_cap: float, warm_cap: float, change_count: int) -> dict[str, object]:
    res: dict[str, object] = {"documents": n}
    work = Path(tempfile.mkdtemp(prefix=f"feedsvc-bench-scale{n}-"))
    try:
        seeds = seeds_copy(corpus(OUT, n), work / "seeds")
        state = work / "state"
        # -- cold ------------------------------------------------------------------------
        # Up to 10k, extra timed cold starts first (one cold start moves ±15% on these machines);
        # the last one also measures memory, so the sampler does not weigh on the others.
        extra = [work / f"state-{i}" for i in range(COLD_REPEATS - 1 if n <= 10_000 else 0)]
        timings = _timed_starts(seeds, extra, f"scale-{n}-cold", cold_cap, scratch=True)
        svc = Feedsvc(seeds, state, name=f"scale-{n}-cold", core=None)
        svc.start_sampler(every=0.25)  # reading smaps_rollup costs ~1 ms a process
        try:
            ready = svc.wait_ready(cold_cap)
            res["cold_listening_s"] = svc.listening_s
            if ready is not None:
                time.sleep(WARM_UP_S)
            _record_peaks(svc, res, "cold")
            if ready is None:
                res["cold_s"] = None
                res["cold_timed_out_after_s"] = cold_cap
                log(f"scale {n}: cold start not ready after {cold_cap:.0f} s (cap); stopping it")
            else:
                timings.append(ready)
                res["cold_runs_s"] = timings
                res["cold_s"] = median(timings)
                res["cold_spread_s"] = spread(timings)
                res["cold_documents"] = svc.health.get("documents")
                s, c = _render_stats(svc)
                res["cold_render_mean_s"] = s / c if c else None
                log(f"scale {n}: cold start ready in {ready:.2f} s (median of {len(timings)}: "
                    f"{res['cold_s']:.2f} s) ({res['cold_documents']} documents), "
                    f"peak RSS {res['cold_peak_rss_kb'] // 1024} MiB, process tree PSS "
                    f"{svc.peak_tree_pss_kb // 1024} MiB (RSS summed {svc.peak_tree_kb // 1024} MiB)")
        finally:
            svc.stop()
        if res["cold_s"] is not None:
            save_cache(state, n)
        else:
            shutil.rmtree(state, ignore_errors=True)
            if not load_cache(state, n):
                res["warm_s"] = None
                res["warm_note"] = "no index: the cold start did not finish and no cached index of this size exists"
                return res
            res["warm_note"] = "index from an earlier completed cold start (bench/out/index-cache)"
        # -- warm ------------------------------------------------------------------------
        # Each clean stop leaves the index as it was, so every start here is a warm restart.
        timings = _timed_starts(seeds, [state] * (COLD_REPEATS - 1), f"scale-{n}-warm", warm_cap, scratch=False)
        svc = Feedsvc(seeds, state, name=f"scale-{n}-warm", core=None)
        svc.start_sampler(every=0.25)
        try:
            ready = svc.wait_ready(warm_cap)
            res["warm_listening_s"] = svc.listening_s
            if ready is None:
                res["warm_s"] = None
                log(f"scale {n}: warm restart not ready after {warm_cap:.0f} s")
                return res
            timings.append(ready)
            res["warm_runs_s"] = timings
            res["warm_s"] = median(timings)
            res["warm_spread_s"] = spread(timings)
            s0, c0 = _render_stats(svc)
            res["warm_render_mean_s"] = s0 / c0 if c0 else None
            log(f"scale {n}: warm restart ready in {ready:.2f} s (median of {len(timings)}: {res['warm_s']:.2f} s)")
            lat = changes(svc, seeds, count=change_count, tag=str(n))
            s1, c1 = _render_stats(svc)
            res["change_s"] = lat
            res["change_max_s"] = max(lat)
            res["change_median_s"] = median(lat)
            res["change_spread_ms"] = spread([x * 1000 for x in lat])
            res["change_render_mean_s"] = (s1 - s0) / (c1 - c0) if c1 > c0 else None
            _record_peaks(svc, res, "warm")
            log(f"scale {n}: one change visible after median {res['change_median_s'] * 1000:.1f} ms "
                f"({res['change_spread_ms']} ms; slowest {max(lat) * 1000:.0f} ms); render mean {(res['change_render_mean_s'] or 0) * 1000:.1f} ms")
        finally:
            svc.stop()
        return res
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(*, sizes: Sequence[int], cold_cap: float, warm_cap: float, change_count: int,
        cap_note: float | None = None) -> dict[str, object]:
    out: dict[str, object] = {"cold_cap_s": cold_cap}
    for n in sizes:
        out[str(n)] = one_size(n, cold_cap=cold_cap, warm_cap=warm_cap, change_count=change_count)
    return out
