"""Serving: wrk against feedsvc, a bare aiohttp handler (the framework's ceiling), nginx (the physical
reference) and the shipped edge (docs/edge/nginx.conf, unchanged, caching in front of feedsvc), all
serving the same /feed.atom bytes; servers on core 0, wrk on core 1. Then the edge's freshness: probe
documents written into feedsvc's folder, polled through the edge until they show.

The feedsvc/bare pair is alternated in short rounds with the order flipped each round, and each side's
best run is compared (two identical servers measured back to back differ by up to ~12% here).
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from email.utils import parsedate_to_datetime
from pathlib import Path

from common import (
    BENCH,
    CLIENT_CORE,
    OUT,
    SERVER_CORE,
    Client,
    Feedsvc,
    Proc,
    free_port,
    log,
    median,
    percentile,
    pinned,
    spread,
    wait_port,
)
from gen import PROBE_DATE, corpus, make_document, seeds_copy, write_probe

SCENARIOS = {
    "200 plain": {},
    "200 gzip": {"Accept-Encoding": "gzip"},
    "304 If-None-Match": None,  # filled per server with its own ETag
}
COPY_HEADERS = ("Content-Type", "Last-Modified", "Vary", "Cache-Control", "X-Content-Type-Options",
                "Access-Control-Allow-Origin", "ETag", "Content-Encoding")

_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def _seconds(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not m:
        raise ValueError(text)
    return float(m.group(1)) * _UNITS[m.group(2)]


def wrk(url: str, headers: dict[str, str], duration: float, connections: int) -> dict[str, float]:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{duration:g}s", "--latency", "--timeout", "2s"]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    out = subprocess.run(pinned([*cmd, url], CLIENT_CORE), capture_output=True, text=True,
                         timeout=duration + 30).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _seconds(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = _seconds(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {"rps": rps, "p50": p50, "p99": p99, "non2xx3xx": int(bad.group(1)) if bad else 0,
            "socket_errors": sum(map(int, errors.groups())) if errors else 0}


def capture(port: int, folder: Path) -> dict[str, object]:
    """Fetch /feed.atom plain and gzip from feedsvc and keep bytes and headers for the references."""
    client = Client(port)
    try:
        s1, h1, body = client.get("/feed.atom")
        s2, h2, gz = client.get("/feed.atom", {"Accept-Encoding": "gzip"})
    finally:
        client.close()
    assert s1 == 200 and s2 == 200 and h2.get("content-encoding") == "gzip", (s1, s2, h2)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "body").write_bytes(body)
    (folder / "body.gz").write_bytes(gz)

    def pick(h: dict[str, str]) -> dict[str, str]:
        return {k: h[k.lower()] for k in COPY_HEADERS if k.lower() in h}

    meta = {"plain": pick(h1), "gzip": pick(h2)}
    (folder / "headers.json").write_text(json.dumps(meta, indent=1))
    return {"entries": body.count(b"<entry>") + body.count(b"<entry "), "bytes": len(body), "gzip_bytes": len(gz),
            "etag": h1["etag"], "last_modified": h1.get("last-modified"), "headers": meta}


NGINX_CONF = """
daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/cb; proxy_temp_path {tmp}/px; fastcgi_temp_path {tmp}/fc;
    uwsgi_temp_path {tmp}/uw; scgi_temp_path {tmp}/sc;
    keepalive_requests 1000000;
    sendfile on; tcp_nopush on;
    open_file_cache max=1000 inactive=60s; open_file_cache_valid 1s;  # as the edge has: like for like
    server {{
        listen 127.0.0.1:{port};
        root {tmp}/www;
        location = /feed.atom {{
            types {{ }}
            default_type "{ctype}";
            gzip_static on;
            gzip_vary on;
            add_header Cache-Control "{cache}";
            add_header X-Content-Type-Options nosniff;
            add_header Access-Control-Allow-Origin "*";
        }}
    }}
}}
"""


def start_nginx(data: Path, tmp: Path, meta: dict[str, dict[str, str]]) -> tuple[Proc, int]:
    port = free_port()
    www = tmp / "www"
    www.mkdir(parents=True)
    shutil.copy(data / "body", www / "feed.atom")
    shutil.copy(data / "body.gz", www / "feed.atom.gz")
    lm = meta["plain"].get("Last-Modified")
    if lm:
        ts = parsedate_to_datetime(lm).timestamp()
        for name in ("feed.atom", "feed.atom.gz"):
            os.utime(www / name, (ts, ts))
    for p in (tmp.parent, tmp, www, *www.iterdir()):
        os.chmod(p, 0o755 if p.is_dir() else 0o644)  # nginx workers run as nobody
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp, port=port, ctype=meta["plain"]["Content-Type"],
                                      cache=meta["plain"].get("Cache-Control", "public, max-age=300")))
    proc = Proc(pinned(["nginx", "-e", str(tmp / "error.log"), "-p", str(tmp), "-c", str(conf)], SERVER_CORE),
                log_name="nginx")
    wait_port(port)
    return proc, port


EDGE = BENCH.parent / "docs" / "edge"
EDGE_PROBES = 30


def start_edge(upstream: int, port: int, tmp: Path) -> Proc:
    """nginx with the shipped edge config, its listen.conf and upstream.conf written for loopback."""
    tmp.mkdir(parents=True)
    os.chmod(tmp, 0o755)
    shutil.copy(EDGE / "nginx.conf", tmp / "nginx.conf")
    (tmp / "listen.conf").write_text(f"listen 127.0.0.1:{port};\n")
    (tmp / "upstream.conf").write_text(f"upstream feedsvc {{\n    server 127.0.0.1:{upstream};\n    keepalive 32;\n}}\n")
    proc = Proc(pinned(["nginx", "-p", f"{tmp}/", "-c", str(tmp / "nginx.conf"), "-e", str(tmp / "error.log"),
                        "-g", "daemon off;"], SERVER_CORE), log_name="edge")
    wait_port(port)
    return proc


def edge_freshness(seeds: Path, port: int) -> list[float]:
    """Seconds from a probe complete on disk to a body holding it through the edge (polled every 2 ms)."""
    from freshness import Poller

    rng = random.Random(18)
    poller = Poller(port)
    poller.poll()
    latencies = []
    for i in range(EDGE_PROBES):
        token = f"edgeprobe{i:03d}"
        done = write_probe(seeds, f"{token}.txt", make_document(rng, token, PROBE_DATE, paragraphs=4), rename=False)
        latencies.append(poller.until_seen(token.encode(), done, give_up=10))
        time.sleep(rng.uniform(0.05, 0.5))  # probes land anywhere in the edge's 1 s window
    poller.client.close()
    return latencies


def check(port: int, headers: dict[str, str], expect: int, body_len: int | None) -> None:
    client = Client(port)
    try:
        status, _, body = client.get("/feed.atom", headers)
    finally:
        client.close()
    if status != expect or (body_len is not None and len(body) != body_len):
        raise RuntimeError(f"port {port}: expected {expect} with {body_len} bytes, got {status} with {len(body)}")


def run(*, rounds: int, duration: float, connections: int) -> dict[str, object]:
    work = Path(tempfile.mkdtemp(prefix="feedsvc-bench-serving-"))
    procs: list[Proc] = []
    try:
        seeds = seeds_copy(corpus(OUT, 1000), work / "seeds")
        edge_port = free_port()  # known before feedsvc starts: it refreshes the edge's copy on a change
        svc = Feedsvc(seeds, work / "state", name="serving-feedsvc",
                      extra=["--edge-refresh", f"http://127.0.0.1:{edge_port}"])
        procs.append(svc)
        if svc.wait_ready(300) is None:
            raise RuntimeError("feedsvc not ready within 300 s")
        data = work / "bytes"
        feed = capture(svc.port, data)
        log(f"serving: /feed.atom has {feed['entries']} entries, {feed['bytes']} bytes, gzip {feed['gzip_bytes']}")
        bare_port = free_port()
        bare = Proc(pinned([sys.executable, str(BENCH / "bare.py"), "--port", str(bare_port), "--data", str(data)],
                           SERVER_CORE), log_name="serving-bare")
        procs.append(bare)
        wait_port(bare_port)
        nginx_tmp = work / "nginx"
        nginx, nginx_port = start_nginx(data, nginx_tmp, feed["headers"])  # type: ignore[arg-type]
        procs.append(nginx)
        status, nh, nbody = Client(nginx_port).get("/feed.atom")
        if status != 200 or nbody != (data / "body").read_bytes() or "etag" not in nh:
            raise RuntimeError(f"nginx answered {status} with {len(nbody)} bytes, headers {nh}")
        nginx_etag = nh["etag"]
        edge = start_edge(svc.port, edge_port, work / "edge")
        procs.append(edge)
        servers = {"feedsvc": svc.port, "bare": bare_port, "nginx": nginx_port, "edge": edge_port}
        etags = {"feedsvc": feed["etag"], "bare": feed["etag"], "nginx": nginx_etag, "edge": feed["etag"]}
        results: dict[str, dict[str, list[dict[str, float]]]] = {}
        for scenario, hdrs in SCENARIOS.items():
            per: dict[str, list[dict[str, float]]] = {name: [] for name in servers}
            for name, port in servers.items():
                h = dict(hdrs) if hdrs is not None else {"If-None-Match": etags[name]}
                expect = 304 if hdrs is None else 200
                size = None if expect == 304 else (feed["gzip_bytes"] if "Accept-Encoding" in h else feed["bytes"])
                check(port, h, expect, size)  # type: ignore[arg-type]
                wrk(f"http://127.0.0.1:{port}/feed.atom", h, 1, connections)  # warm-up, discarded
            for r in range(rounds):
                order = ["feedsvc", "bare"] if r % 2 == 0 else ["bare", "feedsvc"]
                for name in [*order, "nginx", "edge"]:
                    h = dict(hdrs) if hdrs is not None else {"If-None-Match": etags[name]}
                    res = wrk(f"http://127.0.0.1:{servers[name]}/feed.atom", h, duration, connections)
                    per[name].append(res)
                log(f"serving {scenario} round {r + 1}/{rounds}: " + ", ".join(
                    f"{n} {per[n][-1]['rps']:.0f} rps p99 {per[n][-1]['p99'] * 1000:.2f} ms" for n in servers))
            results[scenario] = per
        summary = {}
        for scenario, per in results.items():
            row = {}
            for name, runs in per.items():
                rps = [x["rps"] for x in runs]
                p99 = [x["p99"] for x in runs]
                row[name] = {"best_rps": max(rps), "median_rps": median(rps), "rps_spread": spread(rps),
                             "best_p99": min(p99), "median_p99": median(p99),
                             "p99_spread": spread([x * 1000 for x in p99]),
                             "errors": sum(x["socket_errors"] + x["non2xx3xx"] for x in runs)}
            row["ratio_rps_feedsvc_vs_bare"] = row["feedsvc"]["best_rps"] / row["bare"]["best_rps"]
            # Each round measures the two back to back, so its ratio is spared the machine's drift.
            row["paired_ratio_median"] = median([f["rps"] / b["rps"] for f, b in zip(per["feedsvc"], per["bare"])])
            row["ratio_p99_feedsvc_vs_bare"] = row["feedsvc"]["best_p99"] / row["bare"]["best_p99"]
            row["ratio_rps_feedsvc_vs_nginx"] = row["feedsvc"]["best_rps"] / row["nginx"]["best_rps"]
            row["ratio_rps_bare_vs_nginx"] = row["bare"]["best_rps"] / row["nginx"]["best_rps"]
            row["ratio_rps_edge_vs_nginx"] = row["edge"]["best_rps"] / row["nginx"]["best_rps"]
            row["paired_edge_vs_nginx"] = median([e["rps"] / n["rps"] for e, n in zip(per["edge"], per["nginx"])])
            summary[scenario] = row
        lat = edge_freshness(seeds, edge_port)
        edge_fresh = {"probes": len(lat), "p50_s": percentile(lat, 50), "p99_s": percentile(lat, 99),
                      "max_s": max(lat), "lost": sum(1 for x in lat if x == float("inf"))}
        log(f"serving: edge freshness p50 {edge_fresh['p50_s'] * 1000:.0f} ms, p99 {edge_fresh['p99_s'] * 1000:.0f} ms "
            f"over {len(lat)} probes")
        return {"feed": {k: v for k, v in feed.items() if k != "headers"}, "rounds": rounds, "duration": duration,
                "connections": connections, "summary": summary, "raw": results, "edge_freshness": edge_fresh}
    finally:
        for p in reversed(procs):
            p.stop()
        shutil.rmtree(work, ignore_errors=True)
