"""Profiles: py-spy attached to a running feedsvc (all threads, sampled at 100 Hz) during a cold start of
10k documents and during a freshness run; collapsed stacks are kept in bench/out/profiles/ and the top
hotspots are summarised by the deepest feedsvc/ frame (file:line) and by the leaf frame (self time)."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from common import CLIENT_CORE, OUT, ROOT, VENV_BIN, Feedsvc, Proc, log, pin_self, pinned, unpin_self
from freshness import Poller, burst, trickle
from gen import corpus, seeds_copy

PROFILES = OUT / "profiles"
PKG = str(ROOT / "feedsvc") + os.sep


class Spy(Proc):
    def __init__(self, pid: int, out: Path) -> None:
        self.out = out
        super().__init__(pinned([str(VENV_BIN / "py-spy"), "record", "--pid", str(pid), "--rate", "100",
                                 "--format", "raw", "--output", str(out), "--threads", "--subprocesses"], CLIENT_CORE),
                         log_name=f"py-spy-{out.stem}")
        time.sleep(0.3)

    def finish(self) -> None:
        """SIGINT makes py-spy write its output, then it exits."""
        if self.alive():
            os.kill(self.pid, signal.SIGINT)
            try:
                self.popen.wait(30)
            except subprocess.TimeoutExpired:
                pass
        self.stop()


# Leaf frames of threads that wait (event loop, inotify reader, idle pool workers): not work, dropped.
IDLE_LEAVES = {"Condition.wait", "Event.wait", "wait", "select", "_PollLikeSelector.select", "EpollSelector.select",
               "run_app", "run_forever", "_run_once", "_check_inotify_fd", "_worker", "_recv", "Connection._recv",
               "Connection._recv_bytes", "Connection._poll", "sleep", "Thread._wait_for_tstate_lock",
               "_wait_for_tstate_lock", "accept", "SimpleQueue.get", "Queue.get", "wait_for", "read_events",
               "Listener.accept", "recv_handle", "main", "serve_forever", "_serve_one", "poll", "_poll",
               "InotifyFD._check_inotify_fd", "DelayedQueue.get"}


def _frames(stack: str) -> list[tuple[str, str]]:
    """[(function, file:line)] root first, from one py-spy raw line's stack part."""
    out = []
    for frame in stack.split(";"):
        frame = frame.strip()
        if frame.endswith(")") and " (" in frame:
            func, _, loc = frame[:-1].rpartition(" (")
            out.append((func, loc))
        else:
            out.append((frame, ""))
    return out


def summarise(raw: Path, top: int = 15) -> dict[str, object]:
    own: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = idle = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [f for f in _frames(stack) if not f[0].startswith("thread (") and not f[0].startswith("process ")]
        if not frames or frames[-1][0] in IDLE_LEAVES:
            idle += n
            continue
        total += n
        func, loc = frames[-1]
        leaf[f"{func} ({_short(loc)})"] += n
        ours = [f for f in frames if _ours(f[1])]
        if ours:
            func, loc = ours[-1]
            own[f"{func} ({_short(loc)})"] += n
        seen = set()
        for func, loc in ours:
            if loc.startswith(PKG + "cli.py") or "feedsvc/cli.py" in loc:
                continue  # main/serve: on every stack of the main thread
            key = f"{func} ({_short(loc).rsplit(':', 1)[0]})"
            if key not in seen:
                seen.add(key)
                inclusive[key] += n
    pct = lambda c: [(k, v, 100.0 * v / total if total else 0.0) for k, v in c.most_common(top)]  # noqa: E731
    return {"samples": total, "idle_samples": idle, "deepest_feedsvc_frame": pct(own), "leaf": pct(leaf),
            "inclusive_feedsvc_functions": pct(inclusive), "raw": str(raw.relative_to(ROOT))}


def _ours(loc: str) -> bool:
    return "feedsvc/" in loc and "/site-packages/" not in loc and "bench/" not in loc


def _short(loc: str) -> str:
    for marker in ("/site-packages/", "/lib/python3"):
        if marker in loc:
            return loc.split(marker, 1)[1]
    return loc.replace(str(ROOT) + os.sep, "")


