"""Writes docs/BENCHMARKS.md from bench/out/results.json: self-describing, targets met or not."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from feedsvc.push.websub.limits import Limits

HUB = Limits()  # the hub's shipped bounds, named in the WebSub section's method

HUGO = ("Hugo (quoted from the issue, not measured in this run: run `--sections peers`): "
        "10k pages to RSS ~0.8 s, full site 3.5 s; `hugo server` edit → index.xml median 365 ms.")
# The last report before search landed (commit e5567858a8e1, 2026-11-27): cold starts to ready.
PREVIOUS_COLD = {"10000": 3.18, "100000": 42.10}


def _hugo(results: dict[str, Any]) -> str:
    """Hugo's figures as measured by the peers section, else the quoted ones."""
    pe = results.get("peers", {})
    p10 = pe.get("10000") or pe.get("1000")
    if not p10 or "hugo_rss_s" not in p10:
        return HUGO
    n = int(p10["documents"])
    edit = f"; `hugo server` edit → index.xml median {_ms(p10.get('hugo_edit_median_s'))}" if "hugo_edit_median_s" in p10 else ""
    return (f"Hugo (measured live, section 8, {pe.get('hugo_version', '').split(' ')[0]}): {n:,} pages to RSS only "
            f"{_s(p10['hugo_rss_s'])}, full site {_s(p10['hugo_full_s'])}{edit}.")


def _kmib(kb: Any) -> str:
    return "n/a" if kb is None else f"{kb / 1024:.0f} MiB"


def _ms(s: Any) -> str:
    return "n/a" if s is None else ("never" if s == float("inf") else f"{s * 1000:.1f} ms")


def _s(s: Any) -> str:
    return "n/a" if s is None else f"{s:.2f} s"


def _runs(r: dict[str, Any], kind: str) -> str:
    """" (median of N: min–max s)" when `kind` ("cold", "warm") was timed more than once."""
    runs = r.get(f"{kind}_runs_s") or ()
    return f" (median of {len(runs)}: {r[f'{kind}_spread_s']} s)" if len(runs) > 1 else ""


def _mib(kb: Any) -> str:
    return "n/a" if kb is None else f"{kb / 1024:.0f} MiB"


def _met(ok: bool | None) -> str:
    return "n/a" if ok is None else ("**met**" if ok else "**not met**")


def _not_measured(add: Callable[[str], None], section: dict[str, Any]) -> None:
    """What a section shows when it has no figures: its failure, or that it has not run."""
    if "error" in section:
        add(_meta(section) + " **failed:**")
        add("```\n" + section["error"][-1500:] + "\n```")
    else:
        add("_Not run yet._")


def _meta(d: dict[str, Any]) -> str:
    m = d.get("_meta", {})
    quick = " — **quick smoke run, not for comparison**" if m.get("quick") else ""
    return f"_Run {m.get('date', '?')}, commit {m.get('commit', '?')}, took {m.get('seconds', '?')} s{quick}._"


