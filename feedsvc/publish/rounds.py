"""Publication rounds: which default pages a change left to render (`dirty`), in the order readers
poll them, giving way to the next batch between renders; and which index generation each view
shows, so its variants show the same state."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Collection, Sequence

from feedsvc.documents.model import Lang
from feedsvc.feeds import VIEWS, View
from feedsvc.feeds.views import VIEW_LANGS
from feedsvc.publish.pages import Key, Pages, Shared
from feedsvc.publish.pushes import Pushes
from feedsvc.publish.shelf import Rendered, Shelf
from feedsvc.push.websub.model import FeedChange
from feedsvc.store.worker import Worker

log = logging.getLogger("feedsvc.publisher")

Totals = dict[Lang | None, int]


class Rounds:
    """Renders the default pages a change touched and puts each on the shelf as it is made."""

    def __init__(self, pages: Pages, pushes: Pushes, shelf: Shelf, worker: Worker,
                 main: dict[View, Key], home: Key, base_url: str) -> None:
        self._pages = pages
        self._pushes = pushes
        self._shelf = shelf
        self._worker = worker
        self._main = main
        self._home = home
        self._base_url = base_url
        self.problem: str | None = None
        self.totals: Totals = {None: 0, "en": 0, "uk": 0}
        self._new_state = asyncio.Event()  # set (and replaced) on every publication
        # The index generation each view's default page shows (None: the home page).
        self._generations: dict[View | None, int] = {}
        self._dirty: dict[Key, None] = {}  # default pages a change touched, not rendered yet
        self._priority = {key: rank for rank, key in enumerate((*main.values(), home))}

    @property
    def dirty(self) -> bool:
        return bool(self._dirty)

    def generation(self, view: View | None) -> int | None:
        """The index generation `view`'s default page shows (None before its first publication)."""
        return self._generations.get(view)

    async def next_publication(self, timeout: float) -> None:
        """Wait until a default page is published next, or `timeout` seconds."""
        try:
            await asyncio.wait_for(self._new_state.wait(), timeout)
        except TimeoutError:
            pass

    async def run(self, langs: Collection[Lang | None], interrupt: Callable[[], bool],
                  push: Callable[[Sequence[FeedChange]], None]) -> None:
        """One round: see Publisher.publish."""
        for key in [self._main[v] for v in VIEWS if v.lang in langs] + ([self._home] if None in langs else []):
            self._dirty[key] = None
        keys = sorted(self._dirty, key=self._priority.__getitem__)
        started = time.perf_counter()
        assert self._pages.index is not None
        generation = self._pages.index.generation  # no batch is indexed while a round renders (the pipeline)
        dirty_views = {key.view for key in self._dirty}
        for view in (*VIEWS, None):  # what no change touched is already this state's
            if view not in dirty_views:
                self._generations[view] = generation
        pages: Shared = {}
        failed = None
        done = 0
        for key in keys:
            if done and interrupt():
                break
            done += 1
            del self._dirty[key]
            # Asked just before the render, on the event loop: a subscriber verified during the
            # round is asked about for the next feed; one verified after is pushed the whole feed.
            wanted = self._pushes.wanted(key)
            try:
                rendered, fresh, totals = await self._worker.run(self._render_default, key, pages, wanted)
            except Exception as exc:  # a renderer bug: the last good bytes stay published
                failed = f"render failed: {type(exc).__name__}: {exc}"
                log.exception("rendering %s failed; its last good bytes stay published", key.path)
                continue
            old = self._shelf.default(key.path)
            self.totals = totals

            def other_view(extra: object, view: View | None = key.view) -> bool:
                return not (isinstance(extra, Key) and extra.view == view)
            self._shelf.publish(generation, {key.path: rendered}, keep=other_view)
            self._generations[key.view] = generation
            self._new_state.set()
            self._new_state = asyncio.Event()
            if key.view is not None and old is not None and old.etag != rendered.etag:
                push([FeedChange(self._base_url + key.path, key.view.media_type, rendered.body, fresh)])
        self.problem = failed
        log.info("feeds rendered: %d renders, %d documents (en %d, uk %d) in %.0f ms", done,
                 self.totals[None], self.totals["en"], self.totals["uk"], (time.perf_counter() - started) * 1000)

    def _render_default(self, key: Key, pages: Shared, wanted: bool) -> tuple[Rendered, bytes | None, Totals]:
        """One view's default page (worker thread), its push body if `wanted` (see Pushes.fresh),
        and the totals of every view."""
        index = self._pages.index
        assert index is not None
        page = self._pages.page(key, pages)
        rendered = self._pages.build(key, page)
        fresh = self._pushes.fresh(key, page, wanted)
        totals: Totals = {lang: index.total(lang) for lang in VIEW_LANGS}
        return rendered, fresh, totals
