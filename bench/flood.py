"""Variant flood: 300 distinct large variants of /feed.atom requested concurrently while probe documents
are written, on a corpus of 520 real-size documents.

The server (core 0) serves bench/out/corpus-520. A load process (bench/floodload.py, core 1) runs
`concurrency` aiohttp clients requesting `/feed.atom?limit=L&page=P` (300 distinct (L, P), L 200..500)
in random order for `duration` seconds. Meanwhile this process writes a probe document every
`probe_gap` seconds and polls the default `/feed.atom` every 2 ms (If-None-Match) until each is
visible. The server's peak RSS is its VmHWM at the end of the flood; its current RSS (VmRSS) is read at
the end and again `after` seconds later (memory given back?). Fresh server each round; rounds are
repeated and reported as medians with spread.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import BENCH, CLIENT_CORE, OUT, Feedsvc, log, median, percentile, pin_self, pinned, spread, unpin_self
from freshness import Poller
from gen import PROBE_DATE, corpus, make_document, seeds_copy, write_probe

DOCS = 520


def variants(n: int = 300) -> list[str]:
    """n distinct large variants: every limit 200..500 on page 1, then second pages where they exist."""
    out = [f"/feed.atom?limit={limit}" for limit in range(200, 501)]  # 301 limits, page 1
    out = out[: n - 30] + [f"/feed.atom?limit={limit}&page=2" for limit in range(261, 291)]  # 2nd pages exist (<520)
    assert len(set(out)) == n
    return out


def _vm(pid: int, key: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def one_round(i: int, *, duration: float, concurrency: int, probe_gap: float, after: float) -> dict[str, object]:
    work = Path(tempfile.mkdtemp(prefix="feedsvc-bench-flood-"))
    svc = None
    try:
        seeds = seeds_copy(corpus(OUT, DOCS), work / "seeds")
        svc = Feedsvc(seeds, work / "state", name=f"flood-{i}")
        if svc.wait_ready(120) is None:
            raise RuntimeError("feedsvc not ready within 120 s")
        time.sleep(1.0)
        rss_before = _vm(svc.pid, "VmRSS")
        svc.start_sampler(every=0.25)
        paths = variants()
        load = subprocess.Popen(pinned([sys.executable, str(BENCH / "floodload.py"), str(svc.port), str(duration),
                                        str(concurrency), *paths], CLIENT_CORE),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        peak_rss_now = [0]
        sampling = [True]

        def sample() -> None:  # VmRSS every 100 ms (VmHWM is the kernel's own peak; this is the curve)
            while sampling[0]:
                v = _vm(svc.pid, "VmRSS") if svc else None
                if v:
                    peak_rss_now[0] = max(peak_rss_now[0], v)
                time.sleep(0.1)

        threading.Thread(target=sample, daemon=True).start()
        pin_self(CLIENT_CORE)
        lat: list[float] = []
        try:
            rng = random.Random(100 + i)
            poller = Poller(svc.port)
            poller.poll()
            time.sleep(1.0)  # let the flood build up
            end = time.perf_counter() + duration - 2.0
            n = 0
            while time.perf_counter() < end:
                token = f"f{i}x{n:04d}"
                n += 1
                done = write_probe(seeds, f"{token}.txt", make_document(rng, token, PROBE_DATE, paragraphs=6),
                                   rename=False)
                lat.append(poller.until_seen(token.encode(), done, give_up=10))
                time.sleep(max(0.0, probe_gap - (time.perf_counter() - done)))
            poller.client.close()
        finally:
            unpin_self()
        out, err = load.communicate(timeout=duration + 60)
        sampling[0] = False
        if load.returncode != 0:
            raise RuntimeError(f"load generator failed: {err[-2000:]}")
        answers = json.loads(out.strip().splitlines()[-1])
        hwm = svc.vm_hwm_kb()
        svc.sample_tree()
        rss_end = _vm(svc.pid, "VmRSS")
        time.sleep(after)
        rss_after = _vm(svc.pid, "VmRSS")
        alive = svc.alive()
        res = {
            "probes": len(lat), "fresh_p50_s": percentile(lat, 50), "fresh_p99_s": percentile(lat, 99),
            "fresh_max_s": max(lat) if lat else None, "lost": sum(1 for x in lat if x == float("inf")),
            "answers": answers, "peak_rss_kb": hwm, "peak_rss_sampled_kb": peak_rss_now[0],
            "peak_tree_pss_kb": svc.peak_tree_pss_kb, "peak_tree_kb": svc.peak_tree_kb,
            "rss_before_kb": rss_before, "rss_end_kb": rss_end, "rss_after_kb": rss_after, "alive": alive,
        }
        st = answers["statuses"]
        log(f"flood round {i + 1}: {st} (Retry-After on {answers['retry_after_on_503']} of the 503s), "
            f"errors {answers['errors']}; freshness p50 {res['fresh_p50_s'] * 1000:.1f} ms p99 "
            f"{res['fresh_p99_s'] * 1000:.1f} ms ({len(lat)} probes); peak RSS {hwm // 1024} MiB, "
            f"RSS at end {(rss_end or 0) // 1024} MiB, {after:.0f} s later {(rss_after or 0) // 1024} MiB")
        return res
    finally:
        if svc is not None:
            svc.stop()
        shutil.rmtree(work, ignore_errors=True)


def run(*, rounds: int, duration: float, concurrency: int = 64, probe_gap: float = 0.1,
        after: float = 10.0) -> dict[str, object]:
    runs = [one_round(i, duration=duration, concurrency=concurrency, probe_gap=probe_gap, after=after)
            for i in range(rounds)]

    def col(key: str) -> list[float]:
        return [float(r[key]) for r in runs if r.get(key) is not None]  # type: ignore[arg-type]

    ok = [r["answers"]["statuses"].get("200", 0) for r in runs]  # type: ignore[index]
    busy = [r["answers"]["statuses"].get("503", 0) for r in runs]  # type: ignore[index]
    return {
        "docs": DOCS, "variants": len(variants()), "duration_s": duration, "concurrency": concurrency,
        "probe_gap_s": probe_gap, "after_s": after, "rounds": runs,
        "peak_rss_kb_max": max(col("peak_rss_kb")), "peak_rss_kb_median": median(col("peak_rss_kb")),
        "peak_rss_spread_mib": spread([x / 1024 for x in col("peak_rss_kb")]),
        "fresh_p50_s": median(col("fresh_p50_s")), "fresh_p99_s": median(col("fresh_p99_s")),
        "fresh_p99_worst_s": max(col("fresh_p99_s")),
        "fresh_p99_spread_ms": spread([x * 1000 for x in col("fresh_p99_s")]),
        "ok_median": median(ok), "busy_median": median(busy), "ok_spread": spread(ok), "busy_spread": spread(busy),
        "rss_end_kb_median": median(col("rss_end_kb")), "rss_after_kb_median": median(col("rss_after_kb")),
        "rss_before_kb_median": median(col("rss_before_kb")),
    }
