"""Entry point of `make bench`: runs the selected sections and writes docs/BENCHMARKS.md.

    .venv/bin/python bench/run.py                      # everything, under 25 minutes
    .venv/bin/python bench/run.py --quick              # smoke run, ~4 min: bench/out/BENCHMARKS-quick.md
    .venv/bin/python bench/run.py --sections serving,scale
    make bench BENCH_ARGS=--sections=flood,search,websub,peers

Sections: serving, freshness, profile, scale, flood (variant flood), search (?q= at 100k), websub
(hub to subscribers), peers (Hugo live).

Results of each section are kept in bench/out/results.json with their date and commit, so a run of
some sections updates only those in the report. Never part of `make test`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import OUT, ROOT, git_commit, log, machine

SECTIONS = ("serving", "freshness", "profile", "scale", "flood", "search", "websub", "peers")
RESULTS = OUT / "results.json"
# seconds: `make bench` must finish in under 25 minutes (it was 10 before flood, search, websub and
# peers; those add ~10 minutes, most of it Hugo builds and 1,000-subscriber runs)
BUDGET = 1440.0
# what the sections after scale need, so that scale's capped cold start at 100k leaves them their time
RESERVE = {"flood": 90.0, "search": 150.0, "websub": 330.0, "peers": 260.0}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smoke run: few, short rounds on small corpora")
    p.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated subset of {','.join(SECTIONS)}")
    p.add_argument("--rounds", type=int, default=None, help="serving: alternating rounds (default 8)")
    p.add_argument("--duration", type=float, default=None, help="serving: seconds per wrk run (default 3)")
    p.add_argument("--connections", type=int, default=32, help="serving: wrk connections (default 32)")
    p.add_argument("--sizes", default=None, help="scale: corpus sizes (default 1000,10000,100000)")
    p.add_argument("--cold-cap", type=float, default=240.0, help="scale: cap on one cold start, seconds")
    p.add_argument("--peer-sizes", default=None, help="peers: corpus sizes (default 1000,10000; add 100000 if time allows)")
    p.add_argument("--budget", type=float, default=BUDGET, help="seconds the whole run may take")
    p.add_argument("--report-only", action="store_true", help="rewrite the report from bench/out/results.json")
    p.add_argument("--report", type=Path, default=None,
                   help="default docs/BENCHMARKS.md; with --quick bench/out/BENCHMARKS-quick.md (never clobbers the real one)")
    args = p.parse_args(argv)
    chosen = [] if args.report_only else [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = set(chosen) - set(SECTIONS)
    if unknown:
        p.error(f"unknown sections: {', '.join(sorted(unknown))}")
    q = args.quick
    results_file = OUT / "results-quick.json" if q else RESULTS
    if args.report is None:
        args.report = OUT / "BENCHMARKS-quick.md" if q else ROOT / "docs" / "BENCHMARKS.md"
    started = time.perf_counter()
    deadline = started + args.budget
    # As installed: pip byte-compiles what it installs, an editable install's sources are not, and
    # with PYTHONDONTWRITEBYTECODE every service started here would compile them (~0.5 s a start).
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "feedsvc")], check=True)
    OUT.mkdir(parents=True, exist_ok=True)
    results = json.loads(results_file.read_text()) if results_file.exists() else {}
    results["machine"] = machine()
    results["budget_s"] = args.budget
    stamp = {"date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), "commit": git_commit(),
             "quick": q}
    failed = False
    for section in [s for s in SECTIONS if s in chosen]:
        log(f"== {section}")
        t0 = time.perf_counter()
        try:
            if section == "serving":
                from serving import run

                data = run(rounds=args.rounds or (2 if q else 8), duration=args.duration or (1 if q else 3),
                           connections=args.connections)
            elif section == "freshness":
                from freshness import run

                data = run(docs=30 if q else 200, gap=0.05, burst_size=100 if q else 1000, bursts=1 if q else 3)
            elif section == "profile":
                import profiling
                from profiling import run

                if q:
                    profiling.PROFILES = OUT / "profiles-quick"

                data = run(cold_docs=1000 if q else 10000, cold_cap=120, fresh_docs=30 if q else 200,
                           burst_size=100 if q else 1000)
            elif section == "flood":
                from flood import run

                data = run(rounds=1 if q else 2, duration=6 if q else 20)
            elif section == "search":
                from search import run

                later = sum(RESERVE.get(s, 0.0) for s in chosen if SECTIONS.index(s) > SECTIONS.index(section))
                # ~0.5 s a query at 100k on this machine: 4 rounds x 25 of each kind keep it to ~2 minutes
                data = run(rounds=2 if q else 4, per_round=20 if q else 25, change_count=5 if q else 20,
                           cold_cap=max(60.0, deadline - time.perf_counter() - 60 - later),
                           size=10_000 if q else 100_000)
            elif section == "websub":
                import websub
                from websub import run

                data = run(changes=1 if q else 3, rounds=1 if q else 2,
                           configs=[websub.CONFIGS[i] for i in (0, 1, 6)] if q else None)
            elif section == "peers":
                from peers import run

                psizes = [int(s) for s in (args.peer_sizes or ("1000" if q else "1000,10000")).split(",")]
                data = run(sizes=psizes, rounds=1 if q else 3, edit_rounds=1 if q else 2, edits=3 if q else 5,
                           cold_cap=args.cold_cap)
            else:
                from scale import run

                sizes = [int(s) for s in (args.sizes or ("1000" if q else "1000,10000,100000")).split(",")]
                # the largest cold start gets what is left of the budget, less a reserve for its warm
                # restart and for the sections still to run
                later = sum(RESERVE.get(s, 0.0) for s in chosen if SECTIONS.index(s) > SECTIONS.index(section))
                cap = max(30.0, min(args.cold_cap, deadline - time.perf_counter() - 90 - later))
                data = run(sizes=sizes, cold_cap=cap, warm_cap=120, change_count=3 if q else 8,
                           cap_note=cap)
        except Exception:  # record the failure, keep the other sections
            failed = True
            data = {"error": traceback.format_exc()}
            log(f"{section} failed:\n{data['error']}")
        if section == "peers" and "error" not in data:
            # sizes run alone (`--peer-sizes 100000`) join the ones an earlier run measured
            old = results.get("peers", {})
            for k, v in old.items():
                if k.isdigit() and k not in data:
                    data[k] = {"from_run": old.get("_meta", {}).get("date", "?"), **v}
        data["_meta"] = {**stamp, "seconds": round(time.perf_counter() - t0, 1)}
        results[section] = data
        results_file.write_text(json.dumps(results, indent=1, default=str))
    from report import write

    total = time.perf_counter() - started
    if not args.report_only and set(chosen) == set(SECTIONS):
        results["full_run"] = {**stamp, "seconds": round(total, 1), "budget_s": args.budget}
        results_file.write_text(json.dumps(results, indent=1, default=str))
    write(results, args.report)
    log(f"wrote {args.report} in {time.perf_counter() - started:.0f} s total")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
