"""The hub's one outgoing HTTP session: guarded resolver and sockets, no cookies, no proxies,
no redirects (each request passes allow_redirects=False), bounded reads."""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver
from aiohttp.resolver import DefaultResolver

from feedsvc.ops.keyed_tasks import KeyedTasks
from feedsvc.push.websub.guard import Guard, GuardedResolver

USER_AGENT = "feedsvc-websub/1 (WebSub hub; +https://www.w3.org/TR/websub/)"


def open_session(guard: Guard, resolver: AbstractResolver | None, *, limit: int) -> aiohttp.ClientSession:
    """A session whose every connection goes to an address `guard` allows (call on the loop)."""
    connector = aiohttp.TCPConnector(
        resolver=GuardedResolver(guard, resolver if resolver is not None else DefaultResolver()),
        socket_factory=guard.socket_factory,
        limit=limit,
        use_dns_cache=False,  # every connection resolves afresh, through the guard
    )
    return aiohttp.ClientSession(connector=connector, trust_env=False, cookie_jar=aiohttp.DummyCookieJar(),
                                 headers={"User-Agent": USER_AGENT})


async def close(tasks: KeyedTasks[Any], session: aiohttp.ClientSession | None) -> None:
    """Stop a sender (the pinger, the edge refresher): its requests under way first, so none fails
    on a session closed under it, then the session."""
    await tasks.stop()
    if session is not None:
        await session.close()


async def read_at_most(stream: aiohttp.StreamReader, limit: int) -> bytes:
    """Up to `limit` + 1 bytes of a body: enough to tell it is longer, never the whole of a big one."""
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = await stream.read(limit + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)