def write(results: dict[str, Any], path: Path) -> None:
    L: list[str] = []
    add = L.append
    targets: list[tuple[str, str, str, bool | None]] = []
    add("# Benchmarks")
    add("")
    add("Written by `make bench` (`bench/run.py`); do not edit by hand. Every figure that has a reference was "
        "measured side by side with it in the same run and is given as a ratio, because this machine is "
        "shared and noisy. Each section below says when and at which commit it was measured (sections can be "
        "re-run alone with `--sections`).")
    add("")

    # ---------------------------------------------------------------------------------- targets
    sv = results.get("serving", {})
    fr = results.get("freshness", {})
    sc = results.get("scale", {})
    if "summary" in sv:
        for scen in ("200 plain", "200 gzip", "304 If-None-Match"):
            row = sv["summary"].get(scen)
            if row:
                # Issue 18 judges by the median of the rounds' paired ratios (each round measures the
                # two back to back); best vs best, the rule of the issue before it, is shown beside it.
                r = row["paired_ratio_median"]
                targets.append((f"Serving {scen}: feedsvc ≥ 95% of bare aiohttp (req/s)",
                                f"{row['feedsvc']['best_rps']:.0f} vs {row['bare']['best_rps']:.0f} req/s",
                                f"median paired ratio {r:.1%}; best vs best "
                                f"{row['ratio_rps_feedsvc_vs_bare']:.1%}; "
                                f"p99 ×{row['ratio_p99_feedsvc_vs_bare']:.2f}", r >= 0.95))
        for scen in ("200 gzip", "304 If-None-Match"):
            row = sv["summary"].get(scen)
            if row and "edge" in row:
                r = row["paired_edge_vs_nginx"]
                targets.append((f"Edge {scen}: the shipped nginx edge ≥ 85% of nginx serving static files",
                                f"{row['edge']['best_rps']:.0f} vs {row['nginx']['best_rps']:.0f} req/s",
                                f"median paired ratio {r:.1%}; best vs best {row['ratio_rps_edge_vs_nginx']:.1%}",
                                r >= 0.85))
        ef = sv.get("edge_freshness")
        if ef:
            targets.append(("Edge: a change visible through the edge, p99 ≤ 1.5 s", _ms(ef["p99_s"]),
                            f"p50 {_ms(ef['p50_s'])}, {ef['probes']} probes (feedsvc refreshes the edge on a change)",
                            ef["p99_s"] <= 1.5))
    for mode in ("inplace", "rename"):
        f = fr.get(mode)
        if f:
            label = "in place" if mode == "inplace" else "temp file + rename"
            pe10 = results.get("peers", {}).get("10000", {})
            href = (f"Hugo server {_ms(pe10['hugo_edit_median_s'])} median at 10k (measured, section 8)"
                    if pe10.get("hugo_edit_median_s") else "Hugo 365 ms median (quoted)")
            targets.append((f"Freshness ({label}) p50 ≤ 50 ms", _ms(f["p50"]), href,
                            f["p50"] <= 0.050))
            targets.append((f"Freshness ({label}) p99 ≤ 50 ms", _ms(f["p99"]), "—", f["p99"] <= 0.050))
    s10 = sc.get("10000", {})
    s100 = sc.get("100000", {})
    s1 = sc.get("1000", {})
    if s10:
        c = s10.get("cold_s")
        pe10 = results.get("peers", {}).get("10000", {})
        href = (f"Hugo 10k → RSS only {_s(pe10['hugo_rss_s'])}, full {_s(pe10['hugo_full_s'])} (measured, section 8)"
                if pe10.get("hugo_rss_s") else "Hugo 10k → RSS ~0.8 s (quoted)")
        targets.append(("Cold start 10k ≤ 5 s", _s(c) if c is not None else
                        f"> {s10.get('cold_timed_out_after_s', 0):.0f} s (capped)",
                        href, c is not None and c <= 5))
        c1 = s1.get("cold_s")
        if s1:
            targets.append(("Cold start 1k < 0.5 s", _s(c1) if c1 is not None else "n/a", "spawn to /healthz 200",
                            c1 is not None and c1 < 0.5))
        w = s10.get("warm_s")
        targets.append(("Warm restart 10k ≤ 1 s", _s(w), "—", None if w is None else w <= 1))
    if s100:
        w = s100.get("warm_s")
        targets.append(("Warm restart 100k ≤ 5 s", _s(w), s100.get("warm_note", "—"), None if w is None else w <= 5))
        a, b = s1.get("change_median_s"), s100.get("change_median_s")
        if a and b:
            targets.append(("One change at 100k no slower than at 1k (median; ≤ 1.10× allowed for noise)",
                            f"{_ms(b)} vs {_ms(a)}", f"×{b / a:.2f} of 1k", b / a <= 1.10))
        server = [x for x in (s100.get("cold_peak_rss_kb"), s100.get("warm_peak_rss_kb")) if x]
        tree = [x for x in (s100.get("cold_peak_tree_pss_kb"), s100.get("warm_peak_tree_pss_kb")) if x]
        if server:
            note = "max of cold start and warm run, server process (VmHWM)"
            if s100.get("cold_s") is None:
                note = "cold start capped: peak so far; " + note
            targets.append(("Peak RSS at 100k ≤ 150 MB: the server", _mib(max(server)), note,
                            max(server) * 1024 <= 150e6))
        if tree:
            rss = max(x for x in (s100.get("cold_peak_tree_kb"), s100.get("warm_peak_tree_kb")) if x)
            targets.append(("Peak memory at 100k ≤ 300 MB: the server with its parser processes", _mib(max(tree)),
                            f"PSS summed, shared pages counted once (RSS summed: {_mib(rss)})",
                            max(tree) * 1024 <= 300e6))
        c = s100.get("cold_s")
        targets.append(("Cold start 100k (no target; must fit the 25-minute run)",
                        _s(c) if c is not None else f"> {s100.get('cold_timed_out_after_s', 0):.0f} s (capped, not met)",
                        "—", None))
    targets += _new_targets(results)
    add("## Targets")
    add("")
    fr_run = results.get("full_run")
    if fr_run:
        add(f"Last full `bench/run.py`: {fr_run['date']}, commit {fr_run['commit']}, {fr_run['seconds'] / 60:.1f} minutes "
            f"(budget {fr_run['budget_s'] / 60:.0f} minutes).")
        add("")
    add("| target | measured | reference / ratio | |")
    add("| --- | --- | --- | --- |")
    for name, fig, ref, ok in targets:
        add(f"| {name} | {fig} | {ref} | {_met(ok)} |")
    add("")

    # ---------------------------------------------------------------------------------- machine
    m = results.get("machine", {})
    add("## Machine")
    add("")
    add(f"- CPU: {m.get('cpu')} — {m.get('cores_usable')} usable cores ({m.get('cores_online')} online), "
        f"memory {m.get('memory')}, Linux {m.get('kernel')}")
    add(f"- Python {m.get('python')}, SQLite {m.get('sqlite')}")
    add("- " + ", ".join(f"{k} {v}" for k, v in m.get("packages", {}).items()))
    add("- " + ", ".join(f"{k}: {v}" for k, v in m.get("tools", {}).items()))
    add("")

    # ---------------------------------------------------------------------------------- method
    add("## Method")
    add("")
    add("- **Corpora** (`bench/gen.py`): documents in the shape of `seeds/000_*.txt` (source line with a date, "
        "authors, `## English title`, `## Ukrainian title`, Ukrainian summary ending with a URL, English "
        "paragraphs) from sentence templates: 80% bilingual, 10% English-only, 10% Ukrainian-only, 3 to 24 "
        "paragraphs (~4.5 KB mean), dated in 2025. Generated once into `bench/out/corpus-N/` and reused; each "
        "server gets a private folder of hard links to it and a fresh state folder. Probe documents are dated "
        "27.11.2026 so each lands on page 1 of `/feed.atom`.")
    add("- **Servers** are stopped by PID (SIGTERM, then SIGKILL) in `finally` blocks; everything is on "
        "127.0.0.1. feedsvc runs with default settings (metrics on, uvloop, log level info, debounce 10 ms) "
        "pinned to core 0 with `taskset`; load generators and pollers run on core 1.")
    add("- **Serving**: `wrk -t1 -c32 --latency` for `GET /feed.atom` (50 entries) plain, with "
        "`Accept-Encoding: gzip`, and with `If-None-Match` (304). References in the same run: `bench/bare.py`, "
        "a bare aiohttp handler on uvloop returning the same bytes and headers from memory (captured from "
        "feedsvc first), and nginx (one worker, `daemon off`, core 0) serving the same bytes as static files "
        "(`gzip_static`). feedsvc and bare alternate in rounds, order flipped each round; each side's best "
        "run is compared (medians and min–max spread shown too).")
    add("- **Freshness**: a separate process writes a probe (in place: write+close; or rsync style: "
        "`.name.tmp` then `os.rename`) and polls `/feed.atom` every 2 ms over a keep-alive connection with "
        "If-None-Match, searching each 200 body for the probe's unique token. Latency = answer received − "
        "write complete. 200 probes 50 ms apart, then bursts of 1,000 written at once (time until the last "
        "written — newest mtime, smallest id — is visible).")
    add("- **Scale**: time from spawning `feedsvc serve` until `/healthz` answers 200 (polled every 10 ms), "
        "with an empty state folder (cold) and again with the index it built (warm, folder unchanged); "
        "median of 3 runs each (one cold start at 100k). "
        "The server is not pinned here (its parser processes may use both cores). "
        "Render time per feed = `feedsvc_render_seconds` sum/count from `/metrics`. One change = one "
        "document written in place, time until visible in `/feed.atom`, 8 in a row 0.2 s apart; median, "
        "min–max and the slowest. Peak RSS = `VmHWM` from "
        "`/proc/PID/status` of the server, read 2 s after ready (anything a start does after ready is "
        "counted); and the server with its child processes (parser processes, their fork server), sampled every "
        "50 ms from `/proc/PID/smaps_rollup`: PSS summed (each shared page split among its sharers, so counted "
        "once: what the tree really holds) and RSS summed (shared pages counted in every process; the parser "
        "processes share the ~100 MB of language models their fork server loaded). VmHWM does not include "
        "children. A cold start that exceeds the cap is stopped and reported as not met; a warm "
        "restart then uses the index kept from an earlier completed cold start (`bench/out/index-cache-N`).")
    add("- **Profiles**: `py-spy record --threads --subprocesses --rate 100` attached to the running server (its parser processes included); samples whose leaf frame is a wait (event loop select, inotify read, idle pool worker, condition wait) are dropped, so shares are of busy samples.")
    add("")

    # ---------------------------------------------------------------------------------- serving
    add("## 1. Serving `/feed.atom`")
    add("")
    if "summary" in sv:
        add(_meta(sv))
        add("")
        feed = sv["feed"]
        add(f"Feed: {feed['entries']} entries, {feed['bytes']} bytes ({feed['gzip_bytes']} gzipped). "
            f"{sv['rounds']} rounds × {sv['duration']:g} s per server per scenario, {sv['connections']} connections. "
            "The synthetic corpus repeats template sentences, so gzip shrinks the feed ~20× (real text: ~3–4×); "
            "the plain 200 moves ~365 KB per request and is bound by loopback copying for all three servers.")
        add("")
        add("| scenario | server | best req/s | median req/s (min–max) | best p99 | median p99 (min–max, ms) | errors |")
        add("| --- | --- | --- | --- | --- | --- | --- |")
        for scen, row in sv["summary"].items():
            for name in ("feedsvc", "bare", "nginx", "edge"):
                if name not in row:  # results from before the edge was measured
                    continue
                r = row[name]
                add(f"| {scen} | {name} | {r['best_rps']:.0f} | {r['median_rps']:.0f} ({r['rps_spread']}) | "
                    f"{_ms(r['best_p99'])} | {r['median_p99'] * 1000:.2f} ({r['p99_spread']}) | {r['errors']} |")
        add("")
        add("| scenario | feedsvc / bare req/s, best vs best | same, median of the rounds' paired ratios | feedsvc / bare p99 | feedsvc / nginx req/s | bare / nginx req/s |")
        add("| --- | --- | --- | --- | --- | --- |")
        for scen, row in sv["summary"].items():
            paired = f"{row['paired_ratio_median']:.1%}" if "paired_ratio_median" in row else "n/a"
            add(f"| {scen} | {row['ratio_rps_feedsvc_vs_bare']:.1%} | {paired} | ×{row['ratio_p99_feedsvc_vs_bare']:.2f} | "
                f"{row['ratio_rps_feedsvc_vs_nginx']:.1%} | {row['ratio_rps_bare_vs_nginx']:.1%} |")
        if all("edge" in row for row in sv["summary"].values()):
            add("")
            add("**The edge** (`docs/edge/nginx.conf` as shipped, nginx caching in front of feedsvc; target: gzip "
                "and 304 at ≥ 85% of nginx serving the same bytes as static files):")
            add("")
            add("| scenario | edge / nginx static req/s, best vs best | median of the rounds' paired ratios | met? |")
            add("| --- | --- | --- | --- |")
            for scen, row in sv["summary"].items():
                ratio, paired = row["ratio_rps_edge_vs_nginx"], row["paired_edge_vs_nginx"]
                verdict = "n/a (plain 200 is bound by copying)" if scen == "200 plain" else (
                    "yes" if paired >= 0.85 else "**no**")
                add(f"| {scen} | {ratio:.1%} | {paired:.1%} | {verdict} |")
        if "edge_freshness" in sv:
            ef = sv["edge_freshness"]
            add("")
            add(f"Through the edge, a new document is visible after p50 {ef['p50_s'] * 1000:.0f} ms, p99 "
                f"{ef['p99_s'] * 1000:.0f} ms, worst {ef['max_s'] * 1000:.0f} ms ({ef['probes']} probes written "
                f"0.05–0.5 s apart, polled every 2 ms with If-None-Match; {ef['lost']} never seen in 10 s); target "
                f"p99 ≤ 1.5 s: {'met' if ef['p99_s'] <= 1.5 else '**not met**'}. feedsvc refreshes the edge's copy "
                "of a changed feed at once (`--edge-refresh`); other pages follow when their `s-maxage=1` copy "
                "expires (1–2 s: nginx counts whole seconds).")
    else:
        _not_measured(add, sv)
    add("")

    # ---------------------------------------------------------------------------------- freshness
    add("## 2. Freshness (document on disk → visible in `/feed.atom`)")
    add("")
    if "inplace" in fr or "rename" in fr:
        add(_meta(fr))
        add("")
        add("| write | probes | p50 | p90 | p99 | max | lost | burst of N: last visible, median (min–max ms) | docs indexed after / expected |")
        add("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for mode in ("inplace", "rename"):
            f = fr.get(mode)
            if f:
                label = "in place" if mode == "inplace" else "temp + rename"
                add(f"| {label} | {f['docs']} × {f['gap'] * 1000:.0f} ms apart | {_ms(f['p50'])} | {_ms(f['p90'])} | "
                    f"{_ms(f['p99'])} | {_ms(f['max'])} | {f['lost']} | N={f['burst_size']}: {_ms(f['burst_median'])} "
                    f"({f['burst_spread']}) | {f['documents_after']} / {f['documents_expected']} |")
        add("")
        add(f"Reference: {_hugo(results)}")
    else:
        _not_measured(add, fr)
    add("")

    # ---------------------------------------------------------------------------------- scale
    add("## 3. Scale")
    add("")
    sizes = [k for k in sc if k.isdigit()]
    if sizes:
        add(_meta(sc) + f" Cold-start cap this run: {sc.get('cold_cap_s', 0):.0f} s.")
        add("")
        add("| documents | cold: listening / ready | warm: listening / ready | render one feed (cold / after a change) | one change visible, median (min–max ms) | slowest change | peak memory cold / warm: server VmHWM; server + parser processes, PSS (RSS) summed |")
        add("| --- | --- | --- | --- | --- | --- | --- |")
        for k in sizes:
            r = sc[k]
            cold = (_s(r.get("cold_s")) if r.get("cold_s") is not None
                    else f"> {r.get('cold_timed_out_after_s', 0):.0f} s (capped)")
            cold += _runs(r, "cold")
            warm = _s(r.get("warm_s")) + _runs(r, "warm")
            add(f"| {int(k):,} | {_s(r.get('cold_listening_s'))} / {cold} | {_s(r.get('warm_listening_s'))} / "
                f"{warm} | {_ms(r.get('cold_render_mean_s'))} / {_ms(r.get('change_render_mean_s'))} | "
                f"{_ms(r.get('change_median_s'))} ({r.get('change_spread_ms', 'n/a')}) | {_ms(r.get('change_max_s'))} | "
                f"{_mib(r.get('cold_peak_rss_kb'))} / {_mib(r.get('warm_peak_rss_kb'))}; "
                f"{_mib(r.get('cold_peak_tree_pss_kb'))} ({_mib(r.get('cold_peak_tree_kb'))}) / "
                f"{_mib(r.get('warm_peak_tree_pss_kb'))} ({_mib(r.get('warm_peak_tree_kb'))}) |")
            if r.get("warm_note"):
                add(f"|  | _{r['warm_note']}_ | | | | | |")
        if s1.get("change_median_s") and s100.get("change_median_s"):
            add("")
            add(f"One change at 100k vs 1k: ×{s100['change_median_s'] / s1['change_median_s']:.2f}.")
        add("")
        add(f"Reference: {_hugo(results)}")
    else:
        _not_measured(add, sc)
    add("")

    # ---------------------------------------------------------------------------------- profiles
    pr = results.get("profile", {})
    add("## 4. Profiles")
    add("")
    if "cold" in pr:
        add(_meta(pr) + " Raw collapsed stacks (flamegraph.pl / speedscope input) in `bench/out/profiles/`.")
        for key, title in (("cold", "Cold start"), ("freshness", "Freshness run (200 probes in place + a burst renamed in)"),
                           ("serving", "Serving (wrk: 304 If-None-Match, then 200 gzip)"),
                           ("warm", "Warm restart at 100,000 documents (index kept from a cold start)")):
            d = pr.get(key, {})
            if not d:
                continue
            add("")
            extra = (f"ready in {_s(d.get('ready_s'))} under the profiler" if key in ("cold", "warm")
                     else f"p50 {_ms(d.get('p50_s'))}, burst {_ms(d.get('burst_s'))} under the profiler"
                     if key == "freshness" else
                     f"{d.get('rps_304', 0):.0f} req/s (304), {d.get('rps_200_gzip', 0):.0f} req/s (200 gzip) under the profiler")
            add(f"### {title}: {d['samples']} busy samples ({d.get('idle_samples', 0)} idle dropped), {extra}")
            add("")
            add("Deepest feedsvc/ frame of each sample (time spent in or below that line; `serve (feedsvc/cli.py:67)` "
                "is aiohttp/uvloop work on the event loop with no feedsvc frame below it):")
            add("")
            add("| share | samples | feedsvc frame |")
            add("| --- | --- | --- |")
            for name, n, pct in d["deepest_feedsvc_frame"][:12]:
                add(f"| {pct:.1f}% | {n} | `{name}` |")
            add("")
            add("Leaf frames (self time):")
            add("")
            add("| share | samples | frame |")
            add("| --- | --- | --- |")
            for name, n, pct in d["leaf"][:10]:
                add(f"| {pct:.1f}% | {n} | `{name}` |")
            add("")
            add("feedsvc functions on the stack (inclusive):")
            add("")
            add("| share | samples | function |")
            add("| --- | --- | --- |")
            for name, n, pct in d["inclusive_feedsvc_functions"][:10]:
                add(f"| {pct:.1f}% | {n} | `{name}` |")
    else:
        _not_measured(add, pr)
    add("")
    _new_sections(add, results)
    # Hand-written: what the profiles above led to, with the figures before and after each fix.
    history = Path(__file__).with_name("history.md")
    if history.exists():
        add(history.read_text().strip())
        add("")
    add("## Re-running")
    add("")
    add("`make bench` (everything, under 25 minutes — the budget in `bench/run.py`; it was 10 minutes before the "
        "flood, search, websub and peers sections; the first run also generates the corpora, ~10 s, and the Hugo "
        "sites). `.venv/bin/python bench/run.py --quick` is a smoke run (~4 minutes, smaller corpora); "
        "`--sections serving,freshness,profile,scale,flood,search,websub,peers` selects sections "
        "(`make bench BENCH_ARGS=--sections=flood,search,websub,peers`; results merge into "
        "`bench/out/results.json`); `--peer-sizes 1000,10000,100000` adds Hugo at 100k; `--help` lists the "
        "knobs. Logs of every server are in `bench/out/logs/`.")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(L) + "\n")


