"""Search at 100,000 documents: `?q=` latency on a cold cache, the search table's share of the index, what
the search index costs a cold start, and one change's freshness at that size.

The server (core 0) starts on the index scale kept (bench/out/index-cache-100000; a cold start builds
it when absent). This process (core 1) sends one query at a time over a keep-alive connection:
`/feed.atom?q=…` (50 entries, the default limit). Every query string is distinct — a word form from
a pool (`sanction`, `sanctions`, `санкцій`…) plus a random excluded word (`-zqxwv`) that no document
has — so no rendered variant is ever reused: each answer is a SQLite FTS5 match, a render and the
send. One-word and three-word queries alternate in rounds (order flipped each round).
"""

from __future__ import annotations

import random
import shutil
import sqlite3
import string
import tempfile
import time
import urllib.parse
from pathlib import Path

from common import CLIENT_CORE, OUT, Client, Feedsvc, log, median, percentile, pin_self, spread, unpin_self
from gen import corpus, seeds_copy
from scale import changes, load_cache, save_cache

SIZE = 100_000
ONE_WORD = ["sanction", "sanctions", "drone", "drones", "winter", "winters", "harvest", "harvests",
            "parliament", "parliaments", "shelter", "shelters", "siren", "sirens", "bridge", "bridges",
            "lender", "lenders", "investor", "investors", "reform", "reforms", "soldier", "soldiers",
            "diplomat", "diplomats", "analyst", "analysts", "economist", "economists", "farmer", "farmers",
            "commander", "commanders", "санкційної", "санкційна", "дронів", "дрони", "зерна", "зерно",
            "парламенти", "парламент", "мосту", "міст", "фермери", "фермерів", "аналітики", "аналітик",
            "дипломати", "дипломатів", "саміту", "саміт", "агресію", "агресія"]
# Words of the corpus's sentence pool: any three of them hit many documents.
THREE_POOL = ["leaders", "summit", "talks", "decision", "government", "agreement", "diplomats", "measures",
              "ministry", "defence", "farmers", "harvest", "economists", "energy", "prices", "report",
              "soldiers", "bridge", "parliament", "president", "reporters", "humanitarian", "shortages",
              "officials", "promises", "drones", "investors", "reforms", "minister", "lenders", "residents",
              "sirens", "лідери", "саміту", "уряд", "угоду", "дипломати", "фермери", "економісти", "мосту"]


def _junk(rng: random.Random) -> str:
    return "-zq" + "".join(rng.choice(string.ascii_lowercase) for _ in range(7))


def query(rng: random.Random, words: int) -> str:
    chosen = [rng.choice(ONE_WORD)] if words == 1 else rng.sample(THREE_POOL, 3)
    return urllib.parse.quote(" ".join([*chosen, _junk(rng)]))


def timed_queries(client: Client, rng: random.Random, words: int, n: int) -> tuple[list[float], list[int]]:
    lat, hits = [], []
    for _ in range(n):
        path = f"/feed.atom?q={query(rng, words)}"
        t0 = time.perf_counter()
        status, _, body = client.get(path)
        lat.append(time.perf_counter() - t0)
        if status != 200:
            raise RuntimeError(f"{path}: {status} {body[:200]!r}")
        hits.append(body.count(b"<entry>"))
    return lat, hits


def index_sizes(state: Path, work: Path) -> dict[str, object]:
    """Bytes of the index, of the search table (dbstat), and of a copy with the search table dropped."""
    copy = work / "index-copy.sqlite3"
    for f in state.glob("index.sqlite3*"):
        shutil.copy2(f, work / f.name.replace("index.sqlite3", "index-copy.sqlite3"))
    db = sqlite3.connect(copy)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.execute("PRAGMA journal_mode=DELETE")
    total = copy.stat().st_size
    per_table = dict(db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall())
    search_bytes = sum(v for k, v in per_table.items() if k == "search" or k.startswith("search_"))
    rows = db.execute("SELECT count(*) FROM search").fetchone()[0]
    t0 = time.perf_counter()
    db.execute("DROP TABLE search")
    db.commit()
    db.execute("VACUUM")
    vacuum_s = time.perf_counter() - t0
    db.close()
    without = copy.stat().st_size
    return {"index_bytes": total, "search_bytes_dbstat": search_bytes, "search_rows": rows,
            "index_without_search_bytes": without, "drop_vacuum_s": vacuum_s,
            "tables": {k: v for k, v in sorted(per_table.items(), key=lambda kv: -kv[1])[:12]}}


