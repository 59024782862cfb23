"""watchdog's observers, made to say when live watching is lost instead of going quiet.

Left to itself, watchdog (7.x) loses events without a word in three ways, each met in production:

- its threads die on an exception and nobody notices: `os.walk`, recursive in Python 3.11, raises
  RecursionError on a folder chain ~1,000 deep, which kills the inotify reader thread (no event is
  delivered any more) or, at start, the emitter;
- a subfolder it cannot watch (the inotify watch limit, a path too long) is skipped silently;
- when the kernel's event queue overflows it rebuilds its watches and logs a warning, but hands no
  event to the handler, so the caller never learns that it missed changes.

The subclasses here walk folders iteratively (any depth, no symlink loops), record every folder left
unwatched and why, record a dying thread's exception, and call back on an overflow. They lean on
watchdog's internals where it has no hook (InotifyWatchGroup's bookkeeping); the import falls back
to watchdog's plain observer, untracked, where those are missing (other platforms, other versions).
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from watchdog.events import FileSystemEvent
from watchdog.observers import Observer
from watchdog.observers.api import DEFAULT_EMITTER_TIMEOUT, DEFAULT_OBSERVER_TIMEOUT, BaseObserver
from watchdog.observers.polling import PollingEmitter
from watchdog.utils.dirsnapshot import DirectorySnapshot

from . import limits

log = logging.getLogger("feedsvc.watcher")

# Errors that mean "the folder went away meanwhile", not "it cannot be watched".
_GONE = (errno.ENOENT, errno.ENOTDIR)


class Tracker:
    """What watchdog's threads report: folders left unwatched, a thread's death, an overflow.

    Written from watchdog's threads, read from the event loop; every field is behind the lock.
    """

    def __init__(self, on_overflow: Callable[[], None]) -> None:
        self._lock = threading.Lock()
        self._on_overflow = on_overflow
        self._unwatched: dict[str, OSError] = {}  # path -> why; bounded below
        self._unwatched_total = 0
        self._death: str | None = None

    # -- from watchdog's threads -----------------------------------------------------------

    def unwatched(self, path: bytes | str, exc: OSError) -> None:
        with self._lock:
            self._unwatched_total += 1
            if len(self._unwatched) < 100:  # examples for the message; the total counts the rest
                self._unwatched[os.fsdecode(path)] = exc

    def reset_unwatched(self) -> None:
        """Before the watches are built afresh (an overflow rebuilds them all)."""
        with self._lock:
            self._unwatched.clear()
            self._unwatched_total = 0

    def died(self, thread: str, exc: BaseException) -> None:
        with self._lock:
            self._death = f"its {thread} thread failed: {type(exc).__name__}: {exc}"
        log.error("watcher %s thread failed; live watching stopped", thread, exc_info=exc)

    def overflowed(self) -> None:
        self._on_overflow()

    # -- from the loop ---------------------------------------------------------------------

    @property
    def death(self) -> str | None:
        with self._lock:
            return self._death

    def coverage(self) -> tuple[int, str | None, OSError | None]:
        """How many folders are not watched, one of them, and why it is not."""
        with self._lock:
            if not self._unwatched_total:
                return 0, None, None
            path, exc = next(iter(self._unwatched.items()))
            # Name the watch limit if any folder hit it: it is the one an operator can raise.
            for p, e in self._unwatched.items():
                if e.errno == errno.ENOSPC:
                    path, exc = p, e
                    break
            return self._unwatched_total, path, exc


def _guarded(thread: str, tracker: Tracker, run: Callable[[], None]) -> None:
    try:
        run()
    except Exception as exc:  # the thread ends either way; what matters is that it is known
        tracker.died(thread, exc)


# -- polling ---------------------------------------------------------------------------------

class _Snapshot(DirectorySnapshot):
    """watchdog's snapshot walked without recursion, each folder once (a symlink loop ends)."""

    def walk(self, root: str) -> Iterator[tuple[str, os.stat_result]]:
        top = self.stat(root)
        seen = {(top.st_dev, top.st_ino)}
        stack = [root]
        while stack:
            folder = stack.pop()
            try:
                paths = [os.path.join(folder, entry.name) for entry in self.listdir(folder)]
            except OSError as exc:
                # As watchdog's walk: a folder gone meanwhile is empty, an unreadable subfolder skipped.
                if exc.errno in (*_GONE, errno.EINVAL) or (isinstance(exc, PermissionError) and folder != root):
                    continue
                raise
            for path in paths:
                try:
                    st = self.stat(path)
                except OSError:
                    continue
                yield path, st
                if self.recursive and stat.S_ISDIR(st.st_mode) and (st.st_dev, st.st_ino) not in seen:
                    seen.add((st.st_dev, st.st_ino))
                    stack.append(path)


