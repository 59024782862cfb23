"""What one page shows and its bytes: the keys of the published pages, read from the index and
assembled with their headers. Shared by the rounds (default pages) and the variants."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from dataclasses import dataclass

from feedsvc.documents.model import Lang
from feedsvc.documents.publications import Topic
from feedsvc.documents.words import Match
from feedsvc.feeds import FeedMeta, Page, View
from feedsvc.feeds.views import feed_path, utc
from feedsvc.ops.metrics import Metrics
from feedsvc.publish import headers
from feedsvc.publish.renderer import Draft, page_bytes
from feedsvc.publish.shelf import Packed, Rendered
from feedsvc.settings import Settings
from feedsvc.store.index import Index, ns_to_datetime

log = logging.getLogger("feedsvc.publisher")


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


# What a round's default pages read from the index, shared between a view's three formats.
Shared = dict[tuple[Lang | None, int, int], Page]


class Pages:
    """Reads pages from the index and makes their bytes; the index is read on the worker thread."""

    def __init__(self, settings: Settings, meta: FeedMeta, metrics: Metrics,
                 hubs: dict[Key, tuple[str, ...]], links: dict[Key, str]) -> None:
        self.settings = settings
        self.meta = meta
        self.index: Index | None = None
        self._metrics = metrics
        self._hubs = hubs  # the default feeds advertise the hubs in their documents...
        self._links = links  # ...and in their Link headers

    def page(self, key: Key, pages: Shared) -> Page:
        """What one default page shows (worker thread); `pages` shares what a view's page read from
        the index between its three formats, which differ only in their hubs."""
        where = (key.view.lang if key.view else None, key.limit, key.page)
        found = pages.get(where)
        if found is None:
            found = pages[where] = self.draft(key).finished()
        return dataclasses.replace(found, hubs=self._hubs.get(key, ()))

    def draft(self, key: Key) -> Draft:
        """What one page shows, read from the index (worker thread), its documents still as stored."""
        assert self.index is not None
        index = self.index
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

    def build(self, key: Key, page: Page) -> Rendered:
        """The bytes of one page, here (the worker thread)."""
        return self.assemble(key, page.updated, *page_bytes(self.meta, key.view, page, key.base_url))

    def assemble(self, key: Key, updated: dt.datetime | None, packed: Packed, elapsed: float) -> Rendered:
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
