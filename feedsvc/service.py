"""The service: files flow through the index into rendered bytes, one worker thread doing the work."""

from __future__ import annotations

import asyncio
import gc
import datetime as dt
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

from .index import Index
from .ingest import Ingest, Outcome, RootUnavailable
from .metrics import Metrics
from .model import Entry
from .pool import Parsers
from .publish import Rendered, Shelf
from .render import VIEWS, FeedMeta, Page, View, render, render_home
from .settings import Settings
from .watcher import Watcher

log = logging.getLogger("feedsvc.service")

T = TypeVar("T")

HOME_ENTRIES = 20
# The order main feeds are re-rendered in after a change: the bilingual Atom feed is what most
# readers poll, so it is published first and the others follow.
_PRIORITY = {view: rank for rank, view in enumerate(VIEWS)}
_FULL_SCAN = "/"


@dataclass(frozen=True, slots=True)
class Key:
    """Which bytes: a view's page for a base URL; `view` None is the HTML home page."""

    view: View | None
    limit: int
    page: int
    base_url: str

    @property
    def path(self) -> str:
        return self.view.path if self.view else "/"


@dataclass(frozen=True, slots=True)
class Health:
    """What /healthz reports."""

    ready: bool
    watcher_alive: bool
    documents: int
    rejected: tuple[tuple[str, str], ...]
    last_change: dt.datetime | None
    problems: tuple[str, ...]
    index: str

    @property
    def serving_ok(self) -> bool:
        return self.ready and self.watcher_alive and not any(p.startswith("seeds") for p in self.problems)

    @property
    def status(self) -> str:
        if not self.ready:
            return "starting"
        if not self.serving_ok:
            return "failing"
        return "degraded" if self.problems else "ok"


