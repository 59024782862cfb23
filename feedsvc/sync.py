"""Sync: keeps the index in line with the seeds folder. Watcher batches and rescans go through
ingest; a supervisor notices a vanished folder or a dead watcher and repairs both."""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from .health import Concern, Problem
from .ingest import Ingest, Outcome, RootUnavailable
from .metrics import Metrics
from .settings import Settings
from .watcher import Watcher
from .worker import Worker

log = logging.getLogger("feedsvc.sync")

# From this many new or changed files in one batch, what is left behind is long-lived.
_BULK = 1000


@dataclass(slots=True)
class Pending:
    """What to bring in line with the disk next: single files, whole folders, or everything."""

    files: set[str] = field(default_factory=set)
    folders: set[str] = field(default_factory=set)
    rescan: bool = False

    def __bool__(self) -> bool:
        return bool(self.files or self.folders or self.rescan)


class Sync:
    """Owns the watcher and the queue of paths to read; hands every batch's outcome on."""

    def __init__(self, settings: Settings, ingest: Ingest, worker: Worker, metrics: Metrics,
                 on_change: Callable[[Outcome], Awaitable[None]]) -> None:
        self.settings = settings
        self.ingest = ingest
        self.ready = False
        self.last_change: dt.datetime | None = None
        self._worker = worker
        self._metrics = metrics
        self._on_change = on_change
        self._pending = Pending(rescan=True)
        self._wake = asyncio.Event()
        self._root_problem: str | None = None
        self._sync_problem: str | None = None
        self.watcher = Watcher(settings.seeds, mode=settings.watch, debounce=settings.debounce,
                               poll_interval=settings.poll_interval, on_ready=self.enqueue,
                               on_event=self._count_event, loop=asyncio.get_running_loop())

    # -- input -----------------------------------------------------------------------------

    def enqueue(self, files: Iterable[str] = (), folders: Iterable[str] = (), rescan: bool = False) -> None:
        """Files, folders (relative paths) or the whole folder to bring in line with the disk."""
        self._pending.files.update(files)
        self._pending.folders.update(folders)
        self._pending.rescan |= rescan
        self._wake.set()

    def _count_event(self, kind: str) -> None:
        self._metrics.watch_events.labels(kind).inc()

    def _start_watcher(self) -> None:
        try:
            self.watcher.start()
        except OSError as exc:
            self._root_problem = f"seeds folder {str(self.settings.seeds)!r} cannot be watched: {exc.strerror or exc}"
            log.error("%s", self._root_problem)
        self._metrics.watcher_up.set(1 if self.watcher.alive else 0)

    # -- the loop: one batch at a time, each handed on before the next --------------------

    async def run(self) -> None:
        self._start_watcher()
        while True:
            if self._pending:
                await self._apply_pending()
            else:
                self._wake.clear()
                await self._wake.wait()

    async def _apply_pending(self) -> None:
        batch, self._pending = self._pending, Pending()
        started = time.perf_counter()
        self.ingest.busy = self.watcher.busy()
        try:
            outcome = await self._worker.run(self._apply, batch)
        except RootUnavailable as exc:
            self._set_root_problem(str(exc))
            outcome = Outcome()
        except Exception as exc:  # a bug must not stop the loop: say so, and rescan soon
            log.exception("ingest failed; rescanning in 5 s")
            self._sync_problem = f"ingest failed: {type(exc).__name__}: {exc}; the feeds may miss changes"
            asyncio.get_running_loop().call_later(5.0, self.enqueue, (), (), True)
            outcome = Outcome()
        else:
            self._metrics.ingest_seconds.observe(time.perf_counter() - started)
            if batch.rescan:
                self._sync_problem = None  # a whole scan went through: the index matches the folder
                if self._root_problem is not None:
                    self._set_root_problem(None)
        if outcome.unsettled:
            asyncio.get_running_loop().call_later(self.settings.debounce * 5, self.enqueue, set(outcome.unsettled))
        if outcome.visible:
            self.last_change = dt.datetime.now(dt.UTC)
        await self._on_change(outcome)
        if not self.ready:
            self.ready = True
            summary = self.ingest.index.summary
            log.info("ready: %d documents, %d rejected", summary.counts[None], len(summary.rejected))
            self._collect_long_lived()
        elif len(outcome.added) + len(outcome.changed) >= _BULK:
            self._collect_long_lived()

    @staticmethod
    def _collect_long_lived() -> None:
        # What a bulk load leaves is long-lived: keep it out of the collector's full passes,
        # which otherwise walk every indexed file's state on the change path.
        gc.collect()
        gc.freeze()

    def _apply(self, batch: Pending) -> Outcome:
        outcome = Outcome()
        if batch.rescan:
            outcome.merge(self.ingest.reconcile())
        else:
            for folder in sorted(batch.folders):
                outcome.merge(self.ingest.reconcile(folder))
        if batch.files:
            outcome.merge(self.ingest.process(batch.files))
        return outcome

    # -- supervision -----------------------------------------------------------------------

    def _set_root_problem(self, problem: str | None) -> None:
        if problem != self._root_problem:
            if problem:
                log.error("%s; serving the last good feeds", problem)
            else:
                log.info("seeds folder is back")
        self._root_problem = problem

    async def supervise(self) -> None:
        """Once a second: is the folder there and the watcher alive? Rescan on schedule."""
        last_scan = time.monotonic()
        while True:
            await asyncio.sleep(1.0)
            try:
                await self._worker.run(self.ingest.check_root)
            except RootUnavailable as exc:
                self._set_root_problem(str(exc))
                continue
            if not self.watcher.alive:
                log.warning("watcher stopped; restarting it and rescanning")
                await asyncio.get_running_loop().run_in_executor(None, self.watcher.stop)
                self._start_watcher()
                self.enqueue(rescan=True)
                last_scan = time.monotonic()
            elif self._root_problem is not None:
                self.enqueue(rescan=True)
            interval = self.settings.rescan_interval
            if interval and time.monotonic() - last_scan >= interval:
                self.enqueue(rescan=True)
                last_scan = time.monotonic()
            self._metrics.watcher_up.set(1 if self.watcher.alive else 0)

    def problems(self) -> list[Problem]:
        found = []
        if self._root_problem:
            found.append(Problem(Concern.SEEDS, self._root_problem))
        if self._sync_problem:
            found.append(Problem(Concern.SYNC, self._sync_problem))
        if self.ready and not self.watcher.alive:
            found.append(Problem(Concern.WATCHER, "watcher stopped; restarting it"))
        return found

    async def stop(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.watcher.stop)
