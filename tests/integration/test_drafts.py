"""The editors' drafts folder (`_drafts/`, at any depth): a real server never publishes what is in
it, publishes a file moved out of it, and unpublishes one moved into it; `feedsvc check` checks a
draft named on its command line and says it is one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from helpers import make_doc, poll_until, write
from helpers.servers import served

from feedsvc.documents.files import DRAFTS

FEEDS = ("/feed.atom", "/feed.rss", "/feed.json", "/en/feed.atom", "/uk/feed.json")


def in_no_feed(server: Any, text: str) -> bool:
    """Whether none of the feeds mentions `text` (a draft's title, say)."""
    for path in FEEDS:
        status, _, body = server.get(path)
        assert status == 200, (path, body[:200])
        if text.encode() in body:
            return False
    return True


def test_drafts_are_never_published_and_moves_publish_and_unpublish(seeds: Path, state: Path,
                                                                    server_factory: Any) -> None:
    write(seeds, "out.txt", make_doc(1))
    write(seeds / DRAFTS, "draft.txt", make_doc(2, en="A draft title the feeds must never show"))
    write(seeds / "desk" / DRAFTS, "deep.txt", make_doc(3, en="A desk draft the feeds must never show"))
    server = server_factory(seeds, state)
    assert served(server) == {"out"}
    assert in_no_feed(server, "must never show")

    # A draft saved while the server runs stays out too (the watcher hears of it; ingest skips it).
    write(seeds / DRAFTS, "later.txt", make_doc(4, en="A later draft"))
    write(seeds, "marker.txt", make_doc(5))  # saved after it: once this is out, the draft was seen
    poll_until(lambda: served(server) == {"out", "marker"}, "the marker to be published", 10.0)
    assert in_no_feed(server, "A later draft")

    # Out of the drafts folder: published, under the id of where it lands.
    os.rename(seeds / DRAFTS / "draft.txt", seeds / "draft.txt")
    poll_until(lambda: "draft" in served(server), "a draft moved out to be published", 10.0)
    os.rename(seeds / "desk" / DRAFTS / "deep.txt", seeds / "desk" / "deep.txt")
    poll_until(lambda: "desk/deep" in served(server), "a desk's draft moved out to be published", 10.0)

    # Into the drafts folder: unpublished.
    os.rename(seeds / "out.txt", seeds / DRAFTS / "out.txt")
    poll_until(lambda: "out" not in served(server), "a file moved into the drafts to be unpublished", 10.0)
    assert served(server) == {"draft", "desk/deep", "marker"}

    # A whole folder moved into a drafts folder goes with its files.
    write(seeds / "story", "part.txt", make_doc(6))
    poll_until(lambda: "story/part" in served(server), "a story folder to be published", 10.0)
    os.rename(seeds / "story", seeds / DRAFTS / "story")
    poll_until(lambda: "story/part" not in served(server), "a folder moved into the drafts to go", 10.0)

    # A restart (a full scan) keeps it so.
    server.stop()
    server = server_factory(seeds, state)
    assert served(server) == {"draft", "desk/deep", "marker"}


def check(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "feedsvc", "check", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})


def test_check_checks_a_draft_and_says_it_is_one(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    write(seeds / DRAFTS, "x.txt", make_doc(1))
    write(seeds / DRAFTS, "bad.txt", "no title here\n")
    write(seeds, "out.txt", make_doc(2))

    named = check("seeds/_drafts/x.txt", cwd=tmp_path)
    assert named.returncode == 0, named.stdout + named.stderr
    assert "seeds/_drafts/x.txt: note: a draft (inside _drafts/): not published" in named.stdout
    assert "1 file: 0 would be published (0 with warnings), 1 draft" in named.stdout

    bad = check("seeds/_drafts/bad.txt", cwd=tmp_path)
    assert bad.returncode == 1  # a draft the service would reject once moved out is still an error
    assert "seeds/_drafts/bad.txt: error: no title" in bad.stdout
    assert "seeds/_drafts/bad.txt: note: a draft" in bad.stdout

    as_json = check("--json", "seeds/_drafts/x.txt", cwd=tmp_path)
    record = json.loads(as_json.stdout.splitlines()[0])
    assert (record["state"], record["draft"], record["feeds"][0]) == ("draft", True, "bilingual")

    # The seeds folder walked as the service walks it: the drafts left out; the drafts folder, checked.
    whole = check("seeds", cwd=tmp_path)
    assert whole.returncode == 0 and "_drafts" not in whole.stdout, whole.stdout
    assert "1 file: 1 would be published" in whole.stdout
    drafts = check("seeds/_drafts", cwd=tmp_path)
    assert drafts.returncode == 1
    assert "2 files: 0 would be published (0 with warnings), 1 draft" in drafts.stdout
