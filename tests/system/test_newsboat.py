"""A real reader: newsboat in a terminal (tmux), its article list as a subscriber sees it."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from helpers import SEED, make_doc, past_the_second, poll_until, require_tool, write
from helpers.corpora import older_article
from helpers.feeds import first_ids
from helpers.servers import Server


def published(server: Server, path: str = "/feed.json") -> dict[str, str]:
    status, _, body = server.get(path + "?limit=500")
    assert status == 200
    return {item["id"]: item["date_published"] for item in json.loads(body)["items"]}


# -- a real reader ---------------------------------------------------------------------------------


def test_newsboat_list_view_shows_the_late_digest_first(seeds: Path, state: Path, server_factory: Any,
                                                        tmp_path: Path) -> None:
    """newsboat in a terminal: its article list, as a subscriber sees it, newest first."""
    require_tool("newsboat")
    tmux = require_tool("tmux")
    shutil.copy(SEED, seeds)
    for n in range(5):
        write(seeds, f"recent-{n}.txt", make_doc(n, date="20.11.2026"))
    server = server_factory(seeds, state)
    # Readers keep whole seconds: the late digest must be a second newer than the rest.
    latest = max(dt.datetime.fromisoformat(d) for d in published(server).values())
    past_the_second(latest.timestamp(), "the newest digest's date")
    write(seeds, "late.txt", older_article(9))
    poll_until(lambda: first_ids(server)["/feed.atom"] == "late", "the late digest")
    home = tmp_path / "nb"
    home.mkdir()
    (home / "urls").write_text(server.url + "/feed.atom\n")
    (home / "config").write_text("auto-reload no\nshow-read-feeds yes\n")
    session = f"feedsvc-{os.getpid()}"
    env = {**os.environ, "HOME": str(home), "TERM": "xterm-256color", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    command = f"newsboat -C {home}/config -u {home}/urls -c {home}/cache.db -r"
    subprocess.run([tmux, "new-session", "-d", "-s", session, "-x", "220", "-y", "40", command], env=env, check=True)
    try:
        def screen() -> str:
            return subprocess.run([tmux, "capture-pane", "-p", "-t", session], capture_output=True, text=True,
                                  env=env).stdout

        poll_until(lambda: "(7/7)" in screen() or "7 unread" in screen(), "newsboat to load the feed", 30)
        subprocess.run([tmux, "send-keys", "-t", session, "Enter"], env=env, check=True)
        poll_until(lambda: "Давня стаття номер 9" in screen(), "the article list", 15)
        rows = [line for line in screen().splitlines() if re.match(r"\s*\d+\s", line)]
        assert rows and "Давня стаття номер 9 нарешті в огляді / An older article number 9" in rows[0], rows
        assert len(rows) == 7, rows
    finally:
        subprocess.run([tmux, "kill-session", "-t", session], env=env, capture_output=True)
    with sqlite3.connect(home / "cache.db") as db:
        titles = [t for (t,) in db.execute("SELECT title FROM rss_item ORDER BY pubDate DESC")]
    assert titles[0].startswith("Давня стаття номер 9") and " / An older article" in titles[0]
