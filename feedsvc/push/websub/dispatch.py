"""The delivery schedule: changes in, one task per subscription with content pending out.

A task waits for a slot on its callback's host and a global one, reads the pending content, sends
it once and records the outcome: delivered, gone (410: the subscription ends), or failed (a retry
with exponential backoff and jitter, until the bounded time is over). Newer content for the same
subscription replaces what was pending, and is sent at once. Retries are timers on the loop;
what is pending is in the store, so a restart resumes it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from feedsvc.push.websub import links
from feedsvc.push.websub.context import Context
from feedsvc.push.websub.deliver import deliver
from feedsvc.push.websub.model import DeliveryOutcome, Due, FeedChange

log = logging.getLogger("feedsvc.websub")

T = TypeVar("T")
R = TypeVar("R")

_BODY_CACHE = 32  # distinct bodies kept in memory: each goes to every subscriber of a topic


class Batched(Generic[T, R]):
    """Calls of one store method from many delivery tasks, made together on the worker: while one
    batch runs, the next gathers, so a fan-out to N subscribers costs a few thread hops and fsyncs
    (a write is one transaction), not N in a row."""

    def __init__(self, ctx: Context, method: Callable[[Sequence[T]], list[R]], name: str) -> None:
        self._ctx = ctx
        self._method = method
        self._name = name
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._runner: asyncio.Task[None] | None = None

    def __call__(self, item: T) -> asyncio.Future[R]:
        """`method`'s answer for `item`, once its batch has run."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._waiting.append((item, future))
        if self._runner is None:
            self._runner = loop.create_task(self._run(), name=self._name)
        return future

    async def stop(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)

    async def _run(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    answers = await self._ctx.run(self._method, [item for item, _ in batch])
                except Exception as exc:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, future), answer in zip(batch, answers, strict=True):
                    if not future.done():  # its task may have been cancelled by a stop
                        future.set_result(answer)
        finally:
            self._runner = None


