"""External feed clients against a real `feedsvc serve`: feedparser, newsboat, sfeed, the RFC 4287 schema."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import CONFORMANCE, SEED, make_doc, require_tool, write


@pytest.fixture
def served(seeds: Path, state: Path, server_factory: Any) -> Any:
    shutil.copy(SEED, seeds)
    for n in range(4):
        write(seeds, f"doc-{n}.txt", make_doc(n, date=f"1{n}.02.2024"))
    write(seeds, "en-only.txt", "Reuters.- 02.03.2024\n\nBy Jane Doe\n\n## Markets rally on rate hopes\n\n"
          "Stocks rose on Monday. Traders said the move was expected.\n")
    return server_factory(seeds, state)


@pytest.mark.parametrize("prefix, entries", [("", 6), ("/en", 6), ("/uk", 5)])
def test_run_all_checks(served: Any, tmp_path: Path, prefix: str, entries: int) -> None:
    for tool in ("newsboat", "sfeed", "jing", "curl"):
        require_tool(tool)
    logs = tmp_path / f"logs{prefix.replace('/', '-')}"
    result = subprocess.run(
        ["bash", str(CONFORMANCE / "run_all.sh"), served.url, f"{prefix}/feed.rss", f"{prefix}/feed.atom"],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "EXPECT_ENTRIES": str(entries), "HARNESS_LOG_DIR": str(logs),
             # the checks run `python3`: ours, which has feedparser and lxml
             "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"})
    report = result.stdout + result.stderr
    assert result.returncode == 0, report + "".join(p.read_text() for p in sorted(logs.glob("*.log")))
    # Every check ran: four clients on two feeds, none skipped.
    assert report.count("PASS") >= 7, report
