"""Parser processes: documents are parsed here, never in the service's own process.

They fork from a server that has imported the parser and loaded the language models once
(feedsvc.preload), so they start ready and share the models' ~100 MB. Loading those models holds
the GIL for about half a second; in the service's own process that froze every request after a
start. One process stays for the changes of a running service; a bulk load gets one per core,
which go away when it is done.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from concurrent.futures import Executor, ProcessPoolExecutor
from multiprocessing import forkserver

log = logging.getLogger("feedsvc.pool")

# From this many files in one batch, a bulk load: a parser process per core.
POOL_MIN = 1000


def cores() -> int:
    return len(os.sched_getaffinity(0))


def start_server() -> None:
    """Start the fork server; it returns at once, and the server loads while we go on.

    `feedsvc serve` calls this before importing the rest of the service, so the server's
    half-second of loading overlaps ours.
    """
    multiprocessing.get_context("forkserver").set_forkserver_preload(["feedsvc.preload"])
    forkserver.ensure_running()


class Parsers:
    """The parser processes of one service: the steady one, and a bulk load's."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._steady: ProcessPoolExecutor | None = None
        self._bulk: ProcessPoolExecutor | None = None
        self._failed = False

    def start(self) -> None:
        """Fork the steady parser now (blocks until the fork server is up), so the first change
        after a start does not wait for it."""
        steady = self.executor(bulk=False)
        try:
            if steady is not None:
                steady.submit(os.getpid)
        except Exception as exc:  # noqa: BLE001 - the first batch will try again, and say why
            log.warning("cannot start the parser process yet: %s", exc)

    def executor(self, *, bulk: bool) -> Executor | None:
        """Where to parse: a bulk load's processes, else the steady one; None if no process can
        be started here, and the caller parses in its own thread."""
        with self._lock:
            if self._failed:
                return None
            try:
                if bulk and cores() > 1:
                    if self._bulk is None:
                        self._bulk = self._new(cores())
                    return self._bulk
                if self._steady is None:
                    self._steady = self._new(1)
                return self._steady
            except OSError as exc:  # no fork server (no writable temp folder, say)
                self._failed = True
                log.warning("cannot start parser processes (%s); parsing in the service's process", exc)
                return None

    @staticmethod
    def _new(workers: int) -> ProcessPoolExecutor:
        start_server()
        return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver"))

    def end_bulk(self) -> None:
        """A bulk load is over: its processes go."""
        with self._lock:
            bulk, self._bulk = self._bulk, None
        if bulk is not None:
            bulk.shutdown(wait=False, cancel_futures=True)

    def broken(self) -> None:
        """A parser process died: start afresh at the next use."""
        with self._lock:
            executors = [e for e in (self._bulk, self._steady) if e is not None]
            self._bulk = self._steady = None
        for executor in executors:
            executor.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        self.end_bulk()
        with self._lock:
            steady, self._steady = self._steady, None
        if steady is not None:
            steady.shutdown(wait=False, cancel_futures=True)