class _PollingEmitter(PollingEmitter):
    def __init__(self, event_queue: Any, watch: Any, *, timeout: float = DEFAULT_EMITTER_TIMEOUT,
                 event_filter: list[type[FileSystemEvent]] | None = None, tracker: Tracker) -> None:
        super().__init__(event_queue, watch, timeout=timeout, event_filter=event_filter)
        self._tracker = tracker
        self._take_snapshot = lambda: _Snapshot(self.watch.path, recursive=self.watch.is_recursive)

    def run(self) -> None:
        _guarded("polling", self._tracker, super().run)


class _PollingObserver(BaseObserver):
    def __init__(self, tracker: Tracker, *, timeout: float) -> None:
        super().__init__(_PollingEmitter, timeout=timeout, tracker=tracker)
        self._tracker = tracker

    def run(self) -> None:
        _guarded("event dispatch", self._tracker, super().run)


# -- inotify ---------------------------------------------------------------------------------

_make_inotify: Callable[[Tracker], BaseObserver] | None = None

try:
    from watchdog.observers.inotify import InotifyEmitter, InotifyWatchGroup
    from watchdog.observers.inotify_c import InotifyConstants, InotifyEvent, InotifyFD, Mask, WatchDescriptor
except Exception:  # not Linux (UnsupportedLibcError is no ImportError), or a watchdog before 6
    pass
else:
    @dataclass
    class _WatchGroup(InotifyWatchGroup):
        """One recursive watch: walked iteratively, every folder it could not watch recorded."""

        tracker: Tracker | None = None
        # Folders the last _add_all_callbacks began to watch: only their contents can have been
        # missed, so only they need creation events simulated (watchdog lists the whole subtree
        # below every new folder, which is quadratic in a chain created one folder at a time).
        _fresh: list[bytes] = field(default_factory=list, init=False, repr=False)

        def __repr__(self) -> str:  # the dataclass's would list every watched path
            return f"<_WatchGroup {self.path!r}: {len(self._active_callbacks_by_watch)} folders>"

        def _add_all_callbacks(self, path: bytes) -> None:
            self._fresh = fresh = []
            if path not in self._active_callbacks_by_path and self._add_callback(path):  # the top one raises
                fresh.append(path)
            if not self.is_recursive or not os.path.isdir(path):
                return
            stack = [path]
            while stack:
                folder = stack.pop()
                try:
                    with os.scandir(folder) as entries:
                        subfolders = [e.path for e in entries
                                      if e.is_dir(follow_symlinks=self.follow_symlink)
                                      and (self.follow_symlink or not e.is_symlink())]
                except OSError:
                    continue  # gone, or unreadable: the scan reports what it cannot list
                for sub in subfolders:
                    # Already watched (met by an earlier walk): so is everything below it that
                    # existed then, and what came later raised events of its own. Not descended
                    # into: a chain 1,200 deep, created folder by folder, is ~1,200 events, and
                    # walking each one's whole subtree again kept every later event (a file at the
                    # top of the tree) waiting 8-18 s behind ~700,000 listings.
                    if sub in self._active_callbacks_by_path:
                        continue
                    if self._add_callback(sub):
                        fresh.append(sub)
                        stack.append(sub)

        def _add_callback(self, path: bytes) -> bool:  # type: ignore[override]
            try:
                wd = self._inotify_fd.add_callback(path, self.event_mask, self._callback, self._id)
            except OSError as exc:
                if path == self.path:
                    raise
                if exc.errno not in _GONE and self.tracker is not None:
                    self.tracker.unwatched(path, exc)
                return False
            if wd < 0:  # watchdog returns -1 instead of raising for EACCES
                if self.tracker is not None:
                    self.tracker.unwatched(path, PermissionError(errno.EACCES, os.strerror(errno.EACCES)))
                return False
            self._active_callbacks_by_path[path] = wd
            self._active_callbacks_by_watch[wd] = path
            return True

        def _recursive_simulate(self, src_path: bytes) -> list[InotifyEvent]:
            # Creation events for what the folders just watched already held (see _fresh), as
            # watchdog's own walk gives them: symlinks to folders count as folders.
            events = []
            for folder in self._fresh:
                wd = self._active_callbacks_by_path.get(folder)
                if wd is None:
                    continue
                try:
                    with os.scandir(folder) as it:
                        entries = [(e.name, e.is_dir()) for e in it]
                except OSError:
                    continue
                for name, is_dir in entries:
                    mask = InotifyConstants.IN_CREATE | (InotifyConstants.IN_ISDIR if is_dir else 0)
                    events.append(InotifyEvent(WatchDescriptor(wd), Mask(mask), 0, name))
            return events

        def on_queue_overflow(self) -> None:
            if self.tracker is not None:
                self.tracker.reset_unwatched()  # the rebuild below counts them afresh
            super().on_queue_overflow()
            if self.tracker is not None:
                self.tracker.overflowed()

    class _InotifyEmitter(InotifyEmitter):
        def __init__(self, event_queue: Any, watch: Any, *, timeout: float = DEFAULT_EMITTER_TIMEOUT,
                     event_filter: list[type[FileSystemEvent]] | None = None, inotify_fd: InotifyFD | None = None,
                     tracker: Tracker) -> None:
            super().__init__(event_queue, watch, timeout=timeout, event_filter=event_filter, inotify_fd=inotify_fd)
            self._tracker = tracker

        def on_thread_start(self) -> None:
            # As InotifyEmitter's, with our watch group.
            self._inotify = _WatchGroup(self._inotify_fd, os.fsencode(self.watch.path),
                                        is_recursive=self.watch.is_recursive,
                                        event_mask=self.get_event_mask_from_filter(),
                                        follow_symlink=self.watch.follow_symlink, tracker=self._tracker)

        def build_and_queue_event(self, event: Any, *, full_events: bool = False) -> None:
            try:
                super().build_and_queue_event(event, full_events=full_events)
            except RecursionError:
                # The event itself is queued first; what fails is watchdog's recursive listing of a
                # deep folder moved in. We reconcile a moved or created folder whole anyway.
                log.debug("not listing a deep folder tree for its sub-events: %r", event)

        def run(self) -> None:
            _guarded("inotify emitter", self._tracker, super().run)

    class _InotifyReader(InotifyFD):
        def __init__(self, tracker: Tracker) -> None:
            super().__init__()
            self._tracker = tracker

        def run(self) -> None:
            _guarded("inotify reader", self._tracker, super().run)

    class _InotifyObserver(BaseObserver):
        """watchdog's InotifyObserver with our emitter, and its reader thread in sight."""

        def __init__(self, tracker: Tracker) -> None:
            self.reader = _InotifyReader(tracker)
            self.reader.start()
            super().__init__(_InotifyEmitter, timeout=DEFAULT_OBSERVER_TIMEOUT, inotify_fd=self.reader,
                             tracker=tracker)
            self._tracker = tracker

        def on_thread_stop(self) -> None:
            super().on_thread_stop()
            self.reader.stop()
            self.reader.join()

        def run(self) -> None:
            _guarded("event dispatch", self._tracker, super().run)

    _make_inotify = _InotifyObserver


