"""Peers: Hugo, measured live on the same generated corpus, alternated with feedsvc in paired rounds.

Each corpus document becomes a Hugo page (bench/out/hugo-N/content/posts/*.md): TOML front matter
(title, date, publication and authors as taxonomies) and the rest of the document as the Markdown body.
Per size and round, in alternating order:
* Hugo full build: `hugo` (every page, section, taxonomy and term page, RSS, sitemap) into an empty
  destination, spawn to exit;
* Hugo RSS-only build: the same content with `disableKinds` for everything but home and pages,
  `[outputs] home = ["RSS"]`, pages `_build.render = "link"` (in lists, never rendered), rssLimit 50;
* feedsvc cold start: spawn to /healthz 200 on an empty state folder (its feeds are rendered by then).
Peak RSS of each Hugo build is its VmHWM, read every 5 ms while it runs. Then edit latency: `hugo server`
(in memory, default fast render) and feedsvc (running, edits after ready), each in turn: a new document dated newest is
written, the poller fetches `/index.xml` (Hugo) or `/feed.atom` (feedsvc, If-None-Match) every 2 ms
until it holds the document's token. Servers and the poller are not pinned (Hugo builds on all
cores, and so do feedsvc's parser processes).
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from common import OUT, Client, Feedsvc, Proc, free_port, log, median, spread, vm_hwm_kb
from freshness import Poller
from gen import GEN_VERSION, PROBE_DATE, corpus, make_document, seeds_copy, write_probe

CONFIG_COMMON = """baseURL = "http://127.0.0.1/"
languageCode = "uk"
title = "feedsvc bench"
rssLimit = 50
disableHugoGeneratorInject = true
"""
TAXONOMIES = """[taxonomies]
publication = "publications"
author = "authors"
"""
CONFIG_FULL = CONFIG_COMMON + TAXONOMIES
CONFIG_RSS = CONFIG_COMMON + """disableKinds = ["section", "taxonomy", "term", "sitemap", "robotsTXT", "404"]
""" + TAXONOMIES + """[outputs]
home = ["RSS"]
page = []
[[cascade]]
[cascade._build]
render = "link"
list = "always"
[cascade._target]
kind = "page"
"""
LAYOUTS = {
    "_default/baseof.html": '<!doctype html><html lang="uk"><head><meta charset="utf-8"><title>{{ .Title }}</title>'
                            '{{ with .OutputFormats.Get "rss" }}<link rel="alternate" type="application/rss+xml" '
                            'href="{{ .Permalink }}">{{ end }}</head><body>{{ block "main" . }}{{ end }}</body></html>\n',
    "_default/single.html": '{{ define "main" }}<article><h1>{{ .Title }}</h1><p>{{ .Date.Format "2006-01-02" }} · '
                            '{{ delimit (.Params.publications) ", " }} · {{ delimit (.Params.authors) ", " }}</p>'
                            '{{ .Content }}</article>{{ end }}\n',
    "_default/list.html": '{{ define "main" }}<h1>{{ .Title }}</h1><ul>{{ range (.Paginate .Pages).Pages }}'
                          '<li><a href="{{ .RelPermalink }}">{{ .Title }}</a> {{ .Date.Format "2006-01-02" }}</li>'
                          '{{ end }}</ul>{{ end }}\n',
    "index.html": '{{ define "main" }}<ul>{{ range first 20 .Site.RegularPages }}<li><a href="{{ .RelPermalink }}">'
                  '{{ .Title }}</a></li>{{ end }}</ul>{{ end }}\n',
}


def hugo_version() -> str:
    try:
        return subprocess.run(["hugo", "version"], capture_output=True, text=True, timeout=10).stdout.strip()
    except OSError:
        return "not installed"


def _toml(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_hugo(text: str, stamp: str) -> str:
    """A corpus document as a Hugo page: front matter from its first lines, the rest as the body."""
    parts = text.strip().split("\n\n")
    source, _, _date = parts[0].partition(".- ")
    authors = [a.strip() for a in parts[1].split(",") if a.strip()]
    titles = [p[3:] for p in parts[2:4] if p.startswith("## ")]
    body = parts[2 + len(titles):]
    fm = (f"+++\ntitle = {_toml(titles[0] if titles else source)}\ndate = {stamp}\n"
          f"publications = [{_toml(source)}]\nauthors = [{', '.join(_toml(a) for a in authors)}]\n+++\n\n")
    return fm + "".join(f"## {t}\n\n" for t in titles[1:]) + "\n\n".join(body) + "\n"


def _stamp(date: str, i: int) -> str:
    d, m, y = date.split(".")
    return f"{y}-{m}-{d}T{(i // 3600) % 24:02d}:{(i // 60) % 60:02d}:{i % 60:02d}Z"


def site(n: int) -> Path:
    """bench/out/hugo-N: the corpus of N as a Hugo site, generated once."""
    root = OUT / f"hugo-{n}"
    marker = root / ".generated"
    if marker.exists() and marker.read_text() == f"{GEN_VERSION} {n} 3":
        return root
    shutil.rmtree(root, ignore_errors=True)
    posts = root / "content" / "posts"
    posts.mkdir(parents=True)
    src = corpus(OUT, n)
    for i, f in enumerate(sorted(src.glob("*.txt"))):
        text = f.read_text(encoding="utf-8")
        date = text.split("\n", 1)[0].rpartition("- ")[2].strip()
        (posts / f"{f.stem}.md").write_text(to_hugo(text, _stamp(date, i)), encoding="utf-8")
    for rel, body in LAYOUTS.items():
        (root / "layouts" / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / "layouts" / rel).write_text(body)
    (root / "config-full.toml").write_text(CONFIG_FULL)
    (root / "config-rss.toml").write_text(CONFIG_RSS)
    marker.write_text(f"{GEN_VERSION} {n} 3")
    return root



def hugo_build(root: Path, config: str, dest: Path) -> tuple[float, int, int]:
    """(seconds spawn to exit, peak RSS in KiB, files written).

    The peak is Hugo's VmHWM read every 5 ms while it runs (ru_maxrss of a child would carry over the
    high-water mark of the forked copy of this process)."""
    shutil.rmtree(dest, ignore_errors=True)
    t0 = time.perf_counter()
    p = subprocess.Popen(["hugo", "--source", str(root), "--config", str(root / config), "--destination", str(dest),
                          "--quiet", "--noBuildLock"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL, start_new_session=True)
    peak = 0
    while p.poll() is None:
        peak = max(peak, vm_hwm_kb(p.pid) or 0)
        time.sleep(0.005)
    took = time.perf_counter() - t0
    err = p.stderr.read().decode(errors="replace") if p.stderr else ""
    if p.returncode != 0:
        raise RuntimeError(f"hugo --config {config} failed ({p.returncode}): {err[-1500:]}")
    files = sum(len(fs) for _, _, fs in os.walk(dest))
    return took, peak, files


def feedsvc_cold(seeds: Path, work: Path, name: str, cap: float) -> tuple[float, int | None]:
    state = work / f"state-{name}"
    svc = Feedsvc(seeds, state, name=name, core=None)
    try:
        took = svc.wait_ready(cap)
        if took is None:
            raise RuntimeError(f"feedsvc cold start not ready after {cap:.0f} s")
        return took, svc.vm_hwm_kb()
    finally:
        svc.stop()
        shutil.rmtree(state, ignore_errors=True)


def hugo_edits(root: Path, work: Path, *, edits: int, tag: str, give_up: float) -> tuple[list[float], float]:
    """`hugo server` on a copy of the site; (edit → index.xml latencies, seconds until it served)."""
    live = work / f"hugo-live-{tag}"
    shutil.copytree(root, live, symlinks=True)
    port = free_port()
    proc = Proc(["hugo", "server", "--source", str(live), "--config", str(live / "config-full.toml"),
                 "--bind", "127.0.0.1", "--port", str(port), "--baseURL", f"http://127.0.0.1:{port}/",
                 "--appendPort=false", "--noBuildLock", "--disableLiveReload"], log_name=f"hugo-server-{tag}")
    client = Client(port, timeout=30)
    lat: list[float] = []
    try:
        deadline = time.perf_counter() + 600
        ready = None
        while time.perf_counter() < deadline:
            if not proc.alive():
                raise RuntimeError(f"hugo server exited; see {proc.log_path}")
            try:
                status, _, _ = client.get("/index.xml")
                if status == 200:
                    ready = time.perf_counter() - proc.started
                    break
            except OSError:
                pass
            time.sleep(0.05)
        if ready is None:
            raise RuntimeError("hugo server did not serve /index.xml")
        time.sleep(1.0)
        rng = random.Random(21)
        posts = live / "content" / "posts"

        poller = Poller(port, "/index.xml", timeout=30)  # a rebuild at 100k takes seconds
        poller.poll()
        for i in range(edits):
            token = f"h{tag}x{i:02d}"
            text = to_hugo(make_document(rng, token, PROBE_DATE, paragraphs=6), f"2026-11-27T12:{i:02d}:00Z")
            done = write_probe(posts, f"{token}.md", text, rename=False)
            lat.append(poller.until_seen(token.encode(), done, give_up))
            time.sleep(0.5)
        poller.client.close()
        return lat, ready
    finally:
        client.close()
        proc.stop()
        shutil.rmtree(live, ignore_errors=True)


def feedsvc_edits(seeds: Path, work: Path, *, edits: int, tag: str, give_up: float) -> list[float]:
    svc = Feedsvc(seeds, work / f"state-edit-{tag}", name=f"peers-feedsvc-{tag}", core=None)
    try:
        if svc.wait_ready(300) is None:
            raise RuntimeError("feedsvc not ready within 300 s")
        time.sleep(1.0)
        poller = Poller(svc.port)
        poller.poll()
        rng = random.Random(22)

        lat = []
        for i in range(edits):
            token = f"q{tag}x{i:02d}"
            done = write_probe(seeds, f"{token}.txt", make_document(rng, token, PROBE_DATE, paragraphs=6), rename=False)
            lat.append(poller.until_seen(token.encode(), done, give_up))
            time.sleep(0.5)
        poller.client.close()
        return lat
    finally:
        svc.stop()
        shutil.rmtree(work / f"state-edit-{tag}", ignore_errors=True)


def _ratio(a: list[float], b: list[float]) -> dict[str, object]:
    r = [x / y for x, y in zip(a, b, strict=False) if y]
    return {"median": median(r), "spread": spread(r), "pairs": len(r)} if r else {}


def one_size(n: int, *, rounds: int, edit_rounds: int, edits: int, cold_cap: float) -> dict[str, object]:
    root = site(n)
    work = Path(tempfile.mkdtemp(prefix=f"feedsvc-bench-peers{n}-"))
    res: dict[str, object] = {"documents": n, "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    try:
        seeds = seeds_copy(corpus(OUT, n), work / "seeds")
        full, rss, cold = [], [], []
        full_kb, rss_kb, cold_kb = [], [], []
        files: dict[str, int] = {}
        for r in range(rounds):
            steps = ["full", "rss", "feedsvc"]
            if r % 2:
                steps.reverse()
            for step in steps:
                if step == "feedsvc":
                    t, kb = feedsvc_cold(seeds, work, f"peers-{n}-cold-{r}", cold_cap)
                    cold.append(t)
                    if kb:
                        cold_kb.append(kb)
                else:
                    t, kb, nfiles = hugo_build(root, f"config-{step}.toml", work / f"public-{step}")
                    (full if step == "full" else rss).append(t)
                    (full_kb if step == "full" else rss_kb).append(kb)
                    files[step] = nfiles
            log(f"peers {n} round {r + 1}: hugo full {full[-1]:.2f} s, hugo RSS-only {rss[-1]:.2f} s, "
                f"feedsvc cold start {cold[-1]:.2f} s")
        res.update({
            "hugo_full_s": median(full), "hugo_full_spread_s": spread(full), "hugo_full_runs_s": full,
            "hugo_rss_s": median(rss), "hugo_rss_spread_s": spread(rss), "hugo_rss_runs_s": rss,
            "feedsvc_cold_s": median(cold), "feedsvc_cold_spread_s": spread(cold), "feedsvc_cold_runs_s": cold,
            "hugo_full_peak_kb": max(full_kb), "hugo_rss_peak_kb": max(rss_kb),
            "feedsvc_cold_peak_kb": max(cold_kb) if cold_kb else None, "hugo_files": files,
            "ratio_cold_vs_hugo_rss": _ratio(cold, rss), "ratio_cold_vs_hugo_full": _ratio(cold, full),
        })
        hugo_lat: list[float] = []
        feed_lat: list[float] = []
        hugo_med, feed_med, hugo_ready = [], [], []
        for r in range(edit_rounds):
            order = ("hugo", "feedsvc") if r % 2 == 0 else ("feedsvc", "hugo")
            for who in order:
                if who == "hugo":
                    lat, ready = hugo_edits(root, work, edits=edits, tag=f"{n}r{r}", give_up=60)
                    hugo_lat += lat
                    hugo_med.append(median(lat))
                    hugo_ready.append(ready)
                else:
                    lat = feedsvc_edits(seeds, work, edits=edits, tag=f"{n}r{r}", give_up=30)
                    feed_lat += lat
                    feed_med.append(median(lat))
            log(f"peers {n} edits round {r + 1}: hugo server median {hugo_med[-1] * 1000:.0f} ms, "
                f"feedsvc median {feed_med[-1] * 1000:.1f} ms")
        res.update({
            "hugo_edit_median_s": median(hugo_lat), "hugo_edit_max_s": max(hugo_lat),
            "hugo_edit_spread_ms": spread([x * 1000 for x in hugo_lat]), "hugo_server_ready_s": median(hugo_ready),
            "feedsvc_edit_median_s": median(feed_lat), "feedsvc_edit_max_s": max(feed_lat),
            "feedsvc_edit_spread_ms": spread([x * 1000 for x in feed_lat]),
            "ratio_edit": _ratio(feed_med, hugo_med), "edits": len(hugo_lat),
        })
        return res
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(*, sizes: list[int], rounds: int, edit_rounds: int, edits: int, cold_cap: float) -> dict[str, object]:
    out: dict[str, object] = {"hugo_version": hugo_version()}
    if not shutil.which("hugo"):
        raise RuntimeError("hugo is not installed (.ci/bench-deps installs it)")
    for n in sizes:
        big = n >= 100_000  # minutes per Hugo build and per hugo server start: fewer rounds
        out[str(n)] = one_size(n, rounds=min(rounds, 2) if big else rounds, edit_rounds=1 if big else edit_rounds,
                               edits=min(edits, 3) if big else edits, cold_cap=max(cold_cap, 400.0) if big else cold_cap)
    return out
