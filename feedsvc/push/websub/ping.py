"""Publish pings to external hubs (FEEDSVC_WEBSUB_HUBS): hub.mode=publish, with the topic as both
hub.url and hub.topic (hubs disagree on the name), one request per hub and topic, retried with
backoff; a warning when one gives up. Pings are not kept across restarts: the hubs poll too."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence

import aiohttp

from feedsvc.ops.keyed_tasks import KeyedTasks
from feedsvc.push.websub.client import USER_AGENT, close
from feedsvc.push.websub.limits import Limits
from feedsvc.push.websub.stats import HubMetrics

log = logging.getLogger("feedsvc.websub")


class Pinger:
    """Tells the configured hubs that topics changed. The hubs are the operator's, so no SSRF
    guard applies to them."""

    def __init__(self, hubs: Sequence[str], limits: Limits, stats: HubMetrics) -> None:
        self.hubs = tuple(hubs)
        self._limits = limits
        self._stats = stats
        self._session: aiohttp.ClientSession | None = None
        self._slots = asyncio.Semaphore(limits.ping_concurrency)
        self._pings: KeyedTasks[tuple[str, str]] = KeyedTasks(self._ping, "websub-ping")
        self._early: set[tuple[str, str]] = set()  # pinged before start

    async def start(self) -> None:
        if not self.hubs or self._session is not None:
            return
        self._session = aiohttp.ClientSession(trust_env=False, cookie_jar=aiohttp.DummyCookieJar(),
                                              headers={"User-Agent": USER_AGENT})
        early, self._early = self._early, set()
        for key in sorted(early):
            self._pings(key)

    async def stop(self) -> None:
        await close(self._pings, self._session)
        self._session = None

    def ping(self, topics: Iterable[str]) -> None:
        """Ping every hub about every topic (call on the event loop); a ping already under way for
        the same hub and topic is sent once more after it, not twice at once."""
        for hub in self.hubs:
            for topic in topics:
                key = (hub, topic)
                if self._session is None:
                    self._early.add(key)
                else:
                    self._pings(key)

    async def idle(self) -> None:
        """Wait until no ping is under way (tests)."""
        await self._pings.idle()

    async def _ping(self, key: tuple[str, str]) -> None:
        hub, topic = key
        limits = self._limits
        why = ""
        for attempt in range(1, limits.ping_attempts + 1):
            async with self._slots:
                why = await self._post(hub, topic)
            if not why:
                self._stats.pings.labels("ok").inc()
                return
            self._stats.pings.labels("failed").inc()
            log.debug("websub: ping %d of %s about %s failed: %s", attempt, hub, topic, why)
            if attempt < limits.ping_attempts:
                await asyncio.sleep(limits.ping_backoff(attempt))
        self._stats.pings.labels("gave_up").inc()
        log.warning("websub: gave up pinging hub %s about %s after %d attempts: %s", hub, topic,
                    limits.ping_attempts, why)

    async def _post(self, hub: str, topic: str) -> str:
        """'' if the hub took the ping (2xx), else why not."""
        assert self._session is not None
        form = {"hub.mode": "publish", "hub.url": topic, "hub.topic": topic}
        try:
            async with self._session.post(hub, data=form, allow_redirects=False,
                                          timeout=aiohttp.ClientTimeout(total=self._limits.ping_timeout)) as response:
                if 200 <= response.status < 300:
                    return ""
                return f"HTTP {response.status}"
        except TimeoutError:
            return "timed out"
        except (aiohttp.ClientError, OSError) as exc:
            return f"{type(exc).__name__}: {exc}"
