"""The home page in a real browser: headless Chromium renders it, with no CSP violation."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from conftest import SEED, make_doc, require_tool, write

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0"]


def test_home_page_renders_in_chromium(seeds: Path, state: Path, server_factory: Any, tmp_path: Path) -> None:
    chromium = require_tool("chromium")
    shutil.copy(SEED, seeds)
    server = server_factory(seeds, state)
    shot = tmp_path / "home.png"
    common = [chromium, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,1400"]
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
    common = [chromium, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=400,900"]
    dom = subprocess.run([*common, "--dump-dom", server.url + "/"], capture_output=True, text=True, timeout=90).stdout
    assert 0 < dom.index("<table") < dom.index("<article"), "subscribe links come before the entries"
    assert dom.count("<article") == 20 and 'href="/?page=2"' in dom
    older = subprocess.run([*common, "--dump-dom", server.url + "/?page=2"], capture_output=True, text=True,
                           timeout=90).stdout
    assert older.count("<article") == 5 and 'href="/"' in older
