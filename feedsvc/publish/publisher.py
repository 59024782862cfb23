"""The publisher: index -> bytes. Re-renders the feeds a change touches, publishes them together,
and renders other variants (pages, limits, base URLs) on demand from the same published state."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from feedsvc.documents.model import Lang
from feedsvc.documents.publications import Topic
from feedsvc.documents.words import Match
from feedsvc.feeds import VIEWS, FeedMeta, Page, View, render
from feedsvc.feeds.views import HOME, VIEW_LANGS, feed_path, utc
from feedsvc.ops import memory
from feedsvc.ops.metrics import Metrics
from feedsvc.publish import headers
from feedsvc.publish.renderer import Draft, Renderer, draft_bytes, page_bytes
from feedsvc.publish.shelf import Packed, Rendered, Shelf
from feedsvc.push.websub.links import hubs, link_header
from feedsvc.push.websub.model import FeedChange
from feedsvc.settings import Settings
from feedsvc.store.index import Index, ns_to_datetime
from feedsvc.store.worker import Worker

log = logging.getLogger("feedsvc.publisher")

HOME_ENTRIES = 20
# A variant read while a change was indexed but not yet published is read again after the next
# publication, at most this many times; under endless churn the last read is rendered.
_VARIANT_TRIES = 5
TRIM_AFTER = 2.0  # seconds without a variant render before freed memory goes back to the system
# Distinct variants in flight at once (9 views times a few pages each is ordinary after a change);
# more get 503 with Retry-After: a flood of distinct ?limit= or ?q=
# values must not queue seconds of rendering, nor the memory it takes.
MAX_VARIANT_RENDERS = 32


class Busy(Exception):
    """Too many distinct variants are being rendered; the client should retry shortly."""


@dataclass(frozen=True, slots=True)
class Key:
    """Which bytes: a view's page for a base URL, perhaps of one topic and a search; `view` None is
    the HTML home page."""

    view: View | None
    limit: int
    page: int
    base_url: str
    topic: Topic | None = None
    q: str | None = None  # as the subscriber wrote it (the feed's URL and title show it)
    match: Match | None = None  # what it searches for

    @property
    def path(self) -> str:
        return feed_path(self.view, self.topic) if self.view else "/"


class UnknownTopic(LookupError):
    """No published document has this publication or author."""


class Publisher:
    """Owns the shelf of bytes; the HTTP layer only reads from it."""

    def __init__(self, settings: Settings, worker: Worker, metrics: Metrics) -> None:
        self.settings = settings
        self.meta = FeedMeta.from_settings(settings)
        self.shelf = Shelf()
        self.base_url = settings.bound_url
        self.problem: str | None = None
        self._worker = worker
        self._renderer = Renderer()  # variants' bytes, off the worker and out of this process
        self._metrics = metrics
        self._index: Index | None = None
        self._totals: dict[Lang | None, int] = {None: 0, "en": 0, "uk": 0}
        self._variants: dict[Key, asyncio.Future[Rendered]] = {}
        self._trim: asyncio.TimerHandle | None = None
        self._main = {view: Key(view, settings.page_size, 1, self.base_url) for view in VIEWS}
        self._home = Key(HOME, HOME_ENTRIES, 1, self.base_url)
        self._main_keys = frozenset((*self._main.values(), self._home))
        self._new_state = asyncio.Event()  # set (and replaced) on every publication
        # The nine feeds are WebSub topics under their own URL: they advertise the hubs, and a
        # publication pushes what changed in them.
        self.topics = frozenset(self.base_url + view.path for view in VIEWS)
        self._hubs = {key: hubs(settings, self.base_url + key.path) for key in self._main.values()}
        self._links = {key: link_header(settings, self.base_url + key.path) for key in self._main.values()}
        self._pushed: dict[Key, dt.datetime] = {}  # each feed's newest update at the last publication
        # The index generation each view's default page shows (None: the home page).
        self._generations: dict[View | None, int] = {}
        self._dirty: dict[Key, None] = {}  # default pages a change touched, not rendered yet
        self._priority = {key: rank for rank, key in enumerate((*self._main.values(), self._home))}

    def attach(self, index: Index) -> None:
        self._index = index

    # -- publishing ------------------------------------------------------------------------

    @property
    def dirty(self) -> bool:
        """Whether views are left to render from the last publication (it gave way to a change)."""
        return bool(self._dirty)

    async def publish(self, langs: Collection[Lang | None] = VIEW_LANGS,
                      interrupt: Callable[[], bool] = lambda: False,
                      push: Callable[[Sequence[FeedChange]], None] = lambda changes: None) -> None:
        """Render the default pages of the views showing `langs` (None: the bilingual views and the
        home page) from the index as it is now, each put on the shelf as soon as it is rendered, in
        the order readers poll them (/feed.atom first): a round of ten renders is ~80 ms, and the
        first feed should not wait for the last. Every view still shows one state: a variant is
        served only when it comes from the same index generation as its own view's default page.
        The other views' bytes stand: the change did not touch what they show. Each feed whose
        bytes changed goes to `push` as soon as it is on the shelf, with a document of its new and
        changed entries: subscribers of /feed.atom need not wait for the round's other renders.

        When `interrupt()` says a newer change is waiting, the round stops after the page at hand:
        the views left stay dirty (showing the state before, their variants waiting), the change
        is indexed, and the next round renders them with it. A burst then costs one render of each
        view, not one per file."""
        for key in [self._main[v] for v in VIEWS if v.lang in langs] + ([self._home] if None in langs else []):
            self._dirty[key] = None
        keys = sorted(self._dirty, key=self._priority.__getitem__)
        started = time.perf_counter()
        assert self._index is not None
        generation = self._index.generation  # no batch is indexed while a round renders (the pipeline)
        dirty_views = {key.view for key in self._dirty}
        for view in (*VIEWS, None):  # what no change touched is already this state's
            if view not in dirty_views:
                self._generations[view] = generation
        pages: dict[tuple[Lang | None, int, int], Page] = {}
        failed = None
        done = 0
        for key in keys:
            if done and interrupt():
                break
            done += 1
            del self._dirty[key]
            try:
                rendered, fresh, totals = await self._worker.run(self._render_default, key, pages)
            except Exception as exc:  # a renderer bug: the last good bytes stay published
                failed = f"render failed: {type(exc).__name__}: {exc}"
                log.exception("rendering %s failed; its last good bytes stay published", key.path)
                continue
            old = self.shelf.default(key.path)
            self._totals = totals

            def other_view(extra: object, view: View | None = key.view) -> bool:
                return not (isinstance(extra, Key) and extra.view == view)
            self.shelf.publish(generation, {key.path: rendered}, keep=other_view)
            self._generations[key.view] = generation
            self._new_state.set()
            self._new_state = asyncio.Event()
            if key.view is not None and old is not None and old.etag != rendered.etag:
                push([FeedChange(self.base_url + key.path, key.view.media_type, rendered.body, fresh)])
        self.problem = failed
        log.info("feeds rendered: %d renders, %d documents (en %d, uk %d) in %.0f ms", done,
                 self._totals[None], self._totals["en"], self._totals["uk"], (time.perf_counter() - started) * 1000)

    def _render_default(self, key: Key, pages: dict[tuple[Lang | None, int, int], Page]
                        ) -> tuple[Rendered, bytes | None, dict[Lang | None, int]]:
        """One view's default page (worker thread), the document of its entries updated since the
        last publication (what a push carries), and the totals of every view."""
        assert self._index is not None
        page = self._page(key, pages)
        rendered = self._build(key, page)
        fresh = None
        since = self._pushed.get(key)
        if key.view is not None and since is not None:
            new = tuple(e for e in page.entries if utc(e.updated) > since)
            if new:
                fresh = render(self.meta, key.view, dataclasses.replace(page, entries=new), key.base_url)
        if page.updated is not None:
            self._pushed[key] = utc(page.updated)
        totals: dict[Lang | None, int] = {lang: self._index.total(lang) for lang in VIEW_LANGS}
        return rendered, fresh, totals

    def _page(self, key: Key, pages: dict[tuple[Lang | None, int, int], Page]) -> Page:
        """What one default page shows (worker thread); `pages` shares what a view's page read from
        the index between its three formats, which differ only in their hubs."""
        where = (key.view.lang if key.view else None, key.limit, key.page)
        found = pages.get(where)
        if found is None:
            found = pages[where] = self._draft(key).finished()
        return dataclasses.replace(found, hubs=self._hubs.get(key, ()))

    def _draft(self, key: Key) -> Draft:
        """What one page shows, read from the index (worker thread), its documents still as stored."""
        assert self._index is not None
        index = self._index
        lang = key.view.lang if key.view else None
        name = None
        if key.topic is not None and (name := index.topic_name(key.topic)) is None:
            raise UnknownTopic(key.topic.slug)
        rows = index.rows(lang, key.limit, (key.page - 1) * key.limit, key.topic, key.match)
        updated = (ns_to_datetime(max(row[2] for row in rows)) if rows else None) if key.match is not None \
            else index.newest_update(lang, key.topic)
        return Draft(rows, Page(entries=(), number=key.page, limit=key.limit,
                                total=index.total(lang, key.topic, key.match), updated=utc(updated),
                                default_limit=self.settings.page_size, topic=key.topic, topic_name=name, q=key.q,
                                hubs=self._hubs.get(key, ())))

    def _build(self, key: Key, page: Page) -> Rendered:
        """The bytes of one page, here (the worker thread)."""
        return self._assemble(key, page.updated, *page_bytes(self.meta, key.view, page, key.base_url))

    def _assemble(self, key: Key, updated: dt.datetime | None, packed: Packed, elapsed: float) -> Rendered:
        """A Rendered from the bytes of `key`'s page, with its headers; counted and logged."""
        if key.view is None:
            rendered = Rendered.assemble(packed, "text/html; charset=utf-8", utc(updated), headers.page(self.settings))
        else:
            extra = headers.feed(self.settings)
            if (link := self._links.get(key)):  # WebSub: the hub and self, for HEAD as well as GET
                extra["Link"] = link
            rendered = Rendered.assemble(packed, key.view.media_type, utc(updated), extra)
        self._metrics.renders.labels(key.path).inc()
        self._metrics.render_seconds.observe(elapsed)
        log.debug("rendered %s page %d (%d bytes) in %.1f ms", key.path, key.page, len(packed[0]), elapsed * 1000)
        return rendered

    # -- reading (event loop) --------------------------------------------------------------

    def total(self, lang: Lang | None) -> int:
        """Documents in `lang`'s views, as published."""
        return self._totals[lang]

    def get(self, key: Key) -> Rendered | None:
        if key in self._main_keys:
            return self.shelf.default(key.path)
        return self.shelf.extra(key)

    async def variant(self, key: Key) -> Rendered:
        """Bytes for a non-default page or base URL: rendered once per published state, then shared.
        Raises Busy when too many distinct variants are being rendered already."""
        found = self.get(key)
        if found is not None:
            return found
        waiting = self._variants.get(key)
        if waiting is not None:
            return await asyncio.shield(waiting)
        if len(self._variants) >= MAX_VARIANT_RENDERS:
            raise Busy(f"{len(self._variants)} other pages are being rendered; try again in a second")
        waiting = asyncio.ensure_future(self._render_variant(key))
        self._variants[key] = waiting
        try:
            return await waiting
        finally:
            self._variants.pop(key, None)
            if not self._variants:
                self._trim_later()

    def _trim_later(self) -> None:
        """Once no variant has been rendered for a while, hand the memory a flood of them took back
        to the system: glibc keeps freed memory for reuse, so a process stayed at its peak."""
        if self._trim is not None:
            self._trim.cancel()
        loop = asyncio.get_running_loop()

        def trim() -> None:
            self._trim = None
            if not self._variants:
                self._renderer.trim()
                loop.run_in_executor(None, memory.trim)  # and ours: the variants' bytes went through it
        self._trim = loop.call_later(TRIM_AFTER, trim)

    async def _render_variant(self, key: Key) -> Rendered:
        for attempt in range(_VARIANT_TRIES):
            # The index is read on the worker (its rows only: a fraction of a millisecond), the
            # documents decoded and the bytes made in the render process: a flood of large variants
            # then neither queues ahead of a change on the worker nor holds the GIL it needs.
            generation, draft = await self._worker.run(self._draft_now, key)
            # Read from the state the view's default page shows: answered, even if a change is
            # published while it renders (it is then the page as of the request). Under endless
            # churn the last read is answered all the same.
            if generation == self._generations.get(key.view) or attempt == _VARIANT_TRIES - 1:
                break
            # The index moved on since the last publication: wait for the next one, so the page
            # shows the same state as the default feeds beside it.
            try:
                await asyncio.wait_for(self._new_state.wait(), 1.0)
            except TimeoutError:
                pass
        packed, elapsed = await self._renderer.run(draft_bytes, self.meta, key.view, draft, key.base_url)
        rendered = self._assemble(key, draft.page.updated, packed, elapsed)
        if generation == self._generations.get(key.view):  # still what the view shows: kept for others
            self.shelf.put_extra(key, rendered, generation)
        return rendered

    def _draft_now(self, key: Key) -> tuple[int, Draft]:
        assert self._index is not None
        return self._index.generation, self._draft(key)

    def close(self) -> None:
        if self._trim is not None:
            self._trim.cancel()
        self._renderer.close()
