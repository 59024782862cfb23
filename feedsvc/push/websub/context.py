"""What the hub's parts share: settings, bounds, clock, guard, metrics and state, and once the hub
has started, its worker thread and its HTTP session."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import aiohttp

from feedsvc.push.websub.guard import Guard
from feedsvc.push.websub.limits import Limits
from feedsvc.push.websub.stats import HubMetrics
from feedsvc.push.websub.store import Store
from feedsvc.settings import Settings
from feedsvc.store.worker import Worker

T = TypeVar("T")


def _nothing() -> None:
    pass


@dataclass(eq=False)
class Context:
    settings: Settings
    limits: Limits
    clock: Callable[[], float]
    guard: Guard
    stats: HubMetrics
    store: Store
    worker: Worker | None = None
    session: aiohttp.ClientSession | None = None
    running: bool = False
    dirty: Callable[[], None] = _nothing  # counts changed: refresh the gauges soon

    def run(self, fn: Callable[..., T], *args: object) -> asyncio.Future[T]:
        """Run a store method on the worker thread."""
        assert self.worker is not None, "hub not started"
        return self.worker.run(fn, *args)

    @property
    def http(self) -> aiohttp.ClientSession:
        assert self.session is not None, "hub not started"
        return self.session
