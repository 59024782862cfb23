"""What the hub's parts share: settings, bounds, clock, guard, metrics and state, and once the hub
has started, its worker thread and its HTTP session."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import aiohttp

from ..settings import Settings
from ..worker import Worker
from .guard import Guard
from .limits import Limits
from .stats import HubMetrics
from .store import Store

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
