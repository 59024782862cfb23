"""Watching: watchdog events, handed to the event loop, turned into paths ready to read."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileAttribEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers.api import BaseObserver

from .observers import Tracker, describe, make_observer, threads_alive

try:  # watchdog >= 5
    from watchdog.observers.inotify_move_event_grouper import InotifyMoveEventGrouper as _Grouper
except ImportError:  # pragma: no cover - other platforms and versions
    _Grouper = None  # type: ignore[assignment, misc]

log = logging.getLogger("feedsvc.watcher")

# watchdog warns when a new subfolder it is already watching is registered again (a folder tree
# created fast meets both the scan of its parent and its own creation event); the second
# registration replaces the first with the same callback, so nothing is lost.
for _module in ("watchdog", "feedsvc.observers"):  # raised through our watch group too
    warnings.filterwarnings("ignore", message="Callback with id .* already exists for watch",
                            category=RuntimeWarning, module=_module)

# watchdog holds every IN_MOVED_FROM for 0.5 s hoping to pair it with its IN_MOVED_TO, and all later
# events queue behind it: a burst of rsync-style renames then waits ~0.5 s. We never need the pairing
# (an unpaired move is a delete plus a create, which we handle the same way), so keep the wait short.
MOVE_PAIR_DELAY = 0.005
if _Grouper is not None:
    _Grouper.delay = MOVE_PAIR_DELAY

Mode = Literal["inotify", "polling"]
Identity = tuple[int, int]  # st_dev, st_ino of the root: a folder renamed away and recreated differs

# What the kernel is asked for. Not IN_OPEN / IN_CLOSE_NOWRITE: every read, our own included,
# would raise them, and a cold start reads every file.
EVENTS = [FileCreatedEvent, FileModifiedEvent, FileAttribEvent, FileClosedEvent, FileDeletedEvent,
          FileMovedEvent, DirCreatedEvent, DirDeletedEvent, DirMovedEvent]
# How long a new file may sit without a write before it counts as complete (moved or linked in).
SETTLE = 0.03


class _Handler(FileSystemEventHandler):
    """Runs on the observer thread: only queues events and wakes the loop once per batch."""

    def __init__(self, watcher: Watcher) -> None:
        self._watcher = watcher
        self._lock = threading.Lock()
        self._batch: list[FileSystemEvent] = []

    def on_any_event(self, event: FileSystemEvent) -> None:
        with self._lock:
            self._batch.append(event)
            first = len(self._batch) == 1
        if first:
            try:
                self._watcher.loop.call_soon_threadsafe(self._drain)
            except RuntimeError:  # loop closed during shutdown
                pass

    def _drain(self) -> None:
        with self._lock:
            batch, self._batch = self._batch, []
        for event in batch:
            self._watcher.handle(event)


class Watcher:
    """Decides when a file is complete and asks for it to be read, debounced per path.

    Completion comes from the filesystem: inotify's close-after-write and moved-into events. Once a
    file has been written to (IN_MODIFY) it is read only when its writer closes it (IN_CLOSE_WRITE),
    however long the writer pauses; a new file that sees no write within SETTLE was moved or linked
    in whole. (A writer that creates a file and waits longer than that before its first write gets
    it read empty, which is rejected, never published, and read again on close.) In polling mode
    there is no close event, so a file is read once its size and mtime are the same across two
    polls.

    It also says when it cannot be trusted (`problem`): a watchdog thread died, or folders are not
    watched; and `on_lost` hears, on the loop, that the kernel dropped events (a queue overflow),
    so that the caller rescans at once rather than at the next scheduled rescan.
    """

    def __init__(self, root: Path, *, mode: Mode, debounce: float, poll_interval: float,
                 on_ready: Callable[[set[str], set[str]], None], on_event: Callable[[str], None] | None = None,
                 on_lost: Callable[[str], None] | None = None,
                 loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.root = root
        self.mode = mode
        self.debounce = debounce
        self.poll_interval = poll_interval
        self.loop = loop or asyncio.get_running_loop()
        self._on_ready = on_ready
        self._on_event = on_event or (lambda kind: None)
        self._on_lost = on_lost or (lambda why: None)
        self._observer: BaseObserver | None = None
        self._tracker = Tracker(self._overflowed_threadsafe)
        # The root's identity when the running observer was started; None while none runs.
        self.identity: Identity | None = None
        # A folder was removed while some were unwatched: watches were freed, worth a retry.
        self.freed_watches = False
        self._writing: set[str] = set()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._due: set[str] = set()
        self._due_folders: set[str] = set()
        self._flush: asyncio.Handle | None = None
        self._root_abs = os.path.abspath(root)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start a fresh observer (raises OSError when the folder cannot be watched).

        Blocking (it walks the tree to add a watch per folder), and safe off the loop's thread.
        """
        self._stop_observer()
        # The identity is taken before the watches: if the folder is replaced in between, the
        # next check sees a mismatch and starts again, instead of trusting a watch on the old one.
        st = os.stat(self.root)
        tracker = Tracker(self._overflowed_threadsafe)
        observer = make_observer(self.mode, tracker, self.poll_interval)
        try:
            observer.schedule(_Handler(self), str(self.root), recursive=True,
                              event_filter=EVENTS if self.mode == "inotify" else None)
            observer.daemon = True
            observer.start()
        except BaseException:
            observer.stop()  # its inotify reader thread is already running
            raise
        self._tracker, self._observer = tracker, observer
        self.identity = (st.st_dev, st.st_ino)
        self.freed_watches = False
        unwatched, _, _ = tracker.coverage()
        log.info("watching %s (%s)%s", self.root, self.mode,
                 f"; {unwatched} folders could not be watched" if unwatched else "")

    def stop(self) -> None:
        """Stop the observer; on the loop's thread also drop what was pending."""
        self._stop_observer()
        try:
            on_loop = asyncio.get_running_loop() is self.loop
        except RuntimeError:
            on_loop = False
        if on_loop:
            self.forget()

    def _stop_observer(self) -> None:
        observer, self._observer = self._observer, None
        self.identity = None
        if observer is not None:
            observer.stop()
            observer.join(timeout=5)

    def forget(self) -> None:
        """Drop per-file state (on the loop): after a gap in watching, a close event may never
        come, and a file waiting for one would stay busy, never read by any scan."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._writing.clear()

    def busy(self) -> frozenset[str]:
        """Files being written or waiting out their debounce: not to be read by a scan now."""
        return frozenset(self._writing) | frozenset(self._timers)

    @property
    def running(self) -> bool:
        return self._observer is not None

    @property
    def alive(self) -> bool:
        observer = self._observer
        return observer is not None and threads_alive(observer)

    @property
    def death(self) -> str | None:
        """Why live watching stopped, if a watchdog thread said so before it ended."""
        return self._tracker.death

    @property
    def complete(self) -> bool:
        return self._tracker.coverage()[0] == 0

    def coverage_problem(self) -> str | None:
        """Which folders are not watched live, and why, in one line; None when all are."""
        count, example, exc = self._tracker.coverage()
        if not count:
            return None
        assert exc is not None and example is not None
        rel = self._rel(example) or example
        shown = rel if len(rel) <= 80 else f"{rel[:36]}...{rel[-40:]}"
        what = "folder is" if count == 1 else "folders are"
        return f"{count} {what} not watched live: {describe(exc)} (e.g. {shown!r})"

    # -- lost events (an inotify queue overflow) ------------------------------------------

    def _overflowed_threadsafe(self) -> None:
        try:
            self.loop.call_soon_threadsafe(self._overflowed)
        except RuntimeError:  # loop closed during shutdown
            pass

    def _overflowed(self) -> None:
        log.warning("the kernel's inotify event queue overflowed: changes were lost; rescanning %s", self.root)
        self._on_event("overflow")
        # A close event may be among those lost: nothing may wait for one now.
        self._writing.clear()
        self._on_lost("the kernel's inotify event queue overflowed and changes were lost")

    # -- events (on the loop) --------------------------------------------------------------

    def _rel(self, path: str | bytes) -> str | None:
        text = os.fsdecode(path)
        rel = os.path.relpath(text, self._root_abs) if os.path.isabs(text) else text
        if rel == "." or rel.startswith(".." + os.sep) or rel == "..":
            return None
        return Path(rel).as_posix()

    def handle(self, event: FileSystemEvent) -> None:
        self._on_event(event.event_type)
        src = self._rel(event.src_path)
        dest = self._rel(event.dest_path) if event.dest_path else None
        kind = event.event_type
        if event.is_directory:
            if kind in ("moved", "deleted") and not self.complete:
                self.freed_watches = True  # its watches went with it: room, perhaps, for those missing
            if kind in ("created", "moved", "deleted"):
                for rel in (src, dest):
                    if rel is not None:
                        self._ready_dir(rel)
            return
        if src is None:
            return
        if kind == "closed":
            self._writing.discard(src)
            self._ready(src)
        elif kind == "created":
            self._later(src, self.poll_interval if self.mode == "polling" else SETTLE, self._created)
        elif kind == "modified":
            if self.mode == "polling":
                self._stable_after_poll(src)
            elif src not in self._writing:
                # Being written: wait for the close, however long it takes.
                self._writing.add(src)
                timer = self._timers.pop(src, None)
                if timer is not None:
                    timer.cancel()
        elif kind == "attrib":
            if src not in self._writing:
                self._ready(src)  # a touch changes nothing; a chmod can make a rejected file readable
        elif kind == "deleted":
            self._writing.discard(src)
            self._ready(src)
        elif kind == "moved":
            self._writing.discard(src)
            self._ready(src)
            if dest is not None:
                self._writing.discard(dest)
                self._ready(dest)

    def _created(self, rel: str) -> None:
        if self.mode == "polling":
            self._stable_after_poll(rel)
        elif rel not in self._writing:
            self._ready(rel)

    def _stable_after_poll(self, rel: str) -> None:
        first = _stat_key(self.root / rel)

        def check(_: str) -> None:
            now = _stat_key(self.root / rel)
            if now == first:
                self._ready(rel)
            else:
                self._stable_after_poll(rel)

        self._later(rel, self.poll_interval, check)

    def _ready_dir(self, rel: str) -> None:
        """A folder appeared, vanished or moved: its contents are read (or dropped) by the caller."""
        self._due_folders.add(rel)
        self._schedule_flush()

    def _ready(self, rel: str) -> None:
        self._later(rel, self.debounce, self._mark_due)

    def _later(self, rel: str, delay: float, action: Callable[[str], None]) -> None:
        timer = self._timers.pop(rel, None)
        if timer is not None:
            timer.cancel()

        def fire() -> None:
            self._timers.pop(rel, None)
            action(rel)

        self._timers[rel] = self.loop.call_later(delay, fire)

    def _mark_due(self, rel: str) -> None:
        self._due.add(rel)
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        # One hand-off per loop turn, however many timers fired in it.
        if self._flush is None:
            self._flush = self.loop.call_soon(self._flush_due)

    def _flush_due(self) -> None:
        self._flush = None
        due, self._due = self._due, set()
        folders, self._due_folders = self._due_folders, set()
        if due or folders:
            self._on_ready(due, folders)


def _stat_key(path: Path) -> tuple[int, int] | None:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns
