"""HTTP connections, the biggest user of file descriptors, kept below the limit and short of breath.

Without this, ~1,100 clients that dribble their request headers a byte at a time exhaust a 1,024
descriptor limit: accept() fails, every client is turned away, and the folder checks fail with
"too many open files". aiohttp keeps such a connection until its keep-alive timeout (75 s in
run_app) and has no header-read timeout of its own (3.x: `keepalive_timeout` is the only timer of
an idle or half-sent connection), so the guard adds one, and keeps the number of connections below
the descriptor limit by closing the oldest idle or half-sent connection when a new one
arrives at the cap.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

from .limits import fd_limit, fd_usage, out_of_fds

log = logging.getLogger("feedsvc.connections")

# Seconds a client has, from connecting (or from the first byte of a later request on a kept-alive
# connection), to send a complete request head. Real clients send theirs in one packet; nginx's
# client_header_timeout (60 s) counts between reads, which one byte a minute satisfies.
HEADER_TIMEOUT = 10.0
# Seconds an idle kept-alive connection stays open between requests. Longer than a reverse proxy's
# own idle timeout (nginx's upstream keepalive_timeout is 60 s), so that the proxy never sends a
# request on a connection we are closing; idle connections are the first closed at the cap anyway.
KEEPALIVE_TIMEOUT = 75.0
# At most one warning per this many seconds while the limits are being hit.
_WARN_EVERY = 10.0


class _GuardedHandler(RequestHandler):
    """aiohttp's request handler with a deadline for each request head, reporting to the guard.

    It reads two of aiohttp's internals, both as aiohttp itself uses them: `_request_count`
    (requests parsed so far: a change means a head is complete) and `_waiter` (set while the
    handler waits for the next request, which is what aiohttp's keep-alive check looks at too).
    """

    __slots__ = ("_guard", "_head_timer", "_heads")

    def __init__(self, manager: web.Server, *, guard: ConnectionGuard, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._guard = guard
        self._head_timer: asyncio.TimerHandle | None = None
        self._heads = 0

    def handle_error(self, request: BaseRequest, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> StreamResponse:
        # aiohttp's 400 for a request it cannot parse quotes the request line back: text an
        # attacker chose, in our response. Say what happened, not what was sent.
        if status != 500:
            phrase = HTTPStatus(status).phrase if status in {s.value for s in HTTPStatus} else "Error"
            message = f"{status} {phrase}: the request could not be parsed as HTTP/1.1\n"
        return super().handle_error(request, status, exc, message)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._head_timer = self._loop.call_later(self._guard.header_timeout, self._head_timed_out)
        self._guard.opened(self)

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm()
        self._guard.closed(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        heads = self._request_count
        if heads != self._heads:  # a request head is complete: its deadline is met
            # Kept to two attribute writes: this runs on every request (serving throughput).
            self._heads = heads
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None
        elif data and self._head_timer is None and self.waiting:
            # The first bytes of the next request, still incomplete. Not a request's body (the
            # handler may take its time answering), nor pipelined bytes while one is answered.
            self._head_timer = self._loop.call_later(self._guard.header_timeout, self._head_timed_out)

    @property
    def waiting(self) -> bool:
        """Idle or half-sent: no request being handled, so closing it loses no answer."""
        waiter = self._waiter
        return waiter is not None and not waiter.done()

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport is not None:
            self._guard.timed_out += 1
            self.force_close()


# Those internals, checked once: with an aiohttp that renamed them, connections are served by
# aiohttp's own handler, without the guard, rather than failing on every request.
GUARDED = {"_request_count", "_waiter"} <= set(getattr(RequestHandler, "__slots__", ()))


class ConnectionGuard:
    """Counts open connections; at the cap, closes the oldest idle or half-sent one
    (never one whose request is being answered) or, if every connection is busy, refuses the new
    one with a 503."""

    def __init__(self, cap: int, *, header_timeout: float = HEADER_TIMEOUT,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.cap = cap
        self.header_timeout = header_timeout
        # Insertion order is the order of last use: the first waiting one is the one to close.
        self._open: dict[_GuardedHandler, None] = {}
        self.evicted = 0
        self.refused = 0
        self.timed_out = 0
        self._clock = clock
        self._warned = -_WARN_EVERY

    def __len__(self) -> int:
        return len(self._open)

    def handler_factory(self, manager: web.Server, loop: asyncio.AbstractEventLoop,
                        **kwargs: Any) -> Callable[[], RequestHandler]:
        """The protocol factory for loop.create_server: what `manager` (aiohttp's Server) would
        build, with the guard added."""
        if not GUARDED:
            log.warning("this aiohttp's request handler is not the one expected: no header timeout and "
                        "no connection cap (keep-alive timeout %.0f s only)", kwargs.get("keepalive_timeout", 0))
            return lambda: RequestHandler(manager, loop=loop, **kwargs)

        def build() -> RequestHandler:
            return _GuardedHandler(manager, guard=self, loop=loop, **kwargs)
        return build

    def opened(self, handler: _GuardedHandler) -> None:
        self._open[handler] = None
        if len(self._open) <= self.cap:
            return
        for other in self._open:
            if other is not handler and other.waiting:
                self.evicted += 1
                self._warn("closing the oldest idle or half-sent connection")
                self._open.pop(other)
                other.force_close()
                return
        self.refused += 1
        self._warn("every connection is busy: refusing new ones with 503")
        self._open.pop(handler)
        if handler.transport is not None:
            handler.transport.write(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n"
                                    b"Content-Length: 0\r\nConnection: close\r\n\r\n")
        handler.force_close()

    def closed(self, handler: _GuardedHandler) -> None:
        self._open.pop(handler, None)

    def _warn(self, action: str) -> None:
        now = self._clock()
        if now - self._warned >= _WARN_EVERY:
            self._warned = now
            log.warning("connection limit reached: %d connections open (cap %d, below the open-files limit "
                        "of %d); %s (so far: %d closed at the cap, %d refused, %d timed out sending a request)",
                        len(self._open), self.cap, fd_limit(), action, self.evicted, self.refused, self.timed_out)


class GuardedSite(web.BaseSite):
    """aiohttp's TCPSite, with the guard's handlers instead of aiohttp's own."""

    __slots__ = ("_guard", "_handler_kwargs", "_host", "_port")

    def __init__(self, runner: web.BaseRunner, host: str, port: int, *, guard: ConnectionGuard,
                 handler_kwargs: dict[str, Any], backlog: int = 128) -> None:
        super().__init__(runner, backlog=backlog)
        self._host = host
        self._port = port
        self._guard = guard
        self._handler_kwargs = handler_kwargs

    @property
    def name(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None
        factory = self._guard.handler_factory(server, loop, **self._handler_kwargs)
        self._server = await loop.create_server(factory, self._host, self._port, backlog=self._backlog)


class AcceptErrors:
    """The loop's exception handler: an accept() that fails for lack of descriptors is logged as
    that (rate-limited), everything else as the loop would."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._warned = -_WARN_EVERY
        self.failures = 0

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if not out_of_fds(exc):
            loop.default_exception_handler(context)
            return
        self.failures += 1
        now = self._clock()
        if now - self._warned >= _WARN_EVERY:
            self._warned = now
            log.error("cannot accept connections: the process is out of file descriptors (%s; %d failures); "
                      "new clients wait until descriptors are free", fd_usage(), self.failures)