class Dispatcher:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._incoming: dict[str, FeedChange] = {}  # topic -> newest change not yet stored
        self._arrived = asyncio.Event()
        self._intake: asyncio.Task[None] | None = None
        self._timers: dict[int, asyncio.TimerHandle] = {}
        self._sending: dict[int, asyncio.Task[None]] = {}
        self._again: set[int] = set()  # woken while sending: look again when done
        self._host_of: dict[int, str] = {}
        self._hosts: dict[str, tuple[asyncio.Semaphore, list[int]]] = {}  # host -> (slots, [tasks using it])
        self._slots = asyncio.Semaphore(ctx.limits.concurrency)
        self._bodies: OrderedDict[str, bytes] = OrderedDict()
        self._jobs = Batched(ctx, ctx.store.jobs, "websub-jobs")
        self._done = Batched(ctx, ctx.store.done, "websub-done")

    def start(self, pending: Sequence[Due]) -> None:
        for due in pending:
            self.wake(due)
        self._intake = asyncio.get_running_loop().create_task(self._take(), name="websub-intake")

    async def stop(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        tasks = [*self._sending.values(), *([self._intake] if self._intake else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._jobs.stop()
        await self._done.stop()
        self._sending.clear()

    @property
    def busy(self) -> bool:
        """Changes not yet stored, or deliveries being sent (retries waiting for their time do not count)."""
        return bool(self._incoming or self._sending or self._arrived.is_set())

    @property
    def scheduled(self) -> int:
        return len(self._timers) + len(self._sending)

    def publish(self, changes: Sequence[FeedChange]) -> None:
        for change in changes:
            if change.topic_url in self._incoming:  # two changes before the first was stored: send it whole
                change = FeedChange(change.topic_url, change.content_type, change.full_body, None)
            self._incoming[change.topic_url] = change
        self._arrived.set()

    async def _take(self) -> None:
        ctx = self._ctx
        while True:
            await self._arrived.wait()
            self._arrived.clear()
            batch = list(self._incoming.values())
            if not batch:
                continue
            try:
                woken = await ctx.run(ctx.store.enqueue, batch, ctx.clock())
            except Exception:
                log.exception("websub: queueing deliveries of %d changes failed", len(batch))
                woken = []
            finally:
                for change in batch:  # unless newer ones arrived meanwhile
                    if self._incoming.get(change.topic_url) is change:
                        del self._incoming[change.topic_url]
            for due in woken:
                self.wake(due)

    def wake(self, due: Due) -> None:
        """Send the subscription's pending content at `due.at` (clock time), or now if past."""
        subscription = due.subscription
        if not self._ctx.running:
            return
        self._host_of[subscription] = due.host
        if subscription in self._sending:
            self._again.add(subscription)
            return
        timer = self._timers.pop(subscription, None)
        if timer is not None:
            timer.cancel()
        delay = due.at - self._ctx.clock()
        if delay <= 0:
            self._launch(subscription)
        else:
            self._timers[subscription] = asyncio.get_running_loop().call_later(delay, self._launch, subscription)

    def forget(self, subscription: int) -> None:
        """A subscription that ended: nothing more is sent to it (a task under way finds it gone)."""
        timer = self._timers.pop(subscription, None)
        if timer is not None:
            timer.cancel()
        if subscription not in self._sending:
            self._host_of.pop(subscription, None)

    def _launch(self, subscription: int) -> None:
        self._timers.pop(subscription, None)
        if not self._ctx.running:
            return
        if subscription in self._sending:
            self._again.add(subscription)
            return
        self._sending[subscription] = asyncio.get_running_loop().create_task(
            self._send(subscription), name=f"websub-deliver-{subscription}")

    async def _send(self, subscription: int) -> None:
        following: float | None = None
        try:
            following = await self._attempt(subscription)
        except Exception:
            log.exception("websub: a delivery failed inside the hub; it is tried again at the next start")
        finally:
            self._sending.pop(subscription, None)
        again = subscription in self._again
        self._again.discard(subscription)
        if following is not None:
            self.wake(Due(subscription, self._host_of.get(subscription, ""), following))
        elif again:
            self._launch(subscription)
        else:
            self._host_of.pop(subscription, None)

    async def _attempt(self, subscription: int) -> float | None:
        """One try at the pending content; returns when the content still pending is due, if any."""
        ctx = self._ctx
        host = self._host_of.get(subscription, "")
        slots, users = self._hosts.setdefault(host, (asyncio.Semaphore(ctx.limits.per_host), [0]))
        users[0] += 1
        try:
            async with slots, self._slots:
                found = await self._jobs((subscription, ctx.clock()))
                if found is None:
                    return None  # delivered meanwhile, unsubscribed or expired
                job, due = found
                if due > ctx.clock():
                    return due
                body = await self._body(job.body_key)
                if body is None:  # replaced by newer content meanwhile
                    return await self._done((subscription, job.seq))
                if ctx.guard.check_url(job.subscription.callback, ctx.limits.url_max_chars) is not None:
                    outcome = DeliveryOutcome.REFUSED
                else:
                    hub = links.hub_url(ctx.settings, job.subscription.topic)
                    outcome = await deliver(ctx.http, job, body, hub, ctx.limits)
        finally:
            users[0] -= 1
            if users[0] == 0:
                del self._hosts[host]
        ctx.stats.deliveries.labels(outcome.value).inc()
        now = ctx.clock()
        where = f"{job.subscription.topic} to a callback on {host}"
        if outcome is DeliveryOutcome.DELIVERED:
            ctx.stats.latency.observe(max(0.0, now - job.published))
            if job.attempts:
                ctx.dirty()
            return await self._done((subscription, job.seq))
        ctx.dirty()
        if outcome is DeliveryOutcome.GONE:
            log.info("websub: %s answered 410 Gone: the subscription ended", where)
            await ctx.run(ctx.store.remove, subscription)
            return None
        attempts = job.attempts + 1
        delay = ctx.limits.backoff(attempts)
        if now + delay > job.published + ctx.limits.retry_for:
            ctx.stats.abandoned.inc()
            log.warning("websub: gave up delivering %s after %d attempts (last: %s); the subscription stays",
                        where, attempts, outcome.value)
            return await self._done((subscription, job.seq))
        log.info("websub: delivering %s failed (%s); retry %d in %.1f s", where, outcome.value, attempts, delay)
        return await ctx.run(ctx.store.retry, subscription, job.seq, attempts, now + delay)

    async def _body(self, key: str) -> bytes | None:
        body = self._bodies.get(key)
        if body is not None:
            self._bodies.move_to_end(key)
            return body
        body = await self._ctx.run(self._ctx.store.body, key)
        if body is not None:
            self._bodies[key] = body
            while len(self._bodies) > _BODY_CACHE:
                self._bodies.popitem(last=False)
        return body