def make_observer(mode: str, tracker: Tracker, poll_interval: float) -> BaseObserver:
    if mode == "polling":
        return _PollingObserver(tracker, timeout=poll_interval)
    if _make_inotify is not None:
        return _make_inotify(tracker)
    return Observer()  # pragma: no cover - other platforms: untracked


def threads_alive(observer: BaseObserver) -> bool:
    """Every thread the observer needs: its own, its emitters' and (inotify) the reader's."""
    if not observer.is_alive() or not all(emitter.is_alive() for emitter in observer.emitters):
        return False
    reader = getattr(observer, "reader", None)
    return reader is None or bool(reader.is_alive())


def describe(exc: OSError) -> str:
    """Why a folder cannot be watched, in the operator's terms."""
    if exc.errno == errno.ENOSPC:
        # The limit that binds here: a user namespace (a container) may have its own, lower one.
        limit = (limits.read_int("/proc/sys/user/max_inotify_watches")
                 or limits.read_int("/proc/sys/fs/inotify/max_user_watches"))
        return "the inotify watch limit is reached" + (
            f" ({limit} watches; raise fs.inotify.max_user_watches)" if limit is not None else "")
    if exc.errno == errno.EMFILE:
        # watchdog says "inotify instance limit reached" for any EMFILE, also the process's own limit.
        if limits.near_fd_limit():
            return f"the process is out of file descriptors ({limits.fd_usage()})"
        limit = limits.read_int("/proc/sys/fs/inotify/max_user_instances")
        return "the inotify instance limit is reached" + (
            f" (fs.inotify.max_user_instances = {limit})" if limit is not None else "")
    return exc.strerror or str(exc)


