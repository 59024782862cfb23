"""The publisher: index -> bytes. Re-renders the feeds a change touches, publishes them together,
and renders other variants (pages, limits, base URLs) on demand from the same published state.

It composes the publish stage's jobs: the rounds (rounds.py), the variants (variants.py, which trim
memory after a burst: trim.py) and the push bodies (pushes.py), over pages.py's reading and bytes."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

from feedsvc.documents.model import Lang
from feedsvc.feeds import VIEWS, FeedMeta
from feedsvc.feeds.views import HOME, VIEW_LANGS
from feedsvc.ops.metrics import Metrics
from feedsvc.publish.pages import Key, Pages, UnknownTopic
from feedsvc.publish.pushes import Pushes
from feedsvc.publish.rounds import Rounds
from feedsvc.publish.shelf import Rendered, Shelf
from feedsvc.publish.variants import Busy, Variants
from feedsvc.push.websub.links import hubs, link_header
from feedsvc.push.websub.model import FeedChange
from feedsvc.settings import Settings
from feedsvc.store.index import Index
from feedsvc.store.worker import Worker

__all__ = ["HOME_ENTRIES", "Busy", "Key", "Publisher", "UnknownTopic"]

HOME_ENTRIES = 20


def _everyone(topic: str) -> bool:
    return True


class Publisher:
    """Owns the shelf of bytes; the HTTP layer only reads from it."""

    def __init__(self, settings: Settings, worker: Worker, metrics: Metrics,
                 subscribed: Callable[[str], bool] = _everyone) -> None:
        """`subscribed(topic)`: whether a feed's URL may have a WebSub subscriber, i.e. whether its
        changes need a push body (by default every feed's does)."""
        self.settings = settings
        self.meta = FeedMeta.from_settings(settings)
        self.shelf = Shelf()
        self.base_url = settings.bound_url
        main = {view: Key(view, settings.page_size, 1, self.base_url) for view in VIEWS}
        home = Key(HOME, HOME_ENTRIES, 1, self.base_url)
        self._main_keys = frozenset((*main.values(), home))
        # The nine feeds are WebSub topics under their own URL: they advertise the hubs, and a
        # publication pushes what changed in them.
        self.topics = frozenset(self.base_url + view.path for view in VIEWS)
        self._pages = Pages(settings, self.meta, metrics,
                            hubs={key: hubs(settings, self.base_url + key.path) for key in main.values()},
                            links={key: link_header(settings, self.base_url + key.path) for key in main.values()})
        self.pushes = Pushes(self.meta, subscribed)
        self._rounds = Rounds(self._pages, self.pushes, self.shelf, worker, main, home, self.base_url)
        self._variants = Variants(self._pages, self._rounds, self.shelf, worker)

    def attach(self, index: Index) -> None:
        self._pages.index = index

    # -- publishing ------------------------------------------------------------------------

    @property
    def problem(self) -> str | None:
        """Why the last round failed to render a page (its last good bytes stay published)."""
        return self._rounds.problem

    @property
    def dirty(self) -> bool:
        """Whether views are left to render from the last publication (it gave way to a change)."""
        return self._rounds.dirty

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
        changed entries if someone subscribes to it: subscribers of /feed.atom need not wait for
        the round's other renders.

        When `interrupt()` says a newer change is waiting, the round stops after the page at hand:
        the views left stay dirty (showing the state before, their variants waiting), the change
        is indexed, and the next round renders them with it. A burst then costs one render of each
        view, not one per file."""
        await self._rounds.run(langs, interrupt, push)

    # -- reading (event loop) --------------------------------------------------------------

    def total(self, lang: Lang | None) -> int:
        """Documents in `lang`'s views, as published."""
        return self._rounds.totals[lang]

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
        return await self._variants.get(key)

    def close(self) -> None:
        self._variants.close()
