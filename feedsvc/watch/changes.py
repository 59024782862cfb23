"""What watching hands the pipeline: the paths to bring in line with the disk, as typed batches."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(slots=True)
class Batch:
    """What to bring in line with the disk next: single files, whole folders, or everything."""

    files: set[str] = field(default_factory=set)
    folders: set[str] = field(default_factory=set)
    rescan: bool = False

    def __bool__(self) -> bool:
        return bool(self.files or self.folders or self.rescan)


class Changes:
    """The one queue between watching and the pipeline: the watcher's paths and the supervisor's
    rescans go in, merged, and the pipeline takes them out a batch at a time. The first batch is a
    full scan."""

    def __init__(self) -> None:
        self._next = Batch(rescan=True)
        self._wake = asyncio.Event()
        self._wake.set()

    def put(self, files: Iterable[str] = (), folders: Iterable[str] = (), rescan: bool = False) -> None:
        """Files, folders (relative paths) or the whole folder to bring in line with the disk."""
        self._next.files.update(files)
        self._next.folders.update(folders)
        self._next.rescan |= rescan
        self._wake.set()

    @property
    def waiting(self) -> bool:
        """Whether a batch waits: a round of renders gives way to it."""
        return bool(self._next)

    async def take(self) -> Batch:
        """The next batch, once there is one."""
        while not self._next:
            self._wake.clear()
            await self._wake.wait()
        batch, self._next = self._next, Batch()
        return batch
