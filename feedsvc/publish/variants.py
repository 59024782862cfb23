"""Variant pages: a view's page other than its default one (`?limit=`, `?page=`, `?q=`, a topic, a
base URL), rendered on demand in the render process from the state the view's default page shows,
then shared until the next publication."""

from __future__ import annotations

import asyncio

from feedsvc.publish.pages import Key, Pages
from feedsvc.publish.renderer import Draft, Renderer, draft_bytes
from feedsvc.publish.rounds import Rounds
from feedsvc.publish.shelf import Rendered, Shelf
from feedsvc.publish.trim import Trimmer
from feedsvc.store.worker import Worker

# A variant read while a change was indexed but not yet published is read again after the next
# publication, at most this many times; under endless churn the last read is rendered.
_VARIANT_TRIES = 5
# Distinct variants in flight at once (9 views times a few pages each is ordinary after a change);
# more get 503 with Retry-After: a flood of distinct ?limit= or ?q=
# values must not queue seconds of rendering, nor the memory it takes.
MAX_VARIANT_RENDERS = 32


class Busy(Exception):
    """Too many distinct variants are being rendered; the client should retry shortly."""


class Variants:
    """Renders each variant once per published state, however many requests ask for it at once."""

    def __init__(self, pages: Pages, rounds: Rounds, shelf: Shelf, worker: Worker) -> None:
        self._pages = pages
        self._rounds = rounds
        self._shelf = shelf
        self._worker = worker
        self._renderer = Renderer()  # variants' bytes, off the worker and out of this process
        self._waiting: dict[Key, asyncio.Future[Rendered]] = {}
        self._trimmer = Trimmer(self._renderer, lambda: bool(self._waiting))

    async def get(self, key: Key) -> Rendered:
        """Bytes for `key`, rendered now unless another request is rendering them already.
        Raises Busy when too many distinct variants are being rendered already."""
        waiting = self._waiting.get(key)
        if waiting is not None:
            return await asyncio.shield(waiting)
        if len(self._waiting) >= MAX_VARIANT_RENDERS:
            raise Busy(f"{len(self._waiting)} other pages are being rendered; try again in a second")
        waiting = asyncio.ensure_future(self._render(key))
        self._waiting[key] = waiting
        try:
            return await waiting
        finally:
            self._waiting.pop(key, None)
            if not self._waiting:
                self._trimmer.later()

    async def _render(self, key: Key) -> Rendered:
        for attempt in range(_VARIANT_TRIES):
            # The index is read on the worker (its rows only: a fraction of a millisecond), the
            # documents decoded and the bytes made in the render process: a flood of large variants
            # then neither queues ahead of a change on the worker nor holds the GIL it needs.
            generation, draft = await self._worker.run(self._draft_now, key)
            # Read from the state the view's default page shows: answered, even if a change is
            # published while it renders (it is then the page as of the request). Under endless
            # churn the last read is answered all the same.
            if generation == self._rounds.generation(key.view) or attempt == _VARIANT_TRIES - 1:
                break
            # The index moved on since the last publication: wait for the next one, so the page
            # shows the same state as the default feeds beside it.
            await self._rounds.next_publication(1.0)
        packed, elapsed = await self._renderer.run(draft_bytes, self._pages.meta, key.view, draft, key.base_url)
        rendered = self._pages.assemble(key, draft.page.updated, packed, elapsed)
        if generation == self._rounds.generation(key.view):  # still what the view shows: kept for others
            self._shelf.put_extra(key, rendered, generation)
        return rendered

    def _draft_now(self, key: Key) -> tuple[int, Draft]:
        assert self._pages.index is not None
        return self._pages.index.generation, self._pages.draft(key)

    def close(self) -> None:
        self._trimmer.close()
        self._renderer.close()
