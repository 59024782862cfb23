"""The parser processes of a bulk load, forked from a server that has loaded the parser once."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import forkserver
from pathlib import Path

# Below this many files in one batch, parsing in the service's own process is faster than
# starting parser processes (about a second).
POOL_MIN = 1000


def cores() -> int:
    return len(os.sched_getaffinity(0))


def start_server() -> None:
    """Start the fork server; it returns at once, and the server loads while we go on.

    The server imports the parser and loads the language models (feedsvc.preload), so each parser
    process forks ready to parse and shares the models' ~100 MB with the others.
    """
    multiprocessing.get_context("forkserver").set_forkserver_preload(["feedsvc.preload"])
    forkserver.ensure_running()


def start_server_for_cold_start(seeds: Path, state_dir: Path) -> bool:
    """On a cold start (no index yet) over a folder of many files, start the server before the
    service has even imported its modules: its ~0.5 s of loading then overlaps ours."""
    if cores() < 2 or (state_dir / "index.sqlite3").exists():
        return False
    try:
        with os.scandir(seeds) as entries:
            many = sum(1 for _, _ in zip(range(POOL_MIN), entries)) >= POOL_MIN
    except OSError:
        return False
    if many:
        start_server()
    return many


def executor() -> ProcessPoolExecutor:
    """A parser process per core, forked from the server (started now if it is not running)."""
    start_server()
    return ProcessPoolExecutor(cores(), mp_context=multiprocessing.get_context("forkserver"))


def stop_server() -> None:
    """Stop the fork server: it holds the language models, and the next bulk load starts it again.

    CPython keeps the server for the life of the process and offers no public way to stop it; its
    test hook does exactly that, and where it is missing the server only costs memory.
    """
    stop = getattr(getattr(forkserver, "_forkserver", None), "_stop", None)
    if stop is not None:
        stop()
