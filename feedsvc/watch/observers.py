"""watchdog's observers, through its public API only, made to say when live watching is lost.

A patch release of watchdog (7.1.1) rewrote the private inotify bookkeeping an earlier version of
this module subclassed, and live watching stopped on every fresh install while /healthz said ok.
So nothing here reaches into watchdog: it builds `watchdog.observers.Observer` (inotify on Linux)
or `PollingObserverVFS`, hands them a `FileSystemEventHandler`, and finds out from outside what
watchdog has no API for:

- a thread that dies (an exception in a walk, a reader that fails): `threading.excepthook` sees
  every uncaught exception, and the observer's threads are known by what started with it;
- folders left unwatched (the inotify watch limit, a folder it may not read): the kernel lists
  every watch of an inotify descriptor in /proc/self/fdinfo, and a walk of the tree finds each
  folder that has none;
- a kernel queue overflow: `EventsLostEvent` / `on_events_lost()` where watchdog has them (7.1.1+);
  before that, nothing tells, and the reconciliation scans find what was missed;
- trees deeper than Python's recursion limit: watchdog walks with `os.walk` (recursive up to
  Python 3.11) and a recursive snapshot; a tree cannot be deeper than PATH_MAX allows, so the
  limit is raised to that depth once, and a thread stack made large enough for it.

And it proves, rather than assumes, that events arrive: `self_test` round-trips one event through
a fresh observer of the same kind on a private folder.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import logging
import os
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserverVFS

from feedsvc.ops import limits

log = logging.getLogger("feedsvc.watcher")

# Whether this watchdog tells its handlers about lost events (a kernel queue overflow).
EventsLost: type[FileSystemEvent] | None
try:
    from watchdog.events import EventsLostEvent as EventsLost  # watchdog >= 7.1.1
except ImportError:  # pragma: no cover - older releases: the scans find what was lost
    EventsLost = None

# The deepest folder a path can name: PATH_MAX (4096) over two bytes a level ("d/"). watchdog's
# walks take ~3 frames a level; the stack a thread needs for that, with room to spare.
_DEEPEST = 2048
_RECURSION_LIMIT = 4 * _DEEPEST + 1000
_THREAD_STACK = 32 * 1024 * 1024

# Errors that mean "the folder went away meanwhile", not "it cannot be watched".
_GONE = (errno.ENOENT, errno.ENOTDIR)


class Tracker:
    """What watchdog's threads report: a thread's death and lost events.

    Written from watchdog's threads, read from the event loop; every field is behind the lock.
    """

    def __init__(self, on_lost: Callable[[], None]) -> None:
        self._lock = threading.Lock()
        self._on_lost = on_lost
        self._death: str | None = None

    def died(self, thread: str, exc: BaseException) -> None:
        with self._lock:
            self._death = f"its {thread} thread failed: {type(exc).__name__}: {exc}"
        log.error("watcher thread %s failed; live watching stopped", thread, exc_info=exc)

    def lost(self) -> None:
        self._on_lost()

    @property
    def death(self) -> str | None:
        with self._lock:
            return self._death


# -- threads that die ------------------------------------------------------------------------

# Every observer's threads, to the tracker that hears of their death; weak, so that a stopped
# observer's threads go when they end.
_owners: weakref.WeakKeyDictionary[threading.Thread, Tracker] = weakref.WeakKeyDictionary()
_hook_lock = threading.Lock()
_previous_hook: Callable[[threading.ExceptHookArgs], Any] | None = None


def _excepthook(args: threading.ExceptHookArgs) -> None:
    tracker = _owners.get(args.thread) if args.thread is not None else None
    if tracker is not None and args.exc_value is not None:
        thread = args.thread
        tracker.died(f"{type(thread).__name__} ({thread.name})" if thread is not None else "?", args.exc_value)
    elif _previous_hook is not None:
        _previous_hook(args)


def _install_hook() -> None:
    global _previous_hook
    with _hook_lock:
        if threading.excepthook is not _excepthook:
            _previous_hook = threading.excepthook
            threading.excepthook = _excepthook


def _watchdog_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if type(t).__module__.startswith("watchdog.")}


# -- the observers ---------------------------------------------------------------------------

class Handler(FileSystemEventHandler):
    """Hands every event to `deliver`, and a loss of events to the tracker."""

    def __init__(self, deliver: Callable[[FileSystemEvent], None], tracker: Tracker) -> None:
        self._deliver = deliver
        self._tracker = tracker

    def on_any_event(self, event: FileSystemEvent) -> None:
        if EventsLost is not None and isinstance(event, EventsLost):
            return  # dispatch() calls on_events_lost() too
        self._deliver(event)

    def on_events_lost(self, event: FileSystemEvent) -> None:  # called by watchdog >= 7.1.1 only
        self._tracker.lost()


def _once_per_snapshot() -> Callable[[str | None], Iterator[os.DirEntry[str]]]:
    """A listdir for the polling snapshot that lists each folder once per snapshot: a symlink to
    an ancestor would otherwise be walked down to PATH_MAX, listing the whole tree at every level.
    A snapshot starts with the watched folder, the first one ever listed."""
    seen: set[tuple[int, int]] = set()
    top: list[str] = []

    def listdir(path: str | None) -> Iterator[os.DirEntry[str]]:
        assert path is not None  # a snapshot lists the folders it walks, never the working folder
        if not top:
            top.append(path)
        elif path == top[0]:
            seen.clear()
        st = os.stat(path)
        if (st.st_dev, st.st_ino) in seen:
            return iter(())
        seen.add((st.st_dev, st.st_ino))
        return os.scandir(path)

    return listdir


class Pinger:
    """Round-trips an event through a running observer, over and over: a file written in a private
    folder that the same observer watches (the same inotify descriptor, the same threads as the
    seeds folder's watch). An answer that does not come means the observer is stuck or far behind."""

    def __init__(self, folder: Path, clock: Callable[[], float] = time.monotonic) -> None:
        self.folder = folder
        self._clock = clock  # the watcher's: `sent_at` is compared with its readings
        self._came = threading.Event()
        self._name = ""
        self.sent_at: float | None = None

    def deliver(self, event: FileSystemEvent) -> None:
        if self._name and os.fsdecode(event.src_path).endswith(self._name):
            self._came.set()

    def send(self) -> None:
        """Write the next ping (blocking: a file write)."""
        previous, self._name = self._name, f"ping-{os.getpid()}-{time.monotonic_ns()}"
        self._came.clear()
        self.sent_at = self._clock()
        (self.folder / self._name).write_bytes(b"feedsvc watch ping\n")
        if previous:
            with contextlib.suppress(OSError):
                (self.folder / previous).unlink()

    @property
    def waiting(self) -> bool:
        """Whether a ping is out and unanswered."""
        return self.sent_at is not None and not self._came.is_set()

    def overdue(self, timeout: float) -> float | None:
        """How long the last ping has waited, once that is longer than `timeout`."""
        if self.sent_at is None or self._came.is_set():
            return None
        waited = self._clock() - self.sent_at
        return waited if waited > timeout else None

    def clean(self) -> None:
        if self._name:
            with contextlib.suppress(OSError):
                (self.folder / self._name).unlink()


class Watch:
    """One running observer on one folder, with the threads it started and its inotify descriptors."""

    def __init__(self, observer: BaseObserver, threads: set[threading.Thread], fds: set[int],
                 pinger: Pinger | None = None) -> None:
        self.observer = observer
        self.threads = threads
        self.fds = fds
        self.pinger = pinger

    @property
    def alive(self) -> bool:
        return self.observer.is_alive() and all(t.is_alive() for t in self.threads)

    def stop(self) -> None:
        self.observer.stop()
        with contextlib.suppress(RuntimeError):  # never started
            self.observer.join(timeout=5)
        if self.pinger is not None:
            self.pinger.clean()


def start_watch(folder: Path, mode: str, deliver: Callable[[FileSystemEvent], None], tracker: Tracker, *,
                poll_interval: float, event_filter: list[type[FileSystemEvent]] | None,
                pinger: Pinger | None = None) -> Watch:
    """Start an observer of `mode` on `folder` (raises OSError when the folder cannot be watched),
    with `pinger`'s folder watched by the same observer."""
    _install_hook()
    if sys.getrecursionlimit() < _RECURSION_LIMIT:
        sys.setrecursionlimit(_RECURSION_LIMIT)
    before_threads, before_fds = _watchdog_threads(), inotify_fds()
    observer: BaseObserver
    if mode == "polling":
        observer = PollingObserverVFS(os.stat, _once_per_snapshot(), polling_interval=poll_interval)
    else:
        observer = Observer()
    previous_stack = threading.stack_size()
    try:
        threading.stack_size(max(previous_stack, _THREAD_STACK))
        observer.schedule(Handler(deliver, tracker), str(folder), recursive=True,
                          event_filter=event_filter if mode != "polling" else None)
        if pinger is not None:
            observer.schedule(Handler(pinger.deliver, tracker), str(pinger.folder), recursive=False)
        observer.daemon = True
        observer.start()
    except BaseException:
        with contextlib.suppress(Exception):
            observer.stop()  # an inotify reader thread may already run
        raise
    finally:
        threading.stack_size(previous_stack)
    threads = (_watchdog_threads() - before_threads) | {observer}
    for thread in threads:
        _owners[thread] = tracker
    return Watch(observer, threads, inotify_fds() - before_fds if mode != "polling" else set(), pinger)


class ProbeUnavailable(Exception):
    """The self-test's folder cannot be watched or written: another folder may do."""


def self_test(probe: Path, mode: str, *, timeout: float = 1.0) -> str | None:
    """Round-trip one event through a fresh observer of `mode` on the private folder `probe`.

    None when the event came back; else why not, in the operator's words; ProbeUnavailable when
    the folder itself is the trouble. Never run in the seeds folder: editors' folders may be
    read-only, and a probe file there could be published.
    """
    came = threading.Event()
    name = f"probe-{os.getpid()}-{time.monotonic_ns()}"

    def deliver(event: FileSystemEvent) -> None:
        if os.fsdecode(event.src_path).endswith(name) or os.fsdecode(event.dest_path).endswith(name):
            came.set()

    try:
        probe.mkdir(parents=True, exist_ok=True)
        watch = start_watch(probe, mode, deliver, Tracker(lambda: None), poll_interval=0.05, event_filter=None)
    except OSError as exc:
        raise ProbeUnavailable(f"the self-test could not watch {str(probe)!r}: {describe(exc)}") from None
    started = time.monotonic()
    try:
        (probe / name).write_bytes(b"feedsvc watch self-test\n")
        if not came.wait(timeout):
            return f"the self-test's event did not come back within {timeout:g} s"
        log.debug("watch self-test (%s): an event came back in %.1f ms", mode, (time.monotonic() - started) * 1e3)
        return None
    except OSError as exc:
        raise ProbeUnavailable(f"the self-test could not write in {str(probe)!r}: {exc.strerror or exc}") from None
    finally:
        watch.stop()
        with contextlib.suppress(OSError):
            (probe / name).unlink()


# -- what the kernel watches -----------------------------------------------------------------

def inotify_fds() -> set[int]:
    """This process's inotify descriptors."""
    found = set()
    with contextlib.suppress(OSError):
        for name in os.listdir("/proc/self/fd"):
            with contextlib.suppress(OSError, ValueError):
                if os.readlink(f"/proc/self/fd/{name}") == "anon_inode:inotify":
                    found.add(int(name))
    return found


def watched(fds: set[int]) -> set[tuple[int, int]] | None:
    """(st_dev, st_ino) of every inode the descriptors watch, read from /proc/self/fdinfo; None
    where the kernel does not list them (no /proc)."""
    inodes: set[tuple[int, int]] = set()
    for fd in fds:
        try:
            text = Path(f"/proc/self/fdinfo/{fd}").read_text()
        except OSError:
            return None
        for line in text.splitlines():
            if not line.startswith("inotify wd:"):
                continue
            fields = dict(part.split(":", 1) for part in line.split()[1:] if ":" in part)
            # sdev is the kernel's own encoding of the device: major << 20 | minor.
            sdev = int(fields["sdev"], 16)
            inodes.add((os.makedev(sdev >> 20, sdev & 0xFFFFF), int(fields["ino"], 16)))
    return inodes


def folders(root: Path) -> Iterator[tuple[str, tuple[int, int]]]:
    """Every folder under `root`, itself included, walked without recursion and as watchdog walks
    them (symlinks to folders not followed below the root); with each one's (st_dev, st_ino)."""
    st = os.stat(root)
    yield str(root), (st.st_dev, st.st_ino)
    stack = [str(root)]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as entries:
                subs = [e for e in entries if e.is_dir(follow_symlinks=False)]
        except OSError:
            continue  # gone, or unreadable: the scan reports what it cannot list
        for entry in subs:
            try:
                sub = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            yield entry.path, (sub.st_dev, sub.st_ino)
            stack.append(entry.path)


def unwatched(root: Path, fds: set[int]) -> dict[tuple[int, int], str] | None:
    """The folders under `root` that no descriptor watches, by (st_dev, st_ino); None if unknown."""
    inodes = watched(fds)
    if inodes is None:
        return None
    return {key: path for path, key in folders(root) if key not in inodes}


_IN_CREATE = 0x100


def why_unwatchable(path: str) -> OSError | None:
    """Why inotify refuses to watch `path` now, asked of the kernel with a watch of our own."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(os.O_CLOEXEC)
    if fd < 0:
        code = ctypes.get_errno()
        return OSError(code, os.strerror(code))
    try:
        if libc.inotify_add_watch(fd, os.fsencode(path), _IN_CREATE) < 0:
            code = ctypes.get_errno()
            return None if code in _GONE else OSError(code, os.strerror(code))
        return None
    finally:
        os.close(fd)


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
    if exc.errno == errno.EACCES:
        return "permission denied"
    return exc.strerror or str(exc)