# ------------------------------------------------------------------------------ flood, search, websub, peers

def _new_targets(results: dict[str, Any]) -> list[tuple[str, str, str, bool | None]]:
    t: list[tuple[str, str, str, bool | None]] = []
    fl = results.get("flood", {})
    if "rounds" in fl:
        t.append(("Variant flood: server peak RSS < 400 MB", _kmib(fl["peak_rss_kb_max"]),
                  f"VmHWM, worst of {len(fl['rounds'])} rounds ({fl['peak_rss_spread_mib']} MiB)",
                  fl["peak_rss_kb_max"] * 1024 < 400e6))
        t.append(("Variant flood: freshness p99 ≤ 100 ms", _ms(fl["fresh_p99_s"]),
                  f"median of the rounds' p99 ({fl['fresh_p99_spread_ms']} ms); p50 {_ms(fl['fresh_p50_s'])}",
                  fl["fresh_p99_s"] <= 0.100))
        t.append(("Variant flood: answers 200 / 503 (Retry-After) per round (no target)",
                  f"{fl['ok_median']:.0f} / {fl['busy_median']:.0f}",
                  f"medians; 200s {fl['ok_spread']}, 503s {fl['busy_spread']}", None))
    se = results.get("search", {})
    for key, label in (("one_word", "one word"), ("three_words", "three words")):
        q = se.get(key)
        if q:
            t.append((f"Search at {se['documents']:,}: `?q=` {label}, cold cache, p99 ≤ 50 ms", _ms(q["p99_s"]),
                      f"p50 {_ms(q['p50_s'])}; {q['queries']} distinct queries, rounds' p99 {q['round_p99_spread_ms']} ms",
                      q["p99_s"] <= 0.050))
    if se.get("change_p99_s") is not None:
        t.append((f"One change at {se['documents']:,} (search index on) visible, p99 ≤ 50 ms", _ms(se["change_p99_s"]),
                  f"p50 {_ms(se['change_p50_s'])}, {len(se['change_s'])} changes", se["change_p99_s"] <= 0.050))
    ws = results.get("websub", {}).get("configs", {})
    for name, limit in (("100 subscribers, one host", 0.100), ("100 subscribers, distinct hosts", 0.100)):
        c = ws.get(name)
        if c and c.get("last_s") is not None:
            t.append((f"WebSub {name}: the last subscriber ≤ 100 ms (p99 over changes)", _ms(c["last_worst_s"]),
                      f"median {_ms(c['last_s'])} ({c['last_spread_ms']} ms), {c['complete_changes']} changes",
                      c["last_worst_s"] <= limit))
    c = ws.get("1,000 subscribers, distinct hosts")
    if c and c.get("last_s") is not None:
        t.append(("WebSub 1,000 subscribers: the last within 1 s", _ms(c["last_worst_s"]),
                  f"distinct hosts (per-host caps lifted, see 7); median {_ms(c['last_s'])}",
                  c["last_worst_s"] <= 1.0))
    c = ws.get("1,000 asked, one host")
    if c:
        a = c.get("subscribe_answers", {})
        t.append(("WebSub 1,000 subscribers on one host, as shipped", f"{a.get('live_subscriptions', 0)} accepted",
                  f"answers {', '.join(f'{k}: {v}' for k, v in a.items() if k != 'live_subscriptions')}: the hub "
                  "caps one callback host at 200 (a limit, not a target: 1,000 are measured on distinct hosts)", None))
    pe = results.get("peers", {})
    for n in sorted((k for k in pe if k.isdigit()), key=int):
        p = pe[n]
        rc, re_ = p.get("ratio_cold_vs_hugo_rss", {}), p.get("ratio_edit", {})
        if rc:
            # The target holds at 10k and 100k; at 1k it is the 0.5 s cold start above.
            goal = "≤ Hugo RSS-only build (median of paired ratios ≤ 1.0)" if int(n) >= 10000 else \
                "/ Hugo RSS-only build (no ratio target: at 1k, the 0.5 s cold start)"
            t.append((f"Peers {int(n):,}: feedsvc cold start {goal}",
                      f"×{rc['median']:.2f}", f"{_s(p['feedsvc_cold_s'])} vs {_s(p['hugo_rss_s'])}; pairs {rc['spread']}",
                      None if int(n) < 10000 else rc["median"] <= 1.0))
        if re_:
            t.append((f"Peers {int(n):,}: feedsvc edit → feed / `hugo server` edit → index.xml (no target)",
                      f"×{re_['median']:.3f}", f"{_ms(p['feedsvc_edit_median_s'])} vs {_ms(p['hugo_edit_median_s'])}; "
                      f"pairs {re_['spread']}", None))
    return t


