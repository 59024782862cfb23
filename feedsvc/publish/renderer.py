"""The renderer: a process of its own that makes the bytes of variant pages (?limit=, ?page=, ?q=,
topic feeds, another base URL).

One variant is up to ~100 ms of Python (a ?limit=500 Atom page of real digests is 4.6 MB). Made in
the service's process, a flood of them held the GIL that a change's ingest and render need, and
a new digest took 150-160 ms (p99) to appear instead of ~30. The process forks from the parser
processes' server (pool); where none can be started, a thread of the service does the work.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import TypeVar

from feedsvc.feeds import FeedMeta, Page, View, render, render_home
from feedsvc.ingest.pool import Parsers
from feedsvc.ops import memory
from feedsvc.publish.shelf import Packed, pack
from feedsvc.store.index import Stored, entries
from feedsvc.store.worker import Worker

log = logging.getLogger("feedsvc.renderer")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Draft:
    """A page as read from the index, its documents still as stored: decoding them (~20 µs each)
    is left to where the page is rendered."""

    rows: tuple[Stored, ...]
    page: Page  # all but its entries

    def finished(self) -> Page:
        return dataclasses.replace(self.page, entries=entries(self.rows))


def page_bytes(meta: FeedMeta, view: View | None, page: Page, base_url: str) -> tuple[Packed, float]:
    """One page of `view` (None: the home page), packed, and the seconds it took; any thread or process."""
    started = time.perf_counter()
    body = render_home(meta, page, base_url) if view is None else render(meta, view, page, base_url)
    return pack(body), time.perf_counter() - started


def draft_bytes(meta: FeedMeta, view: View | None, draft: Draft, base_url: str) -> tuple[Packed, float]:
    """page_bytes of a Draft: what the render process is sent."""
    return page_bytes(meta, view, draft.finished(), base_url)


class Renderer:
    """Runs picklable calls in the render process, one at a time in order; in a thread of the
    service while no process can be had."""

    def __init__(self) -> None:
        # Niced: on a busy machine a change's parse and render come first, a variant after them.
        self._processes = Parsers(1, "the variant renderer", nice=10)
        self._thread = Worker()

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        executor = self._processes.current()
        if executor is None:  # forked on first use: the first variant after a start waits ~0.2 s
            executor = await asyncio.to_thread(self._processes.executor)
        if executor is not None:
            try:
                return await asyncio.wrap_future(executor.submit(fn, *args))
            except BrokenProcessPool:
                # Killed (the OOM killer, say): this call is done here, the next gets a new process.
                log.warning("the variant renderer process died; a new one is started")
                self._processes.close()
        return await self._thread.run(fn, *args)

    def trim(self) -> None:
        """Hand what the render process freed back to the system; a process that is not running is
        not started for it."""
        executor = self._processes.current()
        if executor is not None:
            with contextlib.suppress(BrokenProcessPool, RuntimeError):  # died, or shut down meanwhile
                executor.submit(memory.trim)

    def close(self) -> None:
        self._processes.close()
        self._thread.close()
