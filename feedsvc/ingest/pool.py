"""Parser processes: documents are parsed here, never in the service's own process.

They fork from a server that has imported the parser and loaded the language models once
(feedsvc.ingest.preload), so they start ready and share what it holds (~126 MiB after loading,
models and dictionaries included: bench/history.md). Loading those models holds the GIL for
about half a second; in the service's own process that froze every request after a start. One
process does the changes of a running service; a bulk load gets one per core, and they go when
it is done.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import threading
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import forkserver

log = logging.getLogger("feedsvc.pool")

# From this many files in one batch, a bulk load: a parser process per core.
POOL_MIN = 1000
# Seconds the first parser process may take to start (the fork server loads in ~0.5 s).
START_TIMEOUT = 60
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Linux: this process gets SIGTERM when the one that forked it dies, so a service killed with
    SIGKILL (an OOM kill, a supervisor) leaves no parser process behind. The fork server itself
    already exits when the service's end of its pipe closes."""
    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the pool's own shutdown is all there is
        return
    # The parent died before prctl took effect: we were handed to another process. Not "our
    # parent is PID 1": in a container the service itself is PID 1.
    if os.getppid() != parent:
        os._exit(0)


def start_child(nice: int = 0) -> None:
    """A pool process's first act: go with the parent; lower its own priority by `nice`."""
    die_with_parent()
    if nice:
        os.nice(nice)


def cores() -> int:
    return len(os.sched_getaffinity(0))


def start_server() -> None:
    """Start the fork server; it returns at once, and the server loads while we go on.

    `feedsvc serve` calls this before importing the rest of the service, so the server's
    half-second of loading overlaps ours.
    """
    multiprocessing.get_context("forkserver").set_forkserver_preload(["feedsvc.ingest.preload"])
    forkserver.ensure_running()


class Parsers:
    """The parser processes of one service: one while it runs, one per core during a bulk load.

    A single pool of one process per core; processes are forked as work arrives, and a batch
    that is not a bulk load is one task, so between bulk loads one process does it all. When a
    bulk load ends, the pool is replaced by a fresh one, so its extra processes go.

    `size`, `what` and `nice` make other pools forked from the same server (the variant renderer).
    """

    def __init__(self, size: int | None = None, what: str = "parser processes", nice: int = 0) -> None:
        self._size = size
        self._what = what
        self._nice = nice
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self._failed = False

    def executor(self) -> Executor | None:
        """The parser processes, with one forked and idle (the first call waits for the fork
        server to load, ~0.5 s); None if none can be started here, and the caller then parses in
        its own thread."""
        with self._lock:
            if self._pool is None and not self._failed:
                pool: ProcessPoolExecutor | None = None
                try:
                    start_server()
                    context = multiprocessing.get_context("forkserver")
                    pool = ProcessPoolExecutor(self._size or cores(), mp_context=context,
                                               initializer=start_child, initargs=(self._nice,))
                    # Forked here, under the lock: a caller that found no idle process would fork
                    # a second one, which would then idle beside the first.
                    pool.submit(os.getpid).result(timeout=START_TIMEOUT)
                    self._pool = pool
                except (OSError, BrokenProcessPool, TimeoutError) as exc:  # no writable /tmp, say
                    self._failed = True
                    log.warning("cannot start %s (%s); doing their work in the service's process",
                                self._what, exc or type(exc).__name__)
                    if pool is not None:
                        pool.shutdown(wait=False, cancel_futures=True)
            return self._pool

    def current(self) -> Executor | None:
        """The running processes, if any, without starting them (safe on the event loop)."""
        return self._pool

    def end_bulk(self) -> None:
        """A bulk load is over: a fresh pool with one process replaces the one it grew."""
        self.close()
        self.executor()

    def close(self) -> None:
        """Let the processes go; the next use starts a fresh pool (after one died, say)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