def _fig(c: dict[str, Any], key: str) -> str:
    """median (worst) of one websub figure"""
    return f"{_ms(c.get(key + '_s'))} ({_ms(c.get(key + '_worst_s'))})" if c.get(key + "_s") is not None else "n/a"


def _new_sections(add: Callable[[str], None], results: dict[str, Any]) -> None:
    # ---------------------------------------------------------------------------------- flood
    fl = results.get("flood", {})
    add("## 5. Variant flood")
    add("")
    if "rounds" in fl:
        add(_meta(fl))
        add("")
        add(f"Method: {fl['docs']} real-size documents (`bench/gen.py`, ~4.5 KB each). A load process on core 1 "
            f"(`bench/floodload.py`, aiohttp) keeps {fl['concurrency']} connections requesting {fl['variants']} distinct "
            "variants — `/feed.atom?limit=200…469` and `?limit=261…290&page=2`, 1.5–3.5 MB each — in random order for "
            f"{fl['duration_s']:.0f} s; a 503 is followed by a 50 ms pause. Meanwhile this process writes a probe "
            f"document every {fl['probe_gap_s'] * 1000:.0f} ms (each change makes every variant stale) and polls "
            "`/feed.atom` every 2 ms until it is visible. Peak RSS = the server's VmHWM after the flood; RSS = VmRSS "
            f"at the flood's end and {fl['after_s']:.0f} s later. Fresh server per round; {len(fl['rounds'])} rounds.")
        add("")
        add("| round | 200 | 503 (with Retry-After) | errors | 200 latency p50 / p99 | freshness p50 / p99 / max (probes) | peak RSS (VmHWM) | RSS before / end / +10 s | server + parsers PSS |")
        add("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for i, r in enumerate(fl["rounds"], 1):
            a = r["answers"]
            st = a["statuses"]
            others = {k: v for k, v in st.items() if k not in ("200", "503")}
            add(f"| {i} | {st.get('200', 0)} | {st.get('503', 0)} ({a['retry_after_on_503']}) | {a['errors']}"
                f"{' ' + str(others) if others else ''} | {_ms(a.get('ok_p50_s'))} / {_ms(a.get('ok_p99_s'))} | "
                f"{_ms(r['fresh_p50_s'])} / {_ms(r['fresh_p99_s'])} / {_ms(r['fresh_max_s'])} ({r['probes']}) | "
                f"{_kmib(r['peak_rss_kb'])} | {_kmib(r['rss_before_kb'])} / {_kmib(r['rss_end_kb'])} / "
                f"{_kmib(r['rss_after_kb'])} | {_kmib(r['peak_tree_pss_kb'])} |")
        add("")
        back = fl["rss_end_kb_median"] - fl["rss_after_kb_median"]
        add(f"Memory returned within {fl['after_s']:.0f} s of the flood: {back / 1024:.0f} MiB of "
            f"{(fl['rss_end_kb_median'] - fl['rss_before_kb_median']) / 1024:.0f} MiB the flood added (medians).")
    else:
        _not_measured(add, fl)
    add("")

    # ---------------------------------------------------------------------------------- search
    se = results.get("search", {})
    add(f"## 6. Search at {se.get('documents', 100000):,} documents")
    add("")
    if "one_word" in se:
        add(_meta(se))
        add("")
        add(f"Method: the server (core 0) starts on {se['index_from']}. One query at a time over a keep-alive "
            "connection from core 1, `/feed.atom?q=…` with the default limit (50 entries). Every query string is "
            "distinct: a word form from a pool (`sanction`/`sanctions`, `drone`/`drones`, `санкційної`, `дронів`, …) "
            "or three words of the corpus's sentence pool, plus a random excluded word (`-zq…`) no document has — so "
            "no rendered variant is reused and each answer is an FTS5 match, a render and the send. One-word and "
            "three-word rounds alternate (order flipped each round). Then "
            f"{len(se.get('change_s') or ())} changes (one document each, in place, 0.2 s apart), time until visible "
            "in `/feed.atom`.")
        add("")
        add("| query | queries | p50 | p90 | p99 | max | rounds' p99 (ms) | entries per answer, median (min) | answers with no entry |")
        add("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for key, label in (("one_word", "one word"), ("three_words", "three words")):
            q = se[key]
            add(f"| {label} | {q['queries']} | {_ms(q['p50_s'])} | {_ms(q['p90_s'])} | {_ms(q['p99_s'])} | {_ms(q['max_s'])} | "
                f"{q['round_p99_spread_ms']} | {q['hits_median']:.0f} ({q['hits_min']}) | {q['zero_hit_queries']} |")
        add("")
        if se.get("change_p99_s") is not None:
            add(f"One change at {se['documents']:,}: p50 {_ms(se['change_p50_s'])}, p99 {_ms(se['change_p99_s'])}, "
                f"max {_ms(se['change_max_s'])} ({len(se['change_s'])} changes). Server peak RSS {_kmib(se.get('peak_rss_kb'))}.")
            add("")
        sz = se.get("sizes", {})
        if sz:
            share = sz["search_bytes_dbstat"] / sz["index_bytes"] if sz["index_bytes"] else 0
            add(f"**Index size.** `index.sqlite3` {sz['index_bytes'] / 2**20:.0f} MiB (WAL checkpointed), of which the "
                f"search table (FTS5 `search` and its shadow tables, by `dbstat`) {sz['search_bytes_dbstat'] / 2**20:.0f} MiB "
                f"= {share:.0%}; a copy with the table dropped and VACUUMed: {sz['index_without_search_bytes'] / 2**20:.0f} MiB. "
                f"{sz['search_rows']:,} rows. Largest tables: " +
                ", ".join(f"`{k}` {v / 2**20:.1f} MiB" for k, v in list(sz["tables"].items())[:6]) + ".")
            add("")
        ft = se.get("fts", {})
        if ft:
            add(f"**What search adds to a cold start.** Standalone experiment on the same words: the {ft['rows']:,} "
                f"rows of the search table (mean {ft['mean_words_chars']:.0f} characters of lemmas each) inserted into "
                f"a fresh FTS5 table like the service's, 500 rows per transaction, WAL: {_s(ft['fts_insert_s'])}. "
                f"Lemmatising the documents' text (`feedsvc.documents.words.lemmas` over the raw text of "
                f"{ft['lemmatise_sample']:,} files, scaled to {se['documents']:,}): {_s(ft['lemmatise_s_scaled'])} "
                "of CPU on one core (the service does it in its parser processes, on both cores).")
            add("")
        sc = results.get("scale", {})
        rows = []
        for n in ("10000", "100000"):
            now = sc.get(n, {}).get("cold_s")
            rows.append(f"{int(n):,}: {_s(now)} now vs {_s(PREVIOUS_COLD[n])} in the last report before search "
                        f"(×{now / PREVIOUS_COLD[n]:.2f})" if now else f"{int(n):,}: n/a now vs {_s(PREVIOUS_COLD[n])}")
        add("Cold start to ready (section 3) next to the previous report's (commit e5567858a8e1, before search; "
            "other changes landed since too, and that report ran on another machine, an AMD EPYC with 2 cores, "
            "not shared with test runs): " + "; ".join(rows) + "." + (
                f" The lemmatising and FTS inserts above come to ~{ft['lemmatise_s_scaled'] / 2 + ft['fts_insert_s']:.0f} s "
                f"at {se['documents']:,} when the lemmatising is spread over 2 cores." if ft else ""))
    else:
        _not_measured(add, se)
    add("")

    # ---------------------------------------------------------------------------------- websub
    ws = results.get("websub", {})
    add("## 7. WebSub: document complete → subscriber holds the POST")
    add("")
    if ws.get("configs"):
        add(_meta(ws))
        add("")
        add(f"Method: the subscribers are one aiohttp process (`bench/websubsub.py`, core 1, 127.0.0.1, one port, a "
            "path per subscriber) that answers the verification GET with the challenge and keeps the arrival time "
            "of each POST by the probe token in its body. feedsvc (core 0, 1,000 documents, "
            "`--websub-allow-callbacks 127.0.0.0/8`) takes the subscriptions for `BASE/feed.atom` as form POSTs in "
            "batches (at most 20 verifications pending per callback host); each request carries its own "
            "X-Forwarded-For (`--trusted-proxies 127.0.0.1`), since the hub lets one client address subscribe 30 "
            "times and then once per 2 s. Then probe documents are written one at a time (0.5 s after the last "
            "delivery); latency = arrival − write complete, CLOCK_MONOTONIC in both processes. "
            "**one host** = the service as shipped: all subscribers share the callback host 127.0.0.1, so the hub's "
            f"per-host bounds apply to them together ({HUB.per_host} deliveries in flight, "
            f"{HUB.subscriptions_per_host} subscriptions per host). "
            "**distinct hosts** = the same service started by `bench/hubserve.py` with those per-host bounds raised "
            f"to the global ones ({HUB.concurrency} in flight), what subscribers on their own hosts see. A *hanging* subscriber "
            "verifies, then accepts each POST and never answers (the hub gives up after 5 s); an *answering 500* "
            f"one fails each POST. {ws['rounds']} rounds (configurations in flipped order) × {ws['changes_per_round']} "
            "changes; figures are medians over the changes, worst in brackets.")
        add("")
        add("| configuration | subscriptions (answers) | first | p50 | p99 | last subscriber | changes complete |")
        add("| --- | --- | --- | --- | --- | --- | --- |")
        for name, c in ws["configs"].items():
            a = c.get("subscribe_answers", {})
            ans = ", ".join(f"{k}: {v}" for k, v in a.items() if k != "live_subscriptions")
            add(f"| {name} | {a.get('live_subscriptions', 0)} ({ans}) | {_fig(c, 'first')} | {_fig(c, 'p50')} | "
                f"{_fig(c, 'p99')} | {_fig(c, 'last')} | {c['complete_changes']}/{c['changes']} (fewest received {c['received_min']}/{c['expected']}) |")
        add("")
        base, hang, err = (ws["configs"].get(k, {}) for k in ("100 subscribers, one host", "100 + 1 hanging, one host",
                                                              "100 + 1 answering 500, one host"))
        if base.get("last_s") and hang.get("last_s") and err.get("last_s"):
            add(f"A dead subscriber among 100 on one host: hanging, the last live one gets the POST after "
                f"{_ms(hang['last_s'])} vs {_ms(base['last_s'])} (×{hang['last_s'] / base['last_s']:.2f}; by the hub's design a hanging POST keeps one of "
                f"the host's {HUB.per_host} delivery slots until its {HUB.delivery_timeout:g} s timeout, and each new change sends it again at once); answering 500, {_ms(err['last_s'])} "
                f"(×{err['last_s'] / base['last_s']:.2f}).")
        d0, d1 = ws["configs"].get("1,000 subscribers, distinct hosts", {}), ws["configs"].get("1,000 + 1 hanging, distinct hosts", {})
        if d0.get("last_s") and d1.get("last_s"):
            add(f"Among 1,000 on distinct hosts, a hanging one: last live subscriber {_ms(d1['last_s'])} vs "
                f"{_ms(d0['last_s'])} (×{d1['last_s'] / d0['last_s']:.2f}).")
    else:
        _not_measured(add, ws)
    add("")

    # ---------------------------------------------------------------------------------- peers
    pe = results.get("peers", {})
    add("## 8. Peers: Hugo, measured live")
    add("")
    sizes = sorted((k for k in pe if k.isdigit()), key=int)
    if sizes:
        add(_meta(pe) + f" `{pe.get('hugo_version', '?')}`.")
        add("")
        add("Method: each corpus document becomes a Hugo page (`bench/out/hugo-N/content/posts/*.md`): TOML front "
            "matter (title, date, `publications` and `authors` taxonomies — feedsvc has feeds per publication and "
            "author too) and the rest of the document as Markdown. Minimal layouts (single, paginated list, home). "
            "**Full build** = `hugo` into an empty destination: every page, section, taxonomy and term page with "
            "their RSS, sitemap. **RSS-only build** = the same content with `disableKinds` for all but home and "
            "pages, `[outputs] home = [\"RSS\"]`, a `[cascade._build] render = \"link\"` (pages listed, never "
            "rendered), `rssLimit = 50` (Hugo 0.111 syntax). **feedsvc cold start** = spawn to `/healthz` 200 on an "
            "empty state folder (its feeds are rendered by then). The three alternate in rounds, order flipped "
            "each round; Hugo's peak RSS is its VmHWM, read every 5 ms while it runs. **Edit latency**: `hugo server` (in memory, "
            "default fast render, `--disableLiveReload`) and feedsvc (running, edits after ready) in turn, order flipped each round: a new "
            "document dated newest is written, `/index.xml` (Hugo) or `/feed.atom` (feedsvc, If-None-Match) is "
            "polled every 2 ms until it holds the token. Nothing pinned here (Hugo builds on all cores; so do "
            "feedsvc's parser processes). Ratios are of paired runs (same round): median (min–max).")
        add("")
        add("| documents | Hugo full build | Hugo RSS-only | feedsvc cold start | feedsvc / Hugo RSS-only | feedsvc / Hugo full | peak RSS: Hugo full / RSS-only / feedsvc server |")
        add("| --- | --- | --- | --- | --- | --- | --- |")
        for k in sizes:
            p = pe[k]
            rr, rf = p.get("ratio_cold_vs_hugo_rss", {}), p.get("ratio_cold_vs_hugo_full", {})
            add(f"| {int(k):,} | {_s(p.get('hugo_full_s'))} ({p.get('hugo_full_spread_s')} s; {p.get('hugo_files', {}).get('full', '?')} files) | "
                f"{_s(p.get('hugo_rss_s'))} ({p.get('hugo_rss_spread_s')} s) | {_s(p.get('feedsvc_cold_s'))} "
                f"({p.get('feedsvc_cold_spread_s')} s) | ×{rr.get('median', float('nan')):.2f} ({rr.get('spread')}) | "
                f"×{rf.get('median', float('nan')):.2f} ({rf.get('spread')}) | {_kmib(p.get('hugo_full_peak_kb'))} / "
                f"{_kmib(p.get('hugo_rss_peak_kb'))} / {_kmib(p.get('feedsvc_cold_peak_kb'))} |")
        add("")
        add("| documents | `hugo server` edit → index.xml, median (min–max ms), slowest | feedsvc edit → /feed.atom, median (min–max ms), slowest | feedsvc / Hugo (paired rounds' medians) | hugo server start to serving |")
        add("| --- | --- | --- | --- | --- |")
        for k in sizes:
            p = pe[k]
            if "hugo_edit_median_s" not in p:
                continue
            re_ = p.get("ratio_edit", {})
            add(f"| {int(k):,} | {_ms(p['hugo_edit_median_s'])} ({p['hugo_edit_spread_ms']}), {_ms(p['hugo_edit_max_s'])} | "
                f"{_ms(p['feedsvc_edit_median_s'])} ({p['feedsvc_edit_spread_ms']}), {_ms(p['feedsvc_edit_max_s'])} | "
                f"×{re_.get('median', float('nan')):.3f} ({re_.get('spread')}) | {_s(p.get('hugo_server_ready_s'))} |")
        carried = {k: pe[k]["from_run"] for k in sizes if pe[k].get("from_run")}
        if carried:
            add("")
            alone = ("100,000 was run alone (`--sections peers --peer-sizes 100000`: it does not fit the 25-minute "
                     "budget next to the other sections, so the default run measures 1,000 and 10,000); "
                     if "100000" in sizes and "100000" not in carried else "")
            add(alone + "kept from an earlier run of this section: " +
                "; ".join(f"{int(k):,} (run {d})" for k, d in carried.items()) + ".")
        if "100000" not in sizes:
            add("")
            add("100,000 documents: not run by default (a Hugo full build at 100k does not fit the 25-minute "
                "budget next to the other sections); `--sections peers --peer-sizes 100000` runs it.")
    else:
        _not_measured(add, pe)
    add("")
