"""Caching proxies in front (FEEDSVC_EDGE_REFRESH): each is asked to fetch a feed again the moment
it changes, so a new digest shows through them at once, not when their s-maxage copy expires
(nginx counts cache time in whole seconds: `s-maxage=1` means 1 to 2 s)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import aiohttp

from feedsvc.ops.keyed_tasks import KeyedTasks
from feedsvc.push.websub.client import close
from feedsvc.push.websub.model import FeedChange

log = logging.getLogger("feedsvc.edge")

# docs/edge/nginx.conf bypasses its cache for requests carrying this header from private
# addresses, and stores what it fetched: the refreshed copy then answers everyone.
HEADER = "X-Feedsvc-Refresh"
ENCODINGS = ("gzip", "identity")  # the edge keeps one copy per encoding
TIMEOUT = 5.0


class Edges:
    """Refreshes every changed feed at every edge: one request per URL and encoding at a time, and a
    change that arrives meanwhile is refreshed once more after it (KeyedTasks)."""

    def __init__(self, edges: Sequence[str], base_url: str) -> None:
        self._edges = tuple(edge.rstrip("/") for edge in edges)
        self._base = base_url
        self._session: aiohttp.ClientSession | None = None
        self._fetches: KeyedTasks[tuple[str, str]] = KeyedTasks(self._fetch, "edge-refresh")
        self._failing: set[str] = set()  # edges whose last refresh failed: logged once, until one works

    async def start(self) -> None:
        if self._edges:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT), trust_env=False)

    async def stop(self) -> None:
        await close(self._fetches, self._session)
        self._session = None

    def refresh(self, changes: Sequence[FeedChange]) -> None:
        """Changes just published (on the loop; returns at once)."""
        if self._session is None:
            return
        for change in changes:
            if not change.topic_url.startswith(self._base):
                continue
            path = change.topic_url[len(self._base):]
            for edge in self._edges:
                for encoding in ENCODINGS:
                    self._fetches((f"{edge}{path}", encoding))

    async def _fetch(self, key: tuple[str, str]) -> None:
        assert self._session is not None
        url, encoding = key
        edge = url.split("/", 3)[2]
        try:
            async with self._session.get(url, headers={HEADER: "1", "Accept-Encoding": encoding},
                                         allow_redirects=False) as response:
                await response.read()
                ok = response.status == 200
                problem = f"HTTP {response.status}"
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            ok, problem = False, f"{type(exc).__name__}: {exc}"
        if ok and edge in self._failing:
            self._failing.discard(edge)
            log.info("edge %s refreshes again", edge)
        elif not ok and edge not in self._failing:
            self._failing.add(edge)
            log.warning("refreshing %s at the edge failed (%s); it shows the change when its copy expires",
                        url, problem)
