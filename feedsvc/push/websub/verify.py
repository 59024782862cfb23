"""Intent verification (WebSub §5.3): a GET to the callback that must answer 2xx with the challenge,
and the queue of stored requests awaiting it."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import Counter, deque
from collections.abc import Callable
from urllib.parse import urlencode

import aiohttp
from yarl import URL

from feedsvc.push.websub.client import read_at_most
from feedsvc.push.websub.context import Context
from feedsvc.push.websub.guard import refused
from feedsvc.push.websub.limits import Limits
from feedsvc.push.websub.model import Intent, Mode, Verified

log = logging.getLogger("feedsvc.websub")


def challenge() -> str:
    """A fresh single-use challenge (256 random bits)."""
    return secrets.token_hex(32)


def with_query(callback: str, params: list[tuple[str, str]]) -> str:
    """The callback with `params` appended to whatever query it already has (its fragment dropped)."""
    base = callback.split("#", 1)[0]
    if base.endswith(("?", "&")):
        separator = ""
    else:
        separator = "&" if "?" in base else "?"
    return base + separator + urlencode(params)


def verification_url(intent: Intent, text: str) -> str:
    params = [("hub.mode", intent.mode.value), ("hub.topic", intent.topic), ("hub.challenge", text)]
    if intent.mode is Mode.SUBSCRIBE:
        params.append(("hub.lease_seconds", str(intent.lease)))
    if intent.verify_token is not None:  # NewsBlur and BazQux still send and check it
        params.append(("hub.verify_token", intent.verify_token))
    return with_query(intent.callback, params)


async def verify(session: aiohttp.ClientSession, intent: Intent, limits: Limits) -> Verified:
    """Ask the subscriber whether it meant the request; redirects are never followed."""
    text = challenge()
    url = URL(verification_url(intent, text), encoded=True)
    try:
        async with session.get(url, allow_redirects=False,
                               timeout=aiohttp.ClientTimeout(total=limits.verify_timeout)) as response:
            if 300 <= response.status < 400:
                return Verified.REDIRECTED
            if not 200 <= response.status < 300:
                return Verified.REJECTED
            body = await read_at_most(response.content, limits.read_max_bytes)
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        return Verified.REFUSED if refused(exc) else Verified.UNREACHABLE
    return Verified.OK if body == text.encode() else Verified.WRONG_CHALLENGE


class Verifier:
    """Verifies stored requests, several at a time but in arrival order per (topic, callback), so
    a subscribe and the unsubscribe that follows it end in the order they were sent."""

    def __init__(self, ctx: Context, ended: Callable[[int], None]) -> None:
        self._ctx = ctx
        self._ended = ended  # told the id of a subscription an unsubscribe removed
        self._chains: dict[tuple[str, str], deque[Intent]] = {}
        self._ready: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._hosts: Counter[str] = Counter()  # callback host -> requests awaiting verification
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._work(), name=f"websub-verifier-{n}")
                       for n in range(self._ctx.limits.verifiers)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    def pending(self, host: str | None = None) -> int:
        """Requests awaiting verification, for one callback host or in all."""
        return self._hosts[host] if host is not None else sum(self._hosts.values())

    @property
    def busy(self) -> bool:
        return bool(self._chains)

    def queue(self, intent: Intent) -> None:
        self._hosts[intent.host] += 1
        chain = self._chains.get(intent.key)
        if chain is not None:
            chain.append(intent)
        else:
            self._chains[intent.key] = deque([intent])
            self._ready.put_nowait(intent.key)

    async def _work(self) -> None:
        while True:
            key = await self._ready.get()
            chain = self._chains[key]
            while chain:
                intent = chain[0]
                try:
                    await self._verify(intent)
                except Exception:
                    log.exception("websub: verifying a %s request failed", intent.mode.value)
                finally:
                    chain.popleft()
                    self._hosts[intent.host] -= 1
                    if self._hosts[intent.host] <= 0:
                        del self._hosts[intent.host]
            del self._chains[key]

    async def _verify(self, intent: Intent) -> None:
        ctx = self._ctx
        if ctx.guard.check_url(intent.callback, ctx.limits.url_max_chars) is not None:
            outcome = Verified.REFUSED
        else:
            outcome = await verify(ctx.http, intent, ctx.limits)
        verified = outcome is Verified.OK
        subscription = await ctx.run(ctx.store.finish, intent, verified, ctx.clock())
        ctx.stats.verifications.labels(intent.mode.value, outcome.value).inc()
        log.info("websub: %s %s for a callback on %s: %s", intent.mode.value, intent.topic, intent.host, outcome.value)
        if verified and intent.mode is Mode.UNSUBSCRIBE and subscription is not None:
            self._ended(subscription)
        ctx.dirty()
