"""Memory trimming after a burst of variant renders: glibc keeps freed memory for reuse, so without
it a process stays at the peak a flood of distinct pages took."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from feedsvc.ops import memory
from feedsvc.publish.renderer import Renderer

TRIM_AFTER = 2.0  # seconds without a variant render before freed memory goes back to the system


class Trimmer:
    """Hands freed memory back once no variant has been rendered for TRIM_AFTER seconds."""

    def __init__(self, renderer: Renderer, busy: Callable[[], bool]) -> None:
        self._renderer = renderer
        self._busy = busy  # whether a variant is being rendered: then the memory is still in use
        self._timer: asyncio.TimerHandle | None = None

    def later(self) -> None:
        """A burst may have ended: trim after TRIM_AFTER seconds unless another render starts and ends."""
        if self._timer is not None:
            self._timer.cancel()
        loop = asyncio.get_running_loop()

        def trim() -> None:
            self._timer = None
            if not self._busy():
                self._renderer.trim()
                loop.run_in_executor(None, memory.trim)  # and ours: the variants' bytes went through it
        self._timer = loop.call_later(TRIM_AFTER, trim)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
