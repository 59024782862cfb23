"""Push bodies: for each feed a publication changed, the document of only its entries updated since
the last publication, which WebSub subscribers are sent instead of the whole feed. Rendered only
for a topic someone subscribes to: nobody else reads it."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable

from feedsvc.feeds import FeedMeta, Page, render
from feedsvc.feeds.views import utc
from feedsvc.publish.pages import Key


class Pushes:
    """Remembers each default feed's newest update as of the last publication, and makes the push
    body of the next one from it."""

    def __init__(self, meta: FeedMeta, subscribed: Callable[[str], bool]) -> None:
        self._meta = meta
        # Whether a topic (a feed's URL) has a subscriber, or may have one by the time its change
        # is handed to the hub: asked on the event loop, where the hub keeps its answer.
        self._subscribed = subscribed
        self._since: dict[Key, dt.datetime] = {}  # each feed's newest update at the last publication
        self.rendered = 0  # push bodies rendered so far (tests: none without a subscriber)

    def wanted(self, key: Key) -> bool:
        """Whether the next push of `key`'s feed needs its body (event loop)."""
        return key.view is not None and self._subscribed(key.base_url + key.path)

    def fresh(self, key: Key, page: Page, wanted: bool) -> bytes | None:
        """The push body of `key`'s default page as just read (worker thread): its entries updated
        since the last publication, or None (the hub then sends the whole feed).

        The newest update is recorded whether or not the body is wanted: it marks what the last
        publication showed, not what was last pushed. A subscriber who comes later is then pushed
        what changed since the publication before its push, as it would have been had it been
        subscribed all along, not every entry since the service started."""
        since = self._since.get(key)
        fresh = None
        if wanted and key.view is not None and since is not None:
            new = tuple(e for e in page.entries if utc(e.updated) > since)
            if new:
                fresh = render(self._meta, key.view, dataclasses.replace(page, entries=new), key.base_url)
                self.rendered += 1
        if page.updated is not None:
            self._since[key] = utc(page.updated)
        return fresh
