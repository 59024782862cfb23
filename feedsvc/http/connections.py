"""HTTP connections, the biggest user of file descriptors, kept below the limit and short of breath.

Without this, ~1,100 clients that dribble their request headers a byte at a time exhaust a 1,024
descriptor limit: accept() fails, every client is turned away, and the folder checks fail with
"too many open files". aiohttp keeps such a connection until its keep-alive timeout (75 s in
run_app) and has no header-read timeout of its own (3.x: `keepalive_timeout` is the only timer of
an idle or half-sent connection), so the guard adds one, and keeps the number of connections below
the descriptor limit by closing the oldest idle or half-sent connection when a new one
arrives at the cap.

The guard leans on aiohttp internals that a patch release may change, so it is checked at start
(`check`): if anything differs, the site serves with aiohttp's own handler, the log says what
differed, and /healthz and /metrics say the protection is off.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import aiohttp
from aiohttp import web

# From aiohttp.web, which exports them, not their modules: a module that moves then costs the
# guard, not the service.
from aiohttp.web import BaseRequest, RequestHandler, StreamResponse

from feedsvc.ops.health import Concern, Problem
from feedsvc.ops.limits import fd_limit, fd_usage, out_of_fds

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
# Seconds the self-check at start may take: a few milliseconds when aiohttp behaves as expected;
# generous, since running out means serving without the guard.
SELF_CHECK_TIMEOUT = 5.0


class _GuardedHandler(RequestHandler):
    """aiohttp's request handler with a deadline for each request head, reporting to the guard.

    It reads two of aiohttp's internals, both as aiohttp itself uses them: `_request_count`
    (requests parsed so far: a change means a head is complete) and `_waiter` (set while the
    handler waits for the next request, which is what aiohttp's keep-alive check looks at too);
    and it overrides `handle_error`. `check` makes sure of all three before this class is used.
    """

    # Its own loop, not aiohttp's `_loop`: one internal less to depend on.
    __slots__ = ("_guard", "_head_timer", "_heads", "_timers")

    def __init__(self, manager: web.Server, *, guard: ConnectionGuard, loop: asyncio.AbstractEventLoop,
                 **kwargs: Any) -> None:
        super().__init__(manager, loop=loop, **kwargs)
        self._guard = guard
        self._timers = loop
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
        self._head_timer = self._timers.call_later(self._guard.header_timeout, self._head_timed_out)
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
            self._head_timer = self._timers.call_later(self._guard.header_timeout, self._head_timed_out)

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
        build, with the guard added. Only for an aiohttp that passed `check`."""
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


# -- the check at start: is this aiohttp the one the guard was written against? -----------------

# What _GuardedHandler overrides on purpose. Any other name it defines must be new to aiohttp's
# handler: one aiohttp took up too would have the guard overwrite aiohttp's own state.
_OVERRIDES = frozenset({"connection_made", "connection_lost", "data_received", "handle_error"})
_HANDLE_ERROR = ["request", "status", "exc", "message"]
_ABSENT = object()


def _declared(cls: type) -> set[str]:
    """The instance attributes a class and its bases declare in __slots__."""
    names: set[str] = set()
    for klass in cls.__mro__:
        slots = vars(klass).get("__slots__", ())
        names.update((slots,) if isinstance(slots, str) else slots)
    return names


def _parameters(function: object) -> list[inspect.Parameter] | None:
    """Its parameters after `self`; None if it is not a function one can read."""
    if not callable(function):
        return None
    try:
        return list(inspect.signature(function).parameters.values())[1:]
    except (TypeError, ValueError):
        return None


def differences(manager: web.Server, loop: asyncio.AbstractEventLoop, handler_kwargs: dict[str, Any]) -> list[str]:
    """What differs from what the guard leans on, as far as one can tell without a connection:
    names, signatures, and the two attributes on a handler built as aiohttp's Server builds one."""
    if not (isinstance(RequestHandler, type) and issubclass(RequestHandler, asyncio.Protocol)):
        return ["aiohttp.web.RequestHandler is not an asyncio protocol class"]
    found: list[str] = []
    params = _parameters(RequestHandler.__init__)
    if params is None:
        found.append("RequestHandler.__init__ has no readable signature")
    else:
        named = {p.name for p in params if p.kind is not p.VAR_POSITIONAL}
        anything = any(p.kind is p.VAR_KEYWORD for p in params)
        passed = {"loop", *handler_kwargs}
        unknown = sorted(passed - named) if not anything else []
        if unknown:
            found.append(f"RequestHandler.__init__ takes no {', '.join(unknown)}")
        if not params or params[0].kind not in (params[0].POSITIONAL_ONLY, params[0].POSITIONAL_OR_KEYWORD):
            found.append("RequestHandler.__init__ takes no manager (aiohttp's Server) first")
        required = [p.name for p in params[1:] if p.default is p.empty and p.name not in passed
                    and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        if required:
            found.append(f"RequestHandler.__init__ requires {', '.join(required)} too")
    params = _parameters(getattr(RequestHandler, "handle_error", None))
    if params is None:
        found.append("RequestHandler.handle_error is gone")
    else:
        names = [p.name for p in params[:len(_HANDLE_ERROR)]]
        extra = [p.name for p in params[len(_HANDLE_ERROR):] if p.default is p.empty
                 and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        if names != _HANDLE_ERROR or extra:
            found.append(f"RequestHandler.handle_error takes ({', '.join(p.name for p in params)}), "
                         f"not ({', '.join(_HANDLE_ERROR)})")
    params = _parameters(getattr(RequestHandler, "force_close", None))
    if params is None or any(p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
                             for p in params):
        found.append("RequestHandler.force_close() is gone or takes arguments")
    declared = _declared(RequestHandler)
    ours = ({n for n in vars(_GuardedHandler) if not n.startswith("__")} | set(_GuardedHandler.__slots__)) - _OVERRIDES
    taken = sorted(n for n in ours if n in declared or hasattr(RequestHandler, n))
    if taken:
        found.append(f"RequestHandler has its own {', '.join(taken)}, which the guard's handler uses for itself")
    if "_server" not in _declared(web.BaseSite):
        found.append("web.BaseSite._server is gone (what BaseSite.stop closes)")
    if found:
        return found
    try:
        fresh = RequestHandler(manager, loop=loop, **handler_kwargs)
    except Exception as exc:  # whatever it is, the guard cannot build its handlers
        return [f"RequestHandler(manager, loop=..., {', '.join(handler_kwargs)}) fails: {exc!r}"]
    declared |= set(getattr(fresh, "__dict__", ()))
    expected: list[tuple[str, Callable[[object], bool], str, str]] = [
        ("_request_count", lambda v: type(v) is int and v == 0, "0", "the count of request heads parsed"),
        ("_waiter", lambda v: v is None, "None", "set while a connection waits for its next request")]
    for name, holds, shown, role in expected:
        value = getattr(fresh, name, _ABSENT)
        if name not in declared or value is _ABSENT:
            found.append(f"RequestHandler.{name} is gone ({role})")
        elif not holds(value):
            found.append(f"RequestHandler.{name} is {value!r} on a new handler, not {shown} ({role})")
    return found


class _Differs(Exception):
    pass


class _SelfCheck:
    """One kept-alive loopback connection and one malformed request through the guard's handler,
    on a port of its own, to the real application; each step as the guard expects it."""

    PATH = b"/.feedsvc-self-check"  # no route: the application answers 404 and counts nothing
    # Answers that say the request went wrong on the server's side: a parse error or a failure.
    _FAILED = re.compile(rb"HTTP/1\.1 (400|5\d\d) ")

    def __init__(self, manager: web.Server, loop: asyncio.AbstractEventLoop, handler_kwargs: dict[str, Any]) -> None:
        self.guard = ConnectionGuard(cap=8)
        self.factory = self.guard.handler_factory(manager, loop, **handler_kwargs)
        self.step = "the self-check's loopback port to open"

    async def until(self, step: str, condition: Callable[[], bool]) -> None:
        self.step = step
        while not condition():
            await asyncio.sleep(0.002)

    def handler(self, client: tuple[Any, ...]) -> _GuardedHandler | None:
        for handler in self.guard._open:
            if handler.transport is not None and handler.transport.get_extra_info("peername") == client:
                return handler
        return None

    async def run(self) -> list[str]:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(SELF_CHECK_TIMEOUT):
                server = await loop.create_server(self.factory, "127.0.0.1", 0)
                try:
                    port = server.sockets[0].getsockname()[1]
                    await self.kept_alive(port)
                    await self.malformed(port)
                finally:
                    server.close()
        except _Differs as exc:
            return [f"self-check: {exc}"]
        except TimeoutError:
            return [f"self-check: waited {SELF_CHECK_TIMEOUT:.0f} s for {self.step}"]
        except Exception as exc:  # a step that fails in any way is a difference
            return [f"self-check: {exc!r} waiting for {self.step}"]
        return []

    async def kept_alive(self, port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            me = writer.get_extra_info("sockname")
            await self.until("the guard to count a new connection", lambda: self.handler(me) is not None)
            handler = self.handler(me)
            assert handler is not None
            if handler._head_timer is None:
                raise _Differs("no header timer armed when a connection opened")
            await self.until("aiohttp's _waiter to be set while a new connection waits", lambda: handler.waiting)
            writer.write(b"GET " + self.PATH + b" HTTP/1.1\r\nHost: self-check\r\n")  # half a head
            await writer.drain()
            writer.write(b"\r\n")
            self.step = "the answer to a request"
            head = await reader.readuntil(b"\r\n\r\n")
            status_line = head.split(b"\r\n", 1)[0]
            if not status_line.startswith(b"HTTP/1.1 ") or self._FAILED.match(status_line):
                raise _Differs(f"a well-formed request was answered {status_line!r}")
            length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            await reader.readexactly(length)
            # The head was parsed before the answer was made: by now the count has moved.
            if handler._heads != 1:
                raise _Differs(f"aiohttp's _request_count is {handler._heads} after one request head, not 1")
            if handler._head_timer is not None:
                raise _Differs("the header timer was still armed after a complete request head")
            await self.until("aiohttp's _waiter to be set while a kept-alive connection waits",
                             lambda: handler.waiting)
            writer.write(b"GET " + self.PATH + b" HTTP/1.1\r\n")  # the start of the next request
            await writer.drain()
            await self.until("a header timer armed by the first bytes of a second request",
                             lambda: handler._head_timer is not None)
        finally:
            writer.close()
        await self.until("the guard to see a closed connection go", lambda: len(self.guard) == 0)

    async def malformed(self, port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            self.step = "the answer to a malformed request"
            # A bad method, not a bad target: aiohttp logs that one at debug level only.
            writer.write(b"G\x01T / HTTP/1.1\r\nHost: self-check\r\n\r\n")
            answer = await reader.read()  # to the end: the connection is closed after the 400
        finally:
            writer.close()
        if b" 400 " not in answer.split(b"\r\n", 1)[0] or b"could not be parsed as HTTP/1.1" not in answer:
            raise _Differs(f"a malformed request was not answered by the guard's handle_error: {answer[:120]!r}")


async def check(manager: web.Server, loop: asyncio.AbstractEventLoop, handler_kwargs: dict[str, Any]) -> list[str]:
    """What differs, in this aiohttp, from what the guard leans on: nothing, or one line each."""
    return differences(manager, loop, handler_kwargs) or await _SelfCheck(manager, loop, handler_kwargs).run()


class Protection:
    """The guard as /healthz and /metrics tell it: on once a guarded site passed its check; off,
    with what differed, when this aiohttp is not what the guard expects. An application that no
    guarded site serves (the tests' in-process ones) claims no protection and reports no problem."""

    def __init__(self) -> None:
        self.checked = False
        self.differs: tuple[str, ...] = ()

    def report(self, differs: list[str]) -> None:
        self.checked = True
        self.differs = tuple(differs)

    @property
    def on(self) -> bool:
        return self.checked and not self.differs

    @property
    def problem(self) -> Problem | None:
        if not self.differs:
            return None
        return Problem(Concern.HTTP, "slow-client protection off (no header timeout, no connection cap; "
                       f"aiohttp's keep-alive timeout only): aiohttp {aiohttp.__version__} is not what the "
                       f"connection guard expects: {'; '.join(self.differs)}")


PROTECTION = web.AppKey("protection", Protection)


class GuardedSite(web.BaseSite):
    """aiohttp's TCPSite, with the guard's handlers instead of aiohttp's own; a TCPSite itself,
    unguarded, when this aiohttp fails the check."""

    __slots__ = ("_backlog_size", "_guard", "_handler_kwargs", "_host", "_plain", "_port")

    def __init__(self, runner: web.BaseRunner, host: str, port: int, *, guard: ConnectionGuard,
                 handler_kwargs: dict[str, Any], backlog: int = 128) -> None:
        super().__init__(runner, backlog=backlog)
        self._host = host
        self._port = port
        self._guard = guard
        self._handler_kwargs = handler_kwargs
        self._backlog_size = backlog
        self._plain: web.TCPSite | None = None

    @property
    def name(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}"

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None
        differs = await check(server, loop, self._handler_kwargs)
        if isinstance(self._runner, web.AppRunner) and (protection := self._runner.app.get(PROTECTION)):
            protection.report(differs)
        if differs:
            log.warning("slow-client protection off: aiohttp %s is not what the connection guard expects: %s. "
                        "Serving with aiohttp's own request handler: no header timeout, no connection cap, "
                        "idle connections closed after the keep-alive timeout (%.0f s) only",
                        aiohttp.__version__, "; ".join(differs), self._handler_kwargs.get("keepalive_timeout", 0))
            self._plain = web.TCPSite(self._runner, self._host, self._port, backlog=self._backlog_size)
            await self._plain.start()
            return
        log.debug("connection guard checked against aiohttp %s: on", aiohttp.__version__)
        await super().start()
        factory = self._guard.handler_factory(server, loop, **self._handler_kwargs)
        self._server = await loop.create_server(factory, self._host, self._port, backlog=self._backlog_size)

    async def stop(self) -> None:
        if self._plain is not None:
            await self._plain.stop()
        else:
            await super().stop()


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
