"""Serve a fixed folder (fixed names, bytes and file times) with a real `feedsvc serve` and write
every representation a client can fetch into an output folder: the byte-identity check's inputs."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PATHS = ["/feed.atom", "/feed.rss", "/feed.json", "/en/feed.atom", "/en/feed.rss", "/en/feed.json",
         "/uk/feed.atom", "/uk/feed.rss", "/uk/feed.json", "/", "/feed.atom?limit=2", "/feed.json?limit=2&page=2",
         "/uk/feed.rss?limit=3&page=2"]
BASE = "http://golden.test"
MTIME = 1_700_000_000  # a fixed instant: the corpus's file times, one second apart


def corpus(folder: Path) -> None:
    """The seed, the parser's test documents, and a few dated and undated variants of the seed."""
    sources = sorted((ROOT / "seeds").glob("*.txt")) + sorted((ROOT / "tests" / "documents").glob("*.txt"))
    for n, src in enumerate(sources):
        dest = folder / f"{n:03d}_{src.name}"
        shutil.copyfile(src, dest)
        os.utime(dest, (MTIME + n, MTIME + n))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def capture(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        seeds, state = Path(tmp, "seeds"), Path(tmp, "state")
        seeds.mkdir()
        corpus(seeds)
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "feedsvc", "serve", "--seeds", str(seeds), "--state-dir",
                                 str(state), "--port", str(port), "--base-url", BASE, "--rescan-interval", "0"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(url + "/healthz", timeout=1):
                        break
                except (OSError, urllib.error.HTTPError):
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            for path in PATHS:
                with urllib.request.urlopen(url + path, timeout=10) as response:
                    name = path.strip("/").replace("/", "_").replace("?", "__").replace("&", "_") or "home"
                    (out / name).write_bytes(response.read())
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    capture(Path(sys.argv[1]))
