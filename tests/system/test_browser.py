"""Pages in a real browser: headless Chromium renders the home page, the newsroom's status page and
the topic and search pages, with no CSP violation."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from helpers import CHROMIUM_FLAGS, ROOT, SEED, make_doc, require_tool, write
from helpers.corpora import newsroom_folder, topics_corpus


def test_home_page_renders_in_chromium(seeds: Path, state: Path, server_factory: Any, tmp_path: Path) -> None:
    chromium = require_tool("chromium")
    shutil.copy(SEED, seeds)
    server = server_factory(seeds, state)
    shot = tmp_path / "home.png"
    common = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,1400"]
    dom = subprocess.run([*common, "--dump-dom", server.url + "/"], capture_output=True, text=True, timeout=90)
    assert "володимир путін і Кім Чен Ин" in dom.stdout and "vladimir putin and Kim Jong Un" in dom.stdout
    assert dom.stdout.count('rel="alternate"') == 9
    assert "Content Security Policy" not in dom.stderr, dom.stderr
    subprocess.run([*common, f"--screenshot={shot}", server.url + "/"], capture_output=True, timeout=90)
    png = shot.read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 20_000, "a blank page compresses to a few KB"


def test_home_page_in_chromium_puts_subscribing_first_and_pages_on(seeds: Path, state: Path,
                                                                   server_factory: Any, tmp_path: Path) -> None:
    """With more digests than fit a page: the subscribe table is above the first entry in the
    rendered page, and the link to older entries leads to a page that renders too."""
    chromium = require_tool("chromium")
    for n in range(25):
        write(seeds, f"d{n:02d}.txt", make_doc(n))
    server = server_factory(seeds, state)
    common = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=400,900"]
    dom = subprocess.run([*common, "--dump-dom", server.url + "/"], capture_output=True, text=True, timeout=90).stdout
    assert 0 < dom.index("<table") < dom.index("<article"), "subscribe links come before the entries"
    assert dom.count("<article") == 20 and 'href="/?page=2"' in dom
    older = subprocess.run([*common, "--dump-dom", server.url + "/?page=2"], capture_output=True, text=True,
                           timeout=90).stdout
    assert older.count("<article") == 5 and 'href="/"' in older


# -- the newsroom's status page ---------------------------------------------------------------------

def test_status_page_in_chromium(seeds: Path, state: Path, server_factory: Any, tmp_path: Path) -> None:
    """Rendered by a real browser, its refresh script allowed by the page's policy; the screenshot
    is the one in docs/."""
    chromium = require_tool("chromium")
    newsroom_folder(seeds)
    shutil.copy(SEED, seeds)
    server = server_factory(seeds, state)
    common = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=420,1100"]
    dom = subprocess.run([*common, "--virtual-time-budget=3000", "--dump-dom", server.url + "/status"],
                         capture_output=True, text=True, timeout=90)
    assert 'id="files"' in dom.stdout and "no-title.txt" in dom.stdout
    assert "Content Security Policy" not in dom.stderr and "Refused to" not in dom.stderr, dom.stderr[-2000:]
    shot = tmp_path / "status.png"
    subprocess.run([*common, f"--screenshot={shot}", server.url + "/status"], capture_output=True, timeout=90)
    assert shot.read_bytes().startswith(b"\x89PNG")
    if os.environ.get("FEEDSVC_UPDATE_SCREENSHOTS"):
        shutil.copy(shot, ROOT / "docs" / "status.png")


# -- topic and search pages ---------------------------------------------------------------------

def test_topic_and_search_pages_in_chromium(seeds: Path, state: Path, server_factory: Any, tmp_path: Path) -> None:
    chromium = require_tool("chromium")
    topics_corpus(seeds)
    server = server_factory(seeds, state)
    common = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=420,900"]
    for path, expected in (("/topics", "Associated Press"), ("/search?q=%D1%81%D0%B0%D0%BD%D0%BA%D1%86%D1%96%D1%97",
                                                             "Санкції проти росії посилюються")):
        dom = subprocess.run([*common, "--dump-dom", server.url + path], capture_output=True, text=True, timeout=90)
        assert expected in dom.stdout, path
        assert "Content Security Policy" not in dom.stderr, dom.stderr[-1000:]
