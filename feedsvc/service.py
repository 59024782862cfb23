"""The composition root: builds each stage once and starts the pipeline that drives them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from feedsvc.http.connections import Protection
from feedsvc.ingest.ingest import Ingest
from feedsvc.ingest.pool import Parsers
from feedsvc.ops.health import Concern, Health, Problem
from feedsvc.ops.metrics import Metrics
from feedsvc.pipeline import Pipeline
from feedsvc.publish.publisher import Publisher
from feedsvc.push.edge import Edges
from feedsvc.push.websub import Hub
from feedsvc.push.websub.model import FeedChange
from feedsvc.store.index import Index
from feedsvc.store.worker import Worker
from feedsvc.watch.changes import Changes
from feedsvc.watch.supervisor import Supervisor

from .documents import words
from .documents.words import Match
from .settings import Settings

log = logging.getLogger("feedsvc.service")


class Service:
    """Starts and stops the parts; the HTTP layer reads bytes from `publisher` and asks `health()`."""

    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.worker = Worker()
        self.publisher = Publisher(settings, self.worker, metrics, subscribed=lambda t: self.hub.has_subscribers(t))
        self.hub = Hub(settings, metrics, topics=self.publisher.topics.__contains__)
        self.edges = Edges(settings.edge_refresh, self.publisher.base_url)
        self.parsers = Parsers()
        self.protection = Protection()  # reported by the site that serves the service, if guarded
        self.index: Index | None = None
        self.pipeline: Pipeline | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._matches: dict[str, Match] = {}

    async def start(self) -> None:
        """Start in the background; the server listens meanwhile and answers 503 until the first scan is done."""
        loop = asyncio.get_running_loop()
        await self.hub.start()
        await self.edges.start()
        self._tasks = [loop.create_task(self._boot(), name="feedsvc-boot")]
        # The first parser process, forked now so the first change after a start does not wait
        # for it; on another thread: forking waits for the fork server to load, the scan need not.
        loop.run_in_executor(None, self.parsers.executor)

    async def _boot(self) -> None:
        self.index = index = await self.worker.run(Index, self.settings.state_dir)
        self.publisher.attach(index)
        ingest = Ingest(self.settings.seeds, index, pattern=self.settings.pattern,
                        max_bytes=self.settings.max_bytes, parsers=self.parsers)
        changes = Changes()
        supervisor = Supervisor(self.settings, changes, self.metrics)
        self.pipeline = Pipeline(self.settings, changes, supervisor, ingest, self.worker, self.publisher,
                                 self._push, self.metrics)
        loop = asyncio.get_running_loop()
        self._tasks += [loop.create_task(self.pipeline.run(), name="feedsvc-pipeline"),
                        loop.create_task(supervisor.supervise(), name="feedsvc-supervisor")]

    def _push(self, changes: Sequence[FeedChange]) -> None:
        """A feed just changed: to subscribers (WebSub) and to the caches in front, in the background."""
        self.edges.refresh(changes)
        self.hub.publish(changes)

    async def stop(self) -> None:
        await self.hub.stop()
        await self.edges.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.pipeline is not None:
            await self.pipeline.supervisor.stop()
        self.parsers.close()
        if self.index is not None:
            await self.worker.run(self.index.close)
        self.worker.close()
        self.publisher.close()

    async def match(self, q: str) -> Match:
        """A search query in dictionary forms, worked out in a parser process: the dictionaries
        (~60 MB) stay out of the service's own process. Raises QueryError for a bad query."""
        found = self._matches.get(q)
        if found is None:
            executor = self.parsers.current()
            found = await asyncio.get_running_loop().run_in_executor(executor, words.query, q)
            if len(self._matches) >= 1024:
                self._matches.clear()
            self._matches[q] = found
        return found

    @property
    def ready(self) -> bool:
        return self.pipeline is not None and self.pipeline.ready

    def health(self) -> Health:
        pipeline, index = self.pipeline, self.index
        problems = [*pipeline.problems(), *pipeline.supervisor.problems(pipeline.ready)] if pipeline else []
        if self.publisher.problem:
            problems.append(Problem(Concern.RENDER, self.publisher.problem))
        if index is not None and index.status.problem:
            problems.append(Problem(Concern.INDEX, index.status.problem))
        if (http := self.protection.problem) is not None:
            problems.append(http)
        summary = index.summary if index else None
        return Health(
            ready=self.ready,
            watcher_alive=pipeline.supervisor.watching if pipeline else False,
            documents=summary.counts[None] if summary else 0,
            rejected=summary.rejected if summary else (),
            last_change=pipeline.last_change if pipeline else None,
            problems=tuple(problems),
            index=index.status.location if index else "",
        )
