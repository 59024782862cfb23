"""The embedded hub: the facade the service uses. POST /websub requests in (checked, stored, then
verified by the Verifier), changes in (delivered by the Dispatcher), pings out (the Pinger).

The event loop owns the schedule; the store, on a worker thread of the hub's own, owns the state.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractResolver

from feedsvc.ops.metrics import Metrics
from feedsvc.publish import headers as policy
from feedsvc.push.websub import links
from feedsvc.push.websub.client import open_session
from feedsvc.push.websub.context import Context
from feedsvc.push.websub.dispatch import Dispatcher
from feedsvc.push.websub.guard import Guard
from feedsvc.push.websub.intake import Refusal, check, client_address, read_form
from feedsvc.push.websub.limits import Limits, RateLimiter
from feedsvc.push.websub.model import Accepted, FeedChange, Mode, Subscription
from feedsvc.push.websub.ping import Pinger
from feedsvc.push.websub.stats import hub_metrics
from feedsvc.push.websub.store import Store
from feedsvc.push.websub.verify import Verifier
from feedsvc.settings import Settings
from feedsvc.store.worker import Worker

log = logging.getLogger("feedsvc.websub")

Resolver = AbstractResolver


def _text(status: int, text: str, **extra: str) -> web.Response:
    """The hub's answer to a subscription request: one line of plain text (WebSub clients show it)."""
    return web.Response(status=status, body=(text + "\n").encode(), headers={**policy.momentary(policy.TEXT), **extra})


def _topics(store: Store, now: float) -> frozenset[str]:
    """The topics with a live subscription or a request awaiting verification (the hub's thread)."""
    rows = store.db.execute("SELECT topic FROM subscriptions WHERE expires > ? UNION SELECT topic FROM intents",
                            (now,))
    return frozenset(str(row[0]) for row in rows)