def fts_experiment(state: Path, work: Path, seeds: Path, size: int, sample_files: int = 2000) -> dict[str, object]:
    """The search index's share of a cold start, measured apart from the service: the same words
    inserted into a fresh FTS5 table like the service's, in transactions of 500 rows, and the
    lemmatisation of raw document text (a sample, scaled to the corpus)."""
    src = sqlite3.connect(state / "index.sqlite3")
    words = src.execute("SELECT rowid, words FROM search").fetchall()
    src.close()
    dst_path = work / "fts-experiment.sqlite3"
    dst = sqlite3.connect(dst_path, isolation_level=None)
    dst.execute("PRAGMA journal_mode=WAL")
    dst.execute("PRAGMA synchronous=NORMAL")
    dst.execute("CREATE VIRTUAL TABLE search USING fts5(words, detail=none, columnsize=0, "
                "tokenize='unicode61 remove_diacritics 0')")
    t0 = time.perf_counter()
    for i in range(0, len(words), 500):
        dst.execute("BEGIN IMMEDIATE")
        dst.executemany("INSERT INTO search (rowid, words) VALUES (?, ?)", words[i:i + 500])
        dst.execute("COMMIT")
    insert_s = time.perf_counter() - t0
    dst.close()
    from feedsvc.documents.words import lemmas, warm_up

    warm_up()
    files = sorted(seeds.glob("*.txt"))[:sample_files]
    texts = [f.read_text(encoding="utf-8") for f in files]
    t0 = time.perf_counter()
    for text in texts:
        " ".join(lemmas(text))
    lemma_s = (time.perf_counter() - t0) * (size / max(1, len(texts)))
    return {"rows": len(words), "fts_insert_s": insert_s, "lemmatise_s_scaled": lemma_s,
            "lemmatise_sample": len(texts), "mean_words_chars": sum(len(w) for _, w in words) / max(1, len(words))}


def run(*, rounds: int, per_round: int, change_count: int, cold_cap: float, size: int = SIZE) -> dict[str, object]:
    work = Path(tempfile.mkdtemp(prefix="feedsvc-bench-search-"))
    res: dict[str, object] = {"documents": size}
    try:
        seeds = seeds_copy(corpus(OUT, size), work / "seeds")
        state = work / "state"
        if load_cache(state, size):
            res["index_from"] = f"bench/out/index-cache-{size} (kept by scale's cold start)"
        else:
            res["index_from"] = "a cold start in this section (no cached index of this size)"
            svc = Feedsvc(seeds, state, name=f"search-{size}-cold", core=None)
            try:
                took = svc.wait_ready(cold_cap)
                if took is None:
                    raise RuntimeError(f"cold start at {size} not ready after {cold_cap:.0f} s")
                res["cold_s_here"] = took
            finally:
                svc.stop()
            save_cache(state, size)
        svc = Feedsvc(seeds, state, name=f"search-{size}")
        try:
            if svc.wait_ready(300) is None:
                raise RuntimeError("feedsvc not ready within 300 s")
            res["ready_s"] = svc.ready_s
            time.sleep(1.0)
            client = Client(svc.port, timeout=30)
            rng = random.Random(5)
            timed_queries(client, rng, 1, 5)  # first connection, first statements
            one: list[float] = []
            three: list[float] = []
            hits1: list[int] = []
            hits3: list[int] = []
            p99_1: list[float] = []
            p99_3: list[float] = []
            pin_self(CLIENT_CORE)
            try:
                for r in range(rounds):
                    for words in ((1, 3) if r % 2 == 0 else (3, 1)):
                        lat, hits = timed_queries(client, rng, words, per_round)
                        (one if words == 1 else three).extend(lat)
                        (hits1 if words == 1 else hits3).extend(hits)
                        (p99_1 if words == 1 else p99_3).append(percentile(lat, 99))
            finally:
                unpin_self()
            client.close()
            for name, lat, hits, p99s in (("one_word", one, hits1, p99_1), ("three_words", three, hits3, p99_3)):
                res[name] = {"queries": len(lat), "p50_s": percentile(lat, 50), "p90_s": percentile(lat, 90),
                             "p99_s": percentile(lat, 99), "max_s": max(lat),
                             "round_p99_spread_ms": spread([x * 1000 for x in p99s]),
                             "hits_median": median(hits), "hits_min": min(hits),
                             "zero_hit_queries": sum(1 for h in hits if h == 0)}
                log(f"search {size}: {name}: p50 {percentile(lat, 50) * 1000:.1f} ms, p99 "
                    f"{percentile(lat, 99) * 1000:.1f} ms over {len(lat)} distinct queries; entries per answer "
                    f"median {median(hits)}, min {min(hits)}")
            lat = changes(svc, seeds, count=change_count, tag=f"s{size}")
            res["change_s"] = lat
            res["change_p50_s"] = percentile(lat, 50)
            res["change_p99_s"] = percentile(lat, 99)
            res["change_max_s"] = max(lat)
            log(f"search {size}: one change visible p50 {res['change_p50_s'] * 1000:.1f} ms, p99 "
                f"{res['change_p99_s'] * 1000:.1f} ms ({len(lat)} changes)")
            res["peak_rss_kb"] = svc.vm_hwm_kb()
        finally:
            svc.stop()
        res["sizes"] = index_sizes(state, work)
        sz = res["sizes"]
        log(f"search {size}: index {sz['index_bytes'] / 2**20:.0f} MiB, search table {sz['search_bytes_dbstat'] / 2**20:.0f} MiB "  # type: ignore[index]
            f"(dbstat); without it {sz['index_without_search_bytes'] / 2**20:.0f} MiB")  # type: ignore[index]
        res["fts"] = fts_experiment(state, work, seeds, size)
        log(f"search {size}: FTS inserts of {res['fts']['rows']} rows {res['fts']['fts_insert_s']:.2f} s; "  # type: ignore[index]
            f"lemmatising the text ~{res['fts']['lemmatise_s_scaled']:.1f} s (scaled from a sample)")  # type: ignore[index]
        return res
    finally:
        shutil.rmtree(work, ignore_errors=True)
