"""The pipeline, in one loop: changes -> ingest -> index -> publish -> push.

`Pipeline.run` takes the next batch of changes (the watcher's paths and the supervisor's rescans,
merged in `watch.changes.Changes`), reads and indexes it on the worker thread (parser processes do
the parsing), tells the supervisor what a full scan found, renders the views the batch touched
(giving way to the next batch) and pushes each feed that went out. When no batch waits, it renders
what a round left when it gave way. One batch at a time: no batch is indexed while a round renders,
because both happen here, one after the other.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import logging
import time
from collections.abc import Collection, Iterable, Sequence
from typing import Protocol

from feedsvc.documents.model import Lang
from feedsvc.feeds.views import VIEW_LANGS
from feedsvc.ingest.ingest import BatchOutcome, Ingest, RootUnavailable
from feedsvc.ops.health import Concern, Problem
from feedsvc.ops.metrics import Metrics
from feedsvc.publish.publisher import Publisher
from feedsvc.push.websub.model import FeedChange
from feedsvc.settings import Settings
from feedsvc.store.worker import Worker
from feedsvc.watch.changes import Batch, Changes
from feedsvc.watch.supervisor import Supervisor

log = logging.getLogger("feedsvc.sync")

# From this many new or changed files in one batch, what is left behind is long-lived.
_BULK = 1000
# Seconds after ready the long-lived objects of the first scan are collected and frozen.
_SETTLE = 1.0


class Push(Protocol):
    """Where a feed that just changed goes: subscribers (WebSub) and the caches in front."""

    def __call__(self, changes: Sequence[FeedChange]) -> None: ...


def outermost(folders: Iterable[str]) -> list[str]:
    """The folders none of whose ancestors is listed too: reconciling a folder covers all below it,
    and a tree created folder by folder (1,200 deep, say) would otherwise be scanned ~n²/2 times."""
    # "\0" sorts before every character a name can hold, so each folder's descendants follow it.
    ordered = sorted(folders, key=lambda f: f.replace("/", "\0"))
    kept: list[str] = []
    for folder in ordered:
        if not kept or not folder.startswith(kept[-1] + "/"):
            kept.append(folder)
    return kept


class Pipeline:
    """Drives one batch at a time from the folder to the bytes on the wire."""

    def __init__(self, settings: Settings, changes: Changes, supervisor: Supervisor, ingest: Ingest,
                 worker: Worker, publisher: Publisher, push: Push, metrics: Metrics) -> None:
        self.settings = settings
        self.changes = changes
        self.supervisor = supervisor
        self.ingest = ingest
        self.publisher = publisher
        self.ready = False
        self.last_change: dt.datetime | None = None
        self._worker = worker
        self._push = push
        self._metrics = metrics
        self._problem: str | None = None  # a batch failed: the index may miss changes until a rescan

    async def run(self) -> None:
        # Watches first, then the first scan (the first batch): nothing written meanwhile falls between.
        await self.supervisor.start()
        while True:
            if not self.changes.waiting and self.publisher.dirty:
                await self._publish((), leftovers=True)  # the views a round left when it gave way
                continue
            batch = await self.changes.take()
            outcome = await self._ingest(batch)
            await self._publish(outcome.views)
            self._settle(outcome)

    # -- the stages ------------------------------------------------------------------------

    async def _ingest(self, batch: Batch) -> BatchOutcome:
        """Read, parse and index the batch on the worker thread; a failure is said, never raised."""
        losses = self.supervisor.losses
        scan_started = self.supervisor.clock()  # compared with the watcher's readings: its clock
        started = time.perf_counter()
        self.ingest.busy = self.supervisor.busy()
        try:
            outcome = await self._worker.run(self._apply, batch)
        except RootUnavailable as exc:
            self.supervisor.read_failed(exc)
            outcome = BatchOutcome()
        except Exception as exc:  # a bug must not stop the loop: say so, and rescan soon
            log.exception("ingest failed; rescanning in 5 s")
            self._problem = f"ingest failed: {type(exc).__name__}: {exc}; the feeds may miss changes"
            asyncio.get_running_loop().call_later(5.0, self.changes.put, (), (), True)
            outcome = BatchOutcome()
        else:
            self._metrics.ingest_seconds.observe(time.perf_counter() - started)
            if batch.rescan:
                self._problem = None  # a whole scan went through: the index matches the folder
                self.supervisor.scanned(outcome, scan_started, losses)
        if outcome.unsettled:
            asyncio.get_running_loop().call_later(self.settings.debounce * 5, self.changes.put, set(outcome.unsettled))
        if outcome.visible:
            self.last_change = dt.datetime.now(dt.UTC)
        return outcome

    def _apply(self, batch: Batch) -> BatchOutcome:
        outcome = BatchOutcome()
        if batch.rescan:
            outcome.merge(self.ingest.reconcile())
        else:
            for folder in outermost(batch.folders):
                outcome.merge(self.ingest.reconcile(folder))
        if batch.files:
            outcome.merge(self.ingest.process(batch.files))
        return outcome

    async def _publish(self, views: Collection[Lang | None], leftovers: bool = False) -> None:
        """Render the views that changed (or, with `leftovers`, those a round left), and push each
        feed as it goes out. A round gives way to the next batch, except the first publication:
        every view must have bytes."""
        index, shelf = self.ingest.index, self.publisher.shelf
        if not leftovers and index.generation == shelf.generation:
            return  # nothing a reader can see changed
        summary = index.summary
        self._metrics.documents.set(summary.counts[None])
        self._metrics.rejected.set(len(summary.rejected))
        first = shelf.generation < 0
        changes = self.changes
        await self.publisher.publish(VIEW_LANGS if first else views,
                                     interrupt=(lambda: False) if first else (lambda: changes.waiting), push=self._push)

    def _settle(self, outcome: BatchOutcome) -> None:
        if not self.ready:
            self.ready = True
            summary = self.ingest.index.summary
            log.info("ready: %d documents, %d rejected", summary.counts[None], len(summary.rejected))
            # After ready, not before: a full collection takes ~0.1 s at 10,000 files, and the
            # first requests need not wait for it.
            asyncio.get_running_loop().call_later(_SETTLE, _collect_long_lived)
        elif len(outcome.added) + len(outcome.changed) >= _BULK:
            _collect_long_lived()

    def problems(self) -> list[Problem]:
        return [Problem(Concern.SYNC, self._problem)] if self._problem else []


def _collect_long_lived() -> None:
    # What a bulk load leaves is long-lived: keep it out of the collector's full passes, which
    # otherwise walk every indexed file's state on the change path.
    gc.collect()
    gc.freeze()
