"""Watching: watchdog events, handed to the event loop, turned into paths ready to read."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import errno
import itertools
import logging
import os
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
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
)

from feedsvc.watch.observers import (
    EventsLost,
    Pinger,
    ProbeUnavailable,
    Tracker,
    Watch,
    describe,
    self_test,
    start_watch,
    unwatched,
    why_unwatchable,
)

log = logging.getLogger("feedsvc.watcher")

# watchdog warns when a new subfolder it is already watching is registered again (a folder tree
# created fast meets both the scan of its parent and its own creation event); the second
# registration replaces the first with the same callback, so nothing is lost.
for _module in ("watchdog", "feedsvc.watch.observers"):  # raised through our watch group too
    warnings.filterwarnings("ignore", message="Callback with id .* already exists for watch",
                            category=RuntimeWarning, module=_module)

# watchdog holds every IN_MOVED_FROM for 0.5 s hoping to pair it with its IN_MOVED_TO, and all later
# events queue behind it: a burst of rsync-style renames then waits ~0.5 s. We never need the pairing
# (an unpaired move is a delete plus a create, which we handle the same way), so keep the wait short.
# The wait is a class attribute of a module watchdog does not document: set only where it is the
# float it has been since 5.0; elsewhere moves come ~0.5 s later, nothing is lost, and the log says so.
MOVE_PAIR_DELAY = 0.005
MOVE_PAIR_TUNED = False
try:
    from watchdog.observers.inotify_move_event_grouper import InotifyMoveEventGrouper as _Grouper
except ImportError:  # pragma: no cover - other platforms and versions
    pass
else:
    if isinstance(getattr(_Grouper, "delay", None), float):
        _Grouper.delay = MOVE_PAIR_DELAY
        MOVE_PAIR_TUNED = True

Mode = Literal["inotify", "polling"]
# How long after a scan an event may still arrive for a change the scan found (a write just before
# the scan read the file): only then is a change without any event counted as missed.
MISSED_GRACE = 1.0
# Events remembered per path, for that comparison, at most (~150 bytes each).
_SEEN_MAX = 50_000
Identity = tuple[int, int]  # st_dev, st_ino of the root: a folder renamed away and recreated differs

# What the kernel is asked for. Not IN_OPEN / IN_CLOSE_NOWRITE: every read, our own included,
# would raise them, and a cold start reads every file.
# A watch with a filter hears of lost events only if the filter lists them (watchdog >= 7.1.1).
EVENTS: list[type[FileSystemEvent]] = [
    FileCreatedEvent, FileModifiedEvent, FileAttribEvent, FileClosedEvent, FileDeletedEvent, FileMovedEvent,
    DirCreatedEvent, DirDeletedEvent, DirMovedEvent, *([EventsLost] if EventsLost is not None else [])]
# How long a new file may sit without a write before it counts as complete (moved or linked in).
SETTLE = 0.03


class _Batcher:
    """Runs on the observer thread: only queues events and wakes the loop once per batch."""

    def __init__(self, watcher: Watcher) -> None:
        self._watcher = watcher
        self._lock = threading.Lock()
        self._batch: list[FileSystemEvent] = []

    def deliver(self, event: FileSystemEvent) -> None:
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


class FallbackKind(enum.Enum):
    """Why the folder is polled although inotify was asked for."""

    SELF_TEST = "self-test"  # no event came back through a fresh inotify observer
    START = "start"  # inotify refused the folder (its limits)
    COVERAGE = "coverage"  # some folders could not be watched
    MISSED = "missed"  # a scan found changes inotify never reported
    STALLED = "stalled"  # a ping through the running observer got no answer


@dataclass(frozen=True, slots=True)
class Fallback:
    kind: FallbackKind
    text: str


class WatchUnavailable(Exception):
    """Neither inotify nor polling passed its self-test: nothing follows the folder live."""


class Watcher:
    """Decides when a file is complete and asks for it to be read, debounced per path.

    Completion comes from the filesystem: inotify's close-after-write and moved-into events. Once a
    file has been written to (IN_MODIFY) it is read only when its writer closes it (IN_CLOSE_WRITE),
    however long the writer pauses; a new file that sees no write within SETTLE was moved or linked
    in whole. (A writer that creates a file and waits longer than that before its first write gets
    it read empty, which is rejected, never published, and read again on close.) In polling mode
    there is no close event, so a file is read once its size and mtime are the same across two
    polls.

    Live watching is proved, not assumed. Each start round-trips an event through a fresh observer
    on a private folder (`probe`); inotify that fails it, refuses the folder, or leaves folders
    unwatched, gives way to polling (`fallback` says why), and so does inotify that a scan catches
    missing changes (`missed`). The caller tries inotify again later. `death` says a watchdog
    thread died; `on_lost` hears, on the loop, that the kernel dropped events (a queue overflow),
    so that the caller rescans at once rather than at the next scheduled rescan.
    """

    def __init__(self, root: Path, *, mode: Mode, debounce: float, poll_interval: float,
                 on_ready: Callable[[set[str], set[str]], None], on_event: Callable[[str], None] | None = None,
                 on_lost: Callable[[str], None] | None = None, probe: Path | None = None,
                 loop: asyncio.AbstractEventLoop | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.root = root
        # Every reading of the time (when events came, when a start began, when a ping went) is
        # this clock's, so tests can drive them; the debounce timers wait on the loop's own clock.
        self.clock = clock
        self.mode = mode
        self.debounce = debounce
        self.poll_interval = poll_interval
        self.probe = probe
        self.loop = loop or asyncio.get_running_loop()
        self._on_ready = on_ready
        self._on_event = on_event or (lambda kind: None)
        self._on_lost = on_lost or (lambda why: None)
        self._watch: Watch | None = None
        self._tracker = Tracker(self._lost_threadsafe)
        # What runs now ("inotify" or "polling"), and why polling runs where inotify was asked for.
        self.effective: Mode = mode
        self.fallback: Fallback | None = None
        # A scan found changes inotify missed: inotify is not trusted until the caller retries it.
        self._distrusted: Fallback | None = None
        # The root's identity when the running observer was started; None while none runs.
        self.identity: Identity | None = None
        self.started_at = 0.0  # self.clock() when the running observer began to start
        # A folder was removed while some were unwatched: watches were freed, worth a retry.
        self.freed_watches = False
        self._writing: set[str] = set()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._due: set[str] = set()
        self._due_folders: set[str] = set()
        self._flush: asyncio.Handle | None = None
        self._root_abs = os.path.abspath(root)
        # Folders a look found unwatched, by (st_dev, st_ino): unwatched at the next look too, they count.
        self._suspects: dict[tuple[int, int], str] = {}
        # When each path last had an event (self.clock()), to tell a change a scan finds from one
        # the watcher reported; insertion-ordered, so the oldest go first.
        self._seen: dict[str, float] = {}

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start a fresh observer: inotify if asked for and proved live, else polling.

        Raises OSError when the folder itself cannot be watched (missing, unreadable), and
        WatchUnavailable when not even polling passes its self-test. Blocking (it walks the tree
        to add a watch per folder), and safe off the loop's thread.
        """
        self._stop_observer()
        # The identity is taken before the watches: if the folder is replaced in between, the
        # next check sees a mismatch and starts again, instead of trusting a watch on the old one.
        st = os.stat(self.root)
        started_at = self.clock()
        tracker = Tracker(self._lost_threadsafe)
        batcher = _Batcher(self)
        watch, fallback = None, self._distrusted
        if self.mode == "inotify" and fallback is None:
            watch, fallback = self._start_inotify(tracker, batcher)
        if watch is None:
            if (problem := self._self_test("polling")[0]) is not None:
                raise WatchUnavailable(f"polling failed its self-test too: {problem}")
            watch = start_watch(self.root, "polling", batcher.deliver, tracker, poll_interval=self.poll_interval,
                                event_filter=None)
        self._tracker, self._watch = tracker, watch
        self.effective = "polling" if fallback is not None or self.mode == "polling" else "inotify"
        self.fallback = fallback
        self.identity = (st.st_dev, st.st_ino)
        self.started_at = started_at
        self.freed_watches = False
        if fallback is not None:
            log.warning("watching %s by polling every %g s: %s", self.root, self.poll_interval, fallback.text)
        else:
            log.info("watching %s (%s)", self.root, self.effective)
        if self.effective == "inotify" and not MOVE_PAIR_TUNED:
            log.info("this watchdog's move pairing cannot be shortened: a rename reaches the feeds ~0.5 s later")

    def _start_inotify(self, tracker: Tracker, batcher: _Batcher) -> tuple[Watch | None, Fallback | None]:
        problem, place = self._self_test("inotify")
        if problem is not None:
            return None, Fallback(FallbackKind.SELF_TEST, f"inotify failed its self-test: {problem}")
        pinger = None
        if place is not None:
            with contextlib.suppress(OSError):
                (place / "ping").mkdir(exist_ok=True)
                pinger = Pinger(place / "ping", self.clock)
        try:
            watch = start_watch(self.root, "inotify", batcher.deliver, tracker, poll_interval=self.poll_interval,
                                event_filter=EVENTS, pinger=pinger)
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EMFILE):
                raise  # the folder itself: the caller reports it
            return None, Fallback(FallbackKind.START, f"the seeds folder is not watched live: {describe(exc)}")
        self._suspects = {}
        if self._coverage(watch) is None and self._suspects:
            time.sleep(0.5)  # a second look (see _coverage)
        if (problem := self._coverage(watch)) is not None:
            watch.stop()
            return None, Fallback(FallbackKind.COVERAGE, problem)
        return watch, None

    def _self_test(self, mode: Mode) -> tuple[str | None, Path | None]:
        """Whether an event round-trips through a fresh observer of `mode`: None, or why not; and
        the folder it was tried in: the state folder's probe, else a temporary one (the state folder
        may be read-only)."""
        places = [self.probe] if self.probe is not None else []
        places.append(Path(tempfile.gettempdir()) / f"feedsvc-watch-probe-{os.getuid()}")
        unavailable = ""
        for place in places:
            try:
                problem = self_test(place, mode)
            except ProbeUnavailable as exc:
                unavailable = str(exc)  # the next place, if any
                continue
            return (None, place) if problem is None else (problem, None)
        return unavailable, None

    # -- pings through the running observer ------------------------------------------------

    def ping(self) -> None:
        """Send a ping through the running inotify observer (blocking: a file write)."""
        watch = self._watch
        if watch is not None and watch.pinger is not None:
            try:
                watch.pinger.send()
            except OSError as exc:
                log.warning("cannot write the watch ping in %s: %s", watch.pinger.folder, exc.strerror or exc)

    def ping_overdue(self, timeout: float) -> float | None:
        """How long the last ping has gone unanswered, once that is longer than `timeout`."""
        watch = self._watch
        return watch.pinger.overdue(timeout) if watch is not None and watch.pinger is not None else None

    def ping_due(self, every: float) -> bool:
        """Whether the running observer has a pinger, its last ping was answered (an unanswered one
        is left to grow overdue), and is `every` seconds old."""
        watch = self._watch
        if watch is None or watch.pinger is None or watch.pinger.waiting:
            return False
        sent = watch.pinger.sent_at
        return sent is None or self.clock() - sent >= every

    def _coverage(self, watch: Watch) -> str | None:
        """Which folders inotify does not watch, and why, in one line; None when it watches all.

        A folder counts only when a second look finds it unwatched too: watchdog adds the watches of
        a tree created while it runs one creation event at a time, and may be behind by a second.
        """
        found = unwatched(self.root, watch.fds)
        if not found:
            self._suspects = {}
            return None
        self._suspects = {k: v for k, v in found.items() if k in self._suspects}
        if not self._suspects:
            self._suspects = found
            return None
        count, example = len(self._suspects), next(iter(self._suspects.values()))
        exc = why_unwatchable(example)
        rel = self._rel(example) or example
        shown = rel if len(rel) <= 80 else f"{rel[:36]}...{rel[-40:]}"
        what = "folder is" if count == 1 else "folders are"
        # The kernel would watch it now: watchdog has not asked, being stuck or far behind.
        why = describe(exc) if exc is not None else "watchdog has not added their watches (stuck or far behind)"
        return f"{count} {what} not watched live: {why} (e.g. {shown!r})"

    def check_coverage(self) -> Fallback | None:
        """After folders appeared: whether inotify has left some unwatched (then `unsure` says to
        look again, in case watchdog only has yet to catch up). Blocking (a walk of the folders),
        and safe off the loop's thread."""
        watch = self._watch
        if watch is None or self.effective != "inotify":
            self._suspects = {}
            return None
        problem = self._coverage(watch)
        return Fallback(FallbackKind.COVERAGE, problem) if problem is not None else None

    @property
    def unsure(self) -> bool:
        """Whether the last look found folders unwatched that a second look must confirm."""
        return bool(self._suspects)

    def distrust(self, fallback: Fallback) -> None:
        """Poll instead of inotify until the caller calls `trust_again` and starts afresh.
        Blocking, and safe off the loop's thread."""
        self._distrusted = fallback
        self.start()

    def trust_again(self) -> None:
        """Let the next start try inotify (and its self-test) again."""
        self._distrusted = None

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
        watch, self._watch = self._watch, None
        self.identity = None
        if watch is not None:
            watch.stop()

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
        return self._watch is not None

    @property
    def alive(self) -> bool:
        watch = self._watch
        return watch is not None and watch.alive

    @property
    def threads(self) -> frozenset[threading.Thread]:
        """The running observer's threads (its own, its emitters', an inotify reader's)."""
        watch = self._watch
        return frozenset(watch.threads) if watch is not None else frozenset()

    @property
    def death(self) -> str | None:
        """Why live watching stopped, if a watchdog thread said so before it ended."""
        return self._tracker.death

    # -- changes a scan found that no event reported ---------------------------------------

    def missed(self, paths: Iterable[str], since: float) -> list[str]:
        """Of the changed `paths` (relative), those with no event since `since` (self.clock()),
        neither for themselves nor for a folder above them (a folder moved in brings its files)."""
        seen = self._seen
        found = []
        for path in paths:
            parts = path.split("/")
            if not any(seen.get("/".join(parts[:n]), -1.0) >= since for n in range(len(parts), 0, -1)):
                found.append(path)
        return found

    def _remember(self, rel: str, now: float) -> None:
        seen = self._seen
        seen.pop(rel, None)  # to the end: the dict stays in the order of the last event
        seen[rel] = now
        if len(seen) > _SEEN_MAX:  # a burst beyond any scan's window: the oldest tenth go
            for key in list(itertools.islice(seen, _SEEN_MAX // 10)):
                del seen[key]

    def forget_seen(self, before: float) -> None:
        """Drop the events before `before`: no later comparison looks that far back."""
        seen = self._seen
        while seen:
            key = next(iter(seen))
            if seen[key] >= before:
                break
            del seen[key]

    # -- lost events (an inotify queue overflow) ------------------------------------------

    def _lost_threadsafe(self) -> None:
        try:
            self.loop.call_soon_threadsafe(self._lost)
        except RuntimeError:  # loop closed during shutdown
            pass

    def _lost(self) -> None:
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
        now = self.clock()
        for rel in (src, dest):
            if rel is not None:
                self._remember(rel, now)
        kind = event.event_type
        if event.is_directory:
            if kind in ("moved", "deleted") and self.fallback is not None:
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