class Hub:
    """The WebSub hub at POST /websub, and the pings of external hubs. Started once, stopped once."""

    def __init__(self, settings: Settings, metrics: Metrics, *, topics: Callable[[str], bool],
                 clock: Callable[[], float] = time.time, resolver: Resolver | None = None,
                 limits: Limits | None = None) -> None:
        self.settings = settings
        self.limits = limits = limits or Limits()
        self.clock = clock
        self.enabled = settings.websub
        self._topics = topics
        self._resolver = resolver
        stats = hub_metrics(metrics)
        self._ctx = Context(settings, limits, clock, Guard(settings.websub_allow_callbacks), stats,
                            Store(settings.state_dir), dirty=self._dirty)
        self.pinger = Pinger(settings.websub_hubs, limits, stats)
        self._dispatch = Dispatcher(self._ctx)
        self._verifier = Verifier(self._ctx, ended=self._dispatch.forget)
        self._rate = RateLimiter(limits.rate_burst, limits.rate_per_second, limits.rate_clients, time.monotonic)
        self._tasks: set[asyncio.Task[None]] = set()
        self._refresh: asyncio.TimerHandle | None = None
        # has_subscribers answers from here, on the event loop: the store lives on the hub's own
        # thread, and the publisher asks before each feed it renders. The topics with a live
        # subscription or a request awaiting verification, as of the last refresh, plus those asked
        # for since (a topic asked for at refresh n stays until a refresh that started later).
        self._subscribed: frozenset[str] = frozenset()
        self._asked: dict[str, int] = {}
        self._refreshes = 0  # refreshes started
        self._applied = 0  # the newest refresh whose topics are in _subscribed

    # -- the interface ---------------------------------------------------------------------

    async def start(self) -> None:
        """Open the state, resume pending verifications and deliveries, start the workers."""
        await self.pinger.start()
        if not self.enabled:
            return
        ctx = self._ctx
        ctx.worker = Worker()
        await ctx.run(ctx.store.open)
        ctx.session = open_session(ctx.guard, self._resolver, limit=self.limits.concurrency + self.limits.verifiers)
        ctx.running = True
        for intent in await ctx.run(ctx.store.intents, self.clock(), self.limits.intent_max_age):
            self._verifier.queue(intent)
        self._verifier.start()
        self._dispatch.start(await ctx.run(ctx.store.pending))
        self._spawn(self._sweeper())
        await self._update_counts()
        log.info("websub: hub started; %d requests to verify, %d deliveries pending", self._verifier.pending(),
                 self._dispatch.scheduled)

    async def stop(self) -> None:
        """Stop the workers; what is pending stays stored and resumes at the next start."""
        ctx = self._ctx
        ctx.running = False
        if self._refresh is not None:
            self._refresh.cancel()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._verifier.stop()
        await self._dispatch.stop()
        await self.pinger.stop()
        if ctx.session is not None:
            await ctx.session.close()
            ctx.session = None
        if ctx.worker is not None:
            await ctx.run(ctx.store.close)
            ctx.worker.close()
            ctx.worker = None

    async def handle(self, request: web.Request) -> web.Response:
        """POST /websub: a subscription request. 202 once it is stored for verification."""
        response = await self._answer(request)
        self._ctx.stats.requests.labels(str(response.status)).inc()
        return response

    def publish(self, changes: Sequence[FeedChange]) -> None:
        """Changes just published (call on the event loop; returns at once): ping the external hubs
        and queue a delivery to every subscriber of each changed topic."""
        self.pinger.ping([change.topic_url for change in changes])
        if self.enabled:
            self._dispatch.publish(changes)

    def has_subscribers(self, topic: str) -> bool:
        """Whether `topic` may have a subscriber (event loop; no I/O): then a change to it needs a
        push body. Never False for a live subscription; may be True for a while after one ended."""
        return self.enabled and (topic in self._subscribed or topic in self._asked)

    def links(self, self_url: str) -> str:
        """The Link header value for a feed at `self_url` ('' when no hub is advertised): for an
        application that serves its own feeds with this hub. feedsvc's publisher puts the same
        value (links.link_header) into its default feed pages' headers itself."""
        return links.link_header(self.settings, self_url)

    # -- extras for operators and tests ----------------------------------------------------

    async def sweep(self) -> list[int]:
        """Remove expired subscriptions now (the sweeper does it every limits.sweep_every)."""
        ctx = self._ctx
        gone = await ctx.run(ctx.store.sweep, self.clock())
        for subscription in gone:
            self._dispatch.forget(subscription)
        await self._update_counts()
        return gone

    async def subscriptions(self) -> list[Subscription]:
        """The live subscriptions (they hold secrets: never log them)."""
        return await self._ctx.run(self._ctx.store.subscriptions, self.clock())

    async def idle(self, timeout: float = 10.0) -> None:
        """Wait until nothing is queued, being verified or being sent (retries waiting for their
        time do not count), and no ping is under way (tests)."""
        deadline = time.monotonic() + timeout
        while self._verifier.busy or self._dispatch.busy:
            if time.monotonic() > deadline:
                raise TimeoutError("websub hub still busy")
            await asyncio.sleep(0.005)
        await self.pinger.idle()

    # -- subscription requests -------------------------------------------------------------

    async def _answer(self, request: web.Request) -> web.Response:
        if not self.enabled:
            return _text(404, "this service runs no WebSub hub")
        ctx = self._ctx
        if not ctx.running:
            return _text(503, "the hub is starting or stopping", **{"Retry-After": "5"})
        wait = self._rate.take(client_address(request, self.settings))
        if wait > 0:
            return _text(429, "too many subscription requests from this address",
                         **{"Retry-After": str(math.ceil(wait))})
        try:
            asked = check(await read_form(request, self.limits), self.limits, ctx.guard, self._topics)
        except Refusal as refusal:
            return _text(refusal.status, refusal.reason)
        if self._verifier.pending() >= self.limits.intents_max:
            return _text(503, "too many subscription requests awaiting verification", **{"Retry-After": "60"})
        if self._verifier.pending(asked.host) >= self.limits.intents_per_host:
            return _text(429, "too many subscription requests awaiting verification for this callback host",
                         **{"Retry-After": "60"})
        accepted, intent = await ctx.run(
            ctx.store.add_intent, asked.mode, asked.topic, asked.callback, asked.host, asked.lease, asked.secret,
            asked.verify_token, self.clock(), self.limits)
        if accepted is Accepted.HOST_FULL:
            return _text(403, "too many subscriptions for this callback host")
        if accepted is Accepted.FULL:
            return _text(503, "this hub takes no more subscriptions", **{"Retry-After": "3600"})
        if accepted is Accepted.NOTHING:
            return _text(202, "not subscribed: nothing to unsubscribe")
        assert intent is not None
        if asked.mode is Mode.SUBSCRIBE:  # before it is verified: its first push must find the body
            self._asked[asked.topic] = self._refreshes
        self._verifier.queue(intent)
        self._dirty()
        return _text(202, f"accepted: the {asked.mode.value} request will be verified at the callback")

    # -- housekeeping ----------------------------------------------------------------------

    async def _sweeper(self) -> None:
        while True:
            await asyncio.sleep(self.limits.sweep_every)
            try:
                gone = await self.sweep()
            except Exception:
                log.exception("websub: removing expired subscriptions failed")
                continue
            if gone:
                log.info("websub: %d subscriptions expired and were removed", len(gone))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _dirty(self) -> None:
        """Counts changed: refresh the gauges soon (at most five times a second)."""
        if self._refresh is None and self._ctx.running:
            self._refresh = asyncio.get_running_loop().call_later(0.2, self._refresh_now)

    def _refresh_now(self) -> None:
        self._refresh = None
        if self._ctx.running:
            self._spawn(self._update_counts())

    async def _update_counts(self) -> None:
        self._refreshes += 1
        started = self._refreshes
        live, retrying = await self._ctx.run(self._ctx.store.counts, self.clock())
        topics = await self._ctx.run(_topics, self._ctx.store, self.clock())
        if started > self._applied:  # an older refresh finishing late must not undo a newer one
            self._applied = started
            self._subscribed = topics
            # Those asked for before this refresh started are in what it read; later ones may not be.
            self._asked = {topic: at for topic, at in self._asked.items() if at >= started}
        stats = self._ctx.stats
        stats.subscriptions.set(live)
        stats.retrying.set(retrying)
        stats.verifying.set(self._verifier.pending())
