"""One background task per key at a time: asked again while it runs, the key runs once more after."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class KeyedTasks(Generic[K]):
    """Coalesces requests per key (a hub and topic to ping, a URL to refresh): never two at once for
    one key, and the newest request is never lost to the one under way."""

    def __init__(self, run: Callable[[K], Awaitable[None]], name: str) -> None:
        self._run = run
        self._name = name
        self._tasks: dict[K, asyncio.Task[None]] = {}
        self._again: set[K] = set()

    def __call__(self, key: K) -> None:
        """Run `key` now, or once more when its run under way ends (call on the loop)."""
        if key in self._tasks:
            self._again.add(key)
        else:
            self._tasks[key] = asyncio.get_running_loop().create_task(self._loop(key), name=f"{self._name}-{key}")

    async def _loop(self, key: K) -> None:
        try:
            while True:
                self._again.discard(key)
                await self._run(key)
                if key not in self._again:
                    return
        finally:
            self._tasks.pop(key, None)

    async def idle(self) -> None:
        """Wait until no run is under way."""
        while self._tasks:
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def stop(self) -> None:
        """Cancel every run under way."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
