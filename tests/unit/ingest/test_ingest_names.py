"""Any file name (bytes, not only UTF-8) and any mtime and size go through the real ingest and index
in-process: nothing raises, the good file is indexed, a second reconcile has nothing to do.
(The same hazards against a running service: integration/test_hardening.py.)"""

from __future__ import annotations

import datetime as dt
import json
import os
from typing import Any

from helpers import make_doc, write
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedsvc.ingest.ingest import Ingest
from feedsvc.store.index import Index

YEAR_2400 = int(dt.datetime(2400, 1, 1, tzinfo=dt.UTC).timestamp())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(names=st.lists(st.binary(min_size=1, max_size=12).filter(lambda b: b"/" not in b and b"\x00" not in b
                                                                   and b not in (b".", b"..")),
                      min_size=1, max_size=6, unique=True),
       mtimes=st.lists(st.integers(int(dt.datetime(1900, 1, 1, tzinfo=dt.UTC).timestamp()), YEAR_2400 + 10**8),
                       min_size=6, max_size=6),
       sizes=st.lists(st.integers(0, 3), min_size=6, max_size=6))
def test_any_name_and_stat_goes_through_the_real_ingest(tmp_path_factory: Any, names: list[bytes],
                                                        mtimes: list[int], sizes: list[int]) -> None:
    root = tmp_path_factory.mktemp("fuzz")
    seeds = root / "seeds"
    seeds.mkdir()
    good = write(seeds, "good.txt", make_doc(0))
    written = 1
    for n, raw in enumerate(names):
        name = os.fsdecode(raw + b".txt")
        text = make_doc(n + 1) if sizes[n] else ""  # some empty (rejected), most documents
        try:
            path = seeds / name
            path.write_text(text * max(1, sizes[n]))
            os.utime(path, (mtimes[n], mtimes[n]))
        except OSError:
            continue
        written += 1
    index = Index(root / "state")
    try:
        ingest = Ingest(seeds, index, pattern="*.txt", max_bytes=1 << 20)
        outcome = ingest.reconcile()
        assert good.name.removesuffix(".txt") in {e.document.id for e in index.page(None, 50, 0)}
        seen = {p for p in outcome.added} | {p for p, _ in outcome.rejected}
        hidden = {p for p in os.listdir(seeds) if p.startswith(".") or p.endswith("~") or p.startswith("#")
                  or p.endswith((".swp", ".swo", ".swx"))}
        assert len(seen) + len(hidden & set(os.listdir(seeds))) >= written - len(hidden), (seen, hidden)
        again = ingest.reconcile()  # nothing moved: nothing to do, and nothing raises
        assert not again.added and not again.changed and not again.removed
        summary = index.summary
        json.dumps([str(r) for _, r in summary.rejected])
    finally:
        index.close()