class _Session:
    """One profiled server in a scratch folder; close() stops the profiler and the server by PID."""

    def __init__(self) -> None:
        PROFILES.mkdir(parents=True, exist_ok=True)
        self.work = Path(tempfile.mkdtemp(prefix="feedsvc-bench-prof-"))
        self.svc: Feedsvc | None = None
        self.spy: Spy | None = None

    def start(self, n: int, name: str, **kwargs: object) -> Feedsvc:
        seeds = seeds_copy(corpus(OUT, n), self.work / "seeds")
        self.svc = Feedsvc(seeds, self.work / "state", name=f"profile-{name}", **kwargs)
        return self.svc

    def watch(self, label: str) -> Spy:
        assert self.svc is not None
        self.spy = Spy(self.svc.pid, PROFILES / f"{label}.txt")
        return self.spy

    def close(self) -> None:
        if self.spy is not None:
            self.spy.stop()
        if self.svc is not None:
            self.svc.stop()
        shutil.rmtree(self.work, ignore_errors=True)


@contextmanager
def _session() -> Iterator[_Session]:
    session = _Session()
    try:
        yield session
    finally:
        unpin_self()
        session.close()


def _profiled_start(session: _Session, n: int, label: str, cap: float, **kwargs: object) -> dict[str, object]:
    """py-spy from the server's spawn until /healthz says ready."""
    svc = session.start(n, label, **kwargs)
    spy = session.watch(label)
    ready = svc.wait_ready(cap)
    spy.finish()
    log(f"profile: {label} under py-spy ready in {ready} s")
    return {"ready_s": ready, **summarise(spy.out)}


def cold_start(n: int, cap: float) -> dict[str, object]:
    with _session() as session:
        return _profiled_start(session, n, f"cold-{n}", cap)


def warm_start(n: int) -> dict[str, object] | None:
    """py-spy during a warm restart at n documents, from the index kept by the scale section."""
    from scale import load_cache

    with _session() as session:
        if not load_cache(session.work / "state", n):
            return None
        return _profiled_start(session, n, f"warm-{n}", 120, core=None)


def freshness_run(docs: int, burst_size: int) -> dict[str, object]:
    with _session() as session:
        svc = session.start(1000, "freshness")
        if svc.wait_ready(300) is None:
            raise RuntimeError("not ready")
        spy = session.watch("freshness")
        pin_self(CLIENT_CORE)
        rng = random.Random(3)
        poller = Poller(svc.port)
        lat = trickle(svc.seeds, poller, n=docs, gap=0.05, rename=False, tag="f", rng=rng)
        b = burst(svc.seeds, poller, n=burst_size, rename=True, tag="g", rng=rng)
        spy.finish()
        lat.sort()
        log(f"profile: freshness under py-spy: p50 {lat[len(lat) // 2] * 1000:.1f} ms, burst {b * 1000:.0f} ms")
        return {"p50_s": lat[len(lat) // 2], "burst_s": b, **summarise(spy.out)}


def serving_run(duration: float) -> dict[str, object]:
    """py-spy on feedsvc while wrk sends conditional GETs (304), then gzip GETs (200)."""
    from serving import wrk

    with _session() as session:
        svc = session.start(1000, "serving")
        if svc.wait_ready(300) is None:
            raise RuntimeError("not ready")
        etag = Poller(svc.port).client.get("/feed.atom")[1]["etag"]
        url = f"http://127.0.0.1:{svc.port}/feed.atom"
        wrk(url, {"If-None-Match": etag}, 1, 32)
        spy = session.watch("serving")
        r304 = wrk(url, {"If-None-Match": etag}, duration, 32)
        r200 = wrk(url, {"Accept-Encoding": "gzip"}, duration, 32)
        spy.finish()
        log(f"profile: serving under py-spy: 304 {r304['rps']:.0f} req/s, 200 gzip {r200['rps']:.0f} req/s")
        return {"rps_304": r304["rps"], "rps_200_gzip": r200["rps"], **summarise(spy.out)}


def run(*, cold_docs: int, cold_cap: float, fresh_docs: int, burst_size: int,
        serve_seconds: float = 4.0) -> dict[str, object]:
    out = {"cold": cold_start(cold_docs, cold_cap), "freshness": freshness_run(fresh_docs, burst_size),
           "serving": serving_run(serve_seconds)}
    warm = warm_start(100000)
    if warm is not None:
        out["warm"] = warm
    return out