class Service:
    """Owns the index, the watcher and the rendered bytes; the HTTP layer only reads from it."""

    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.meta = FeedMeta.from_settings(settings)
        self.shelf = Shelf()
        self.base_url = settings.bound_url
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="feedsvc-worker")
        self._parsers = Parsers()
        self._index: Index | None = None
        self._ingest: Ingest | None = None
        self._watcher: Watcher | None = None
        self._pending: set[str] = set()
        self._dirty: set[Key] = set()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._variants: dict[Key, asyncio.Future[Rendered]] = {}
        self._ready = False
        self._root_problem: str | None = None
        self._render_problem: str | None = None
        self._last_change: dt.datetime | None = None
        self._counts: dict[Any, int] = {None: 0, "en": 0, "uk": 0}
        self._rejected: tuple[tuple[str, str], ...] = ()
        self._round_renders = 0
        self._round_started = time.perf_counter()
        self._pages: dict[tuple[Any, ...], tuple[Entry, ...]] = {}
        self._pages_generation = -1
        self._main_key_set = frozenset(self._main_keys())

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the pipeline; the server listens meanwhile and answers 503 until the first scan is done."""
        loop = asyncio.get_running_loop()
        self._watcher = Watcher(self.settings.seeds, mode=self.settings.watch, debounce=self.settings.debounce,
                                poll_interval=self.settings.poll_interval, on_ready=self.enqueue,
                                on_event=self._count_event, loop=loop)
        self._tasks = [loop.create_task(self._pipeline(), name="feedsvc-pipeline")]
        # The first parser process, forked now so the first change after a start does not wait
        # for it; on another thread: forking waits for the fork server to load, the scan need not.
        loop.run_in_executor(None, self._parsers.executor)

    async def _open(self) -> None:
        self._index = await self._run(Index, self.settings.state_dir)
        self._ingest = Ingest(self.settings.seeds, self._index, pattern=self.settings.pattern,
                              max_bytes=self.settings.max_bytes, parsers=self._parsers)
        self._tasks.append(asyncio.get_running_loop().create_task(self._supervise(), name="feedsvc-supervisor"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._watcher is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._watcher.stop)
        self._parsers.close()
        if self._index is not None:
            await self._run(self._index.close)
        self._executor.shutdown(wait=True)

    def _run(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        return asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    # -- input -----------------------------------------------------------------------------

    def enqueue(self, paths: set[str]) -> None:
        """Paths (or folders, ending in '/') to bring in line with the disk."""
        self._pending |= paths
        self._wake.set()

    def _count_event(self, kind: str) -> None:
        self.metrics.watch_events.labels(kind).inc()

    def _start_watcher(self) -> None:
        assert self._watcher is not None
        try:
            self._watcher.start()
        except OSError as exc:
            self._root_problem = f"seeds folder {str(self.settings.seeds)!r} cannot be watched: {exc.strerror or exc}"
            log.error("%s", self._root_problem)
        self.metrics.watcher_up.set(1 if self._watcher.alive else 0)

    # -- the pipeline: ingest, then render by priority -------------------------------------

    async def _pipeline(self) -> None:
        await self._open()
        self._start_watcher()
        self._pending.add(_FULL_SCAN)
        while True:
            if self._pending:
                await self._apply_pending()
            elif self._dirty:
                await self._render_next()
                if not self._dirty:
                    self._log_round()
            else:
                if not self._ready:
                    self._ready = True
                    log.info("ready: %d documents, %d rejected", self._counts[None], len(self._rejected))
                self._wake.clear()
                await self._wake.wait()

    async def _apply_pending(self) -> None:
        batch, self._pending = self._pending, set()
        started = time.perf_counter()
        assert self._ingest is not None and self._watcher is not None
        self._ingest.busy = self._watcher.busy()
        try:
            outcome = await self._run(self._apply, batch)
        except RootUnavailable as exc:
            self._set_root_problem(str(exc))
            return
        except Exception:  # a bug must not stop the pipeline; the next scan retries
            log.exception("ingest failed")
            return
        self.metrics.ingest_seconds.observe(time.perf_counter() - started)
        if self._root_problem is not None and _FULL_SCAN in batch:
            self._set_root_problem(None)
        if outcome.unsettled:
            asyncio.get_running_loop().call_later(self.settings.debounce * 5, self.enqueue, set(outcome.unsettled))
        if outcome.visible or not self._ready:
            self._after_change()
        if not self._ready or len(outcome.added) + len(outcome.changed) >= 1000:
            # What a bulk load leaves is long-lived: keep it out of the collector's full passes,
            # which otherwise walk every indexed file's state on the change path.
            gc.collect()
            gc.freeze()

    def _apply(self, batch: set[str]) -> Outcome:
        assert self._ingest is not None
        outcome = Outcome()
        files = {p for p in batch if not p.endswith("/")}
        for folder in sorted(p for p in batch if p.endswith("/")):
            outcome.merge(self._ingest.reconcile(folder.strip("/")))
        if files:
            outcome.merge(self._ingest.process(files))
        return outcome

    def _after_change(self) -> None:
        assert self._index is not None
        self._counts = self._index.counts()
        self._rejected = tuple(self._index.rejected())
        self.metrics.documents.set(self._counts[None])
        self.metrics.rejected.set(len(self._rejected))
        self._last_change = dt.datetime.now(dt.timezone.utc)
        self.shelf.changed()
        if not self._dirty:
            self._round_started = time.perf_counter()
        self._dirty = set(self._main_key_set)

    def _main_keys(self) -> list[Key]:
        size = self.settings.page_size
        keys = [Key(view, size, 1, self.base_url) for view in VIEWS]
        return keys + [Key(None, HOME_ENTRIES, 1, self.base_url)]

    async def _render_next(self) -> None:
        key = min(self._dirty, key=lambda k: _PRIORITY.get(k.view, len(_PRIORITY)))
        self._dirty.discard(key)
        try:
            rendered = await self._run(self._render, key)
        except Exception as exc:
            self._render_problem = f"render failed: {type(exc).__name__}: {exc}"
            log.exception("rendering %s failed; the last good bytes stay published", key)
            return
        self._render_problem = None
        self.shelf.put_default(key.path, rendered)
        self._round_renders += 1

    def _log_round(self) -> None:
        """One line per round of renders, not one per feed: a change re-renders ten of them."""
        elapsed = (time.perf_counter() - self._round_started) * 1000
        log.info("feeds rendered: %d renders, %d documents (en %d, uk %d) in %.0f ms",
                 self._round_renders, self._counts[None], self._counts["en"], self._counts["uk"], elapsed)
        self._round_renders = 0

    def _render(self, key: Key) -> Rendered:
        """Render one page of one view from the index (worker thread)."""
        assert self._index is not None
        started = time.perf_counter()
        headers = {"Cache-Control": f"public, max-age={self.settings.max_age}",
                   "X-Content-Type-Options": "nosniff"}
        if key.view is None:
            latest = self._page(None, key.limit, 0)
            body = render_home(self.meta, latest, key.base_url)
            headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'"
            headers["Referrer-Policy"] = "no-referrer"
            rendered = Rendered.build(body, "text/html; charset=utf-8", self._index.newest_update(None), headers)
            name = "/"
        else:
            lang = key.view.lang
            updated = self._index.newest_update(lang)
            entries = self._page(lang, key.limit, (key.page - 1) * key.limit)
            page = Page(entries=entries, number=key.page, limit=key.limit, total=self._index.count(lang),
                        updated=updated, default_limit=self.settings.page_size)
            body = render(self.meta, key.view, page, key.base_url)
            headers["Access-Control-Allow-Origin"] = "*"
            rendered = Rendered.build(body, key.view.media_type, updated, headers)
            name = key.view.path
        elapsed = time.perf_counter() - started
        self.metrics.renders.labels(name).inc()
        self.metrics.render_seconds.observe(elapsed)
        log.debug("rendered %s page %d (%d bytes) in %.1f ms", name, key.page, len(body), elapsed * 1000)
        return rendered

    def _page(self, lang: Any, limit: int, offset: int) -> tuple[Entry, ...]:
        """One page from the index, shared by the three formats of a view until the next change."""
        assert self._index is not None
        if self._pages_generation != self.shelf.generation or len(self._pages) > 64:
            self._pages.clear()
            self._pages_generation = self.shelf.generation
        key = (lang, limit, offset)
        found = self._pages.get(key)
        if found is None:
            found = self._pages[key] = self._index.page(lang, limit, offset)
        return found

    # -- reading (event loop) --------------------------------------------------------------

    def total(self, lang: Any) -> int:
        return self._counts[lang]

    def get(self, key: Key) -> Rendered | None:
        if key in self._main_key_set:
            return self.shelf.default(key.path)
        return self.shelf.extra(key)

    def current(self, path: str) -> Rendered | None:
        """The default page of the feed at `path` (or "/" for the home page), if rendered yet."""
        return self.shelf.default(path)

    async def variant(self, key: Key) -> Rendered:
        """Bytes for a non-default page or base URL: rendered once per change, then shared."""
        found = self.get(key)
        if found is not None:
            return found
        waiting = self._variants.get(key)
        if waiting is None:
            generation = self.shelf.generation
            waiting = asyncio.ensure_future(self._run(self._render, key))
            self._variants[key] = waiting
            try:
                rendered = await waiting
            finally:
                self._variants.pop(key, None)
            self.shelf.put_extra(key, rendered, generation)
            return rendered
        return await asyncio.shield(waiting)

    # -- health ----------------------------------------------------------------------------

    def _set_root_problem(self, problem: str | None) -> None:
        if problem != self._root_problem:
            if problem:
                log.error("%s; serving the last good feeds", problem)
            else:
                log.info("seeds folder is back")
        self._root_problem = problem

    async def _supervise(self) -> None:
        """Once a second: is the folder there and the watcher alive? Rescan on schedule."""
        assert self._watcher is not None and self._ingest is not None
        last_scan = time.monotonic()
        while True:
            await asyncio.sleep(1.0)
            try:
                await self._run(self._ingest.check_root)
            except RootUnavailable as exc:
                self._set_root_problem(str(exc))
                continue
            if not self._watcher.alive:
                log.warning("watcher stopped; restarting it and rescanning")
                await asyncio.get_running_loop().run_in_executor(None, self._watcher.stop)
                self._start_watcher()
                self.enqueue({_FULL_SCAN})
                last_scan = time.monotonic()
            elif self._root_problem is not None:
                self.enqueue({_FULL_SCAN})
            interval = self.settings.rescan_interval
            if interval and time.monotonic() - last_scan >= interval:
                self.enqueue({_FULL_SCAN})
                last_scan = time.monotonic()
            self.metrics.watcher_up.set(1 if self._watcher.alive else 0)

    def health(self) -> Health:
        watcher_alive = self._watcher.alive if self._watcher else False
        problems = tuple(p for p in (
            self._root_problem, self._render_problem, self._index.status.problem if self._index else None,
            None if watcher_alive or not self._ready else "watcher stopped; restarting it") if p)
        return Health(
            ready=self._ready,
            watcher_alive=watcher_alive,
            documents=self._counts[None],
            rejected=self._rejected,
            last_change=self._last_change,
            problems=problems,
            index=self._index.status.location if self._index else "",
        )
