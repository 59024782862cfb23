"""The WebSub test harness: a loopback subscriber in the manner of websub.rocks, a resolver the
tests control, a hub in a small aiohttp app, and a tripwire that fails any test whose code tries to
connect to (or look up) anything but loopback.

The test_websub_*.py modules import from here (the fixtures too: importing `loopback_only_fixture`
makes the tripwire autouse in that module); unit/push/test_websub_harness.py checks the harness itself.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from feedsvc.feeds import VIEWS
from feedsvc.ops.metrics import Metrics
from feedsvc.push.websub import FeedChange, Hub, Limits
from helpers import BASE, poll_until_async, settings_for

ATOM = f"{BASE}/feed.atom"
RSS = f"{BASE}/feed.rss"
JSON_FEED = f"{BASE}/feed.json"
TEXT = f"{BASE}/notes.txt"  # websub.rocks 105: a text/plain topic (a stand-in: feedsvc has none)
TOPICS: dict[str, str] = {BASE + view.path: view.media_type for view in VIEWS}
TOPICS[TEXT] = "text/plain; charset=utf-8"
HUB = f"{BASE}/websub"

# Fast numbers: retries after tens of milliseconds, a give-up after a second or two.
FAST = Limits(backoff_base=0.02, backoff_cap=0.1, retry_for=1.5, verify_timeout=1.0, delivery_timeout=0.3,
              sweep_every=3600.0, rate_burst=1000.0, rate_per_second=1000.0)


# -- no packet leaves loopback ---------------------------------------------------------------

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def _loopback(host: object) -> bool:
    if host is None or host == "":
        return True  # passive (bind) lookups
    text = host.decode() if isinstance(host, bytes) else str(host)
    if text.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(text.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(name="loopback_only", autouse=True)
def loopback_only_fixture(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Refuse (and record) any connect() or name lookup outside loopback made by code under test;
    a test that tripped it fails even if the code swallowed the error."""
    tripped: list[str] = []
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def check(address: Any) -> None:
        if isinstance(address, tuple) and not _loopback(address[0]):
            tripped.append(f"connect {address!r}")
            raise OSError(f"test tripwire: connect to {address!r} is not loopback")

    def connect(self: socket.socket, address: Any) -> None:
        check(address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        check(address)
        return real_connect_ex(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _loopback(host):
            tripped.append(f"getaddrinfo {host!r}")
            raise socket.gaierror(socket.EAI_NONAME, f"test tripwire: no lookups of {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield tripped
    assert not tripped, f"tried to leave loopback: {tripped}"


class FakeResolver(AbstractResolver):
    """Names to addresses from a table the test writes; nothing is looked up for real."""

    def __init__(self, table: dict[str, list[str]] | None = None) -> None:
        self.table = dict(table or {})
        self.asked: list[str] = []

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        self.asked.append(host)
        found = self.table.get(host)
        if found is None:
            raise OSError(f"fake resolver: no such name {host!r}")
        return [{"hostname": host, "host": a, "port": port, "family": socket.AF_INET6 if ":" in a else socket.AF_INET,
                 "proto": 0, "flags": 0} for a in found]

    async def close(self) -> None:
        pass


# -- a subscriber, as websub.rocks' hub tests run one ------------------------------------------

@dataclass
class Behaviour:
    """How one callback answers: verification (echo, 404, wrong, redirect, hang) and deliveries
    (statuses to answer in turn, then 200; `hang` seconds before answering)."""

    verify: str = "echo"
    statuses: deque[int] = field(default_factory=deque)
    hang: float = 0.0
    release: asyncio.Event | None = None  # verification waits for it when set
    close: bool = False  # answer with Connection: close (the hub cannot reuse the connection)


@dataclass(frozen=True)
class Verification:
    name: str
    query: dict[str, str]
    raw_query: str


@dataclass(frozen=True)
class Delivery:
    name: str
    headers: dict[str, str]
    body: bytes
    status: int
    at: float


class Subscriber:
    """A loopback server with any number of callbacks /cb/<name>, recording what the hub sends."""

    def __init__(self) -> None:
        self.behaviour: dict[str, Behaviour] = {}
        self.verifications: list[Verification] = []
        self.deliveries: list[Delivery] = []
        self.requests = 0
        self.base = ""
        self.app = web.Application()
        self.app.router.add_route("*", "/cb/{name}", self._callback)
        self.app.router.add_get("/elsewhere", self._elsewhere)
        self.elsewhere = 0

    async def start(self, aiohttp_server: Any) -> Subscriber:
        server = await aiohttp_server(self.app)
        self.base = str(server.make_url("")).rstrip("/")
        self.port = server.port
        return self

    def url(self, name: str, *, host: str = "127.0.0.1", query: str = "") -> str:
        return f"http://{host}:{self.port}/cb/{name}" + (f"?{query}" if query else "")

    def on(self, name: str, **kwargs: Any) -> Behaviour:
        behaviour = self.behaviour[name] = Behaviour(**kwargs)
        return behaviour

    def delivered(self, name: str | None = None, *, ok: bool = True) -> list[Delivery]:
        return [d for d in self.deliveries if (name is None or d.name == name) and (not ok or d.status < 300)]

    def verified(self, name: str) -> list[Verification]:
        return [v for v in self.verifications if v.name == name]

    async def wait(self, check: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
        await poll_until_async(check, what, timeout, interval=0.005, detail=lambda: (
            f"verifications {self.verifications}, deliveries {[(d.name, d.status) for d in self.deliveries]}"))

    async def _elsewhere(self, request: web.Request) -> web.Response:
        self.elsewhere += 1
        return web.Response(text=request.query.get("hub.challenge", ""))

    async def _callback(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        name = request.match_info["name"]
        behaviour = self.behaviour.setdefault(name, Behaviour())
        if request.method == "GET":
            self.verifications.append(Verification(name, dict(request.query), request.rel_url.raw_query_string))
            if behaviour.release is not None:
                await behaviour.release.wait()
            challenge = request.query.get("hub.challenge", "")
            if behaviour.verify == "404":
                return web.Response(status=404, text=challenge)
            if behaviour.verify == "wrong":
                return web.Response(text=challenge + "x")
            if behaviour.verify == "redirect":
                return web.Response(status=302, headers={"Location": f"{self.base}/elsewhere?{request.rel_url.raw_query_string}"})
            if behaviour.verify == "hang":
                await asyncio.sleep(30)
            return web.Response(text=challenge, headers={"Connection": "close"} if behaviour.close else None)
        body = await request.read()
        if behaviour.hang:
            await asyncio.sleep(behaviour.hang)
        status = behaviour.statuses.popleft() if behaviour.statuses else 200
        self.deliveries.append(Delivery(name, dict(request.headers), body, status, time.monotonic()))
        if 300 <= status < 400:
            return web.Response(status=status, headers={"Location": f"{self.base}/elsewhere"})
        return web.Response(status=status)


@pytest.fixture(name="subscriber")
async def subscriber_fixture(aiohttp_server: Any) -> Subscriber:
    return await Subscriber().start(aiohttp_server)


# -- the hub, in a small app -------------------------------------------------------------------

class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Running:
    hub: Hub
    client: Any
    metrics: Metrics

    async def post(self, **form: str) -> tuple[int, str, str]:
        response = await self.client.post("/websub", data=form)
        return response.status, response.headers.get("Content-Type", ""), await response.text()

    async def subscribe(self, callback: str, topic: str = ATOM, **extra: str) -> int:
        status, _, _ = await self.post(**{"hub.mode": "subscribe", "hub.topic": topic, "hub.callback": callback,
                                          **extra})
        return status

    async def unsubscribe(self, callback: str, topic: str = ATOM) -> int:
        status, _, _ = await self.post(**{"hub.mode": "unsubscribe", "hub.topic": topic, "hub.callback": callback})
        return status

    def publish(self, topic: str, full: bytes, fresh: bytes | None = None) -> None:
        self.hub.publish([FeedChange(topic, TOPICS[topic], full, fresh)])

    def sample(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, labels) or 0.0

    async def live(self) -> int:
        return len(await self.hub.subscriptions())


def hub_settings(tmp_path: Path, **overrides: Any) -> Any:
    seeds = tmp_path / "seeds"
    seeds.mkdir(exist_ok=True)
    return settings_for(seeds, tmp_path / "state", **overrides)


async def start_hub(aiohttp_client: Any, tmp_path: Path, *, allow: str | None = "127.0.0.0/8",
                    clock: Callable[[], float] = time.time, resolver: AbstractResolver | None = None,
                    limits: Limits = FAST, metrics: Metrics | None = None, **overrides: Any) -> Running:
    """A hub on its own loopback app (POST /websub), over tmp_path/state."""
    if allow is not None:
        overrides["websub_allow_callbacks"] = allow
    settings = hub_settings(tmp_path, **overrides)
    metrics = metrics or Metrics()
    hub = Hub(settings, metrics, topics=TOPICS.__contains__, clock=clock, resolver=resolver, limits=limits)
    app = web.Application(client_max_size=1024)  # as feedsvc's own app
    app.router.add_post("/websub", hub.handle)

    async def lifecycle(app: web.Application) -> Any:
        await hub.start()
        yield
        await hub.stop()

    app.cleanup_ctx.append(lifecycle)
    return Running(hub, await aiohttp_client(app), metrics)
