"""Supervising the watcher: is the seeds folder there, is it the one watched, is live watching proved?

Once a second it checks the folder (missing, unreadable, replaced), restarts a watcher that died
or was left aside, pings the running inotify observer, looks for folders it does not watch, and
after each full scan compares what the scan found with what the watcher reported. What it cannot
repair it covers with rescans or polling, and says so on /healthz.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from feedsvc.ingest.ingest import BatchOutcome, RootUnavailable
from feedsvc.ops import limits
from feedsvc.ops.health import Concern, Problem
from feedsvc.ops.metrics import Metrics
from feedsvc.settings import Settings
from feedsvc.watch.changes import Changes
from feedsvc.watch.observers import describe
from feedsvc.watch.watcher import MISSED_GRACE, Fallback, FallbackKind, Identity, Watcher, WatchUnavailable

log = logging.getLogger("feedsvc.sync")

# While the watcher misses changes (dead, incomplete), a rescan this often stands in for it.
FALLBACK_RESCAN = 5.0
# While some folders are not watched, watching them all is tried again this often (after
# FALLBACK_RESCAN when a folder is removed, which frees watches).
RETRY_INCOMPLETE = 30.0
# A watcher that keeps dying is restarted after 1, 2, 4 ... seconds, at most this many.
MAX_RESTART_DELAY = 60.0
# Folders are checked for watches once their events have been quiet this long: watchdog adds the
# watches of a tree created while it runs one creation event at a time, and may be seconds behind.
_QUIET = 1.0
# A ping goes through the running inotify observer this often; unanswered this long, it is stuck.
PING_EVERY = 2.0
PING_TIMEOUT = 5.0
# inotify caught missing changes is tried again after this long, twice as long each time it is
# caught again, at most MAX_DISTRUST (a mount that never raises events costs a scan's worth of
# missed changes per try).
FIRST_DISTRUST = 60.0
MAX_DISTRUST = 3600.0


def probe_root(root: Path) -> Identity:
    """The root's identity, once it is known to be a readable folder.

    Raises RootUnavailable for a folder that is missing or unreadable, and the OSError itself when
    the process is out of descriptors: that says nothing about the folder.
    """
    try:
        st = os.stat(root)
        with os.scandir(root):
            pass
    except OSError as exc:
        if limits.out_of_fds(exc):
            raise
        raise RootUnavailable(f"seeds folder {str(root)!r}: {exc.strerror or exc}") from None
    return st.st_dev, st.st_ino


class Supervisor:
    """Owns the watcher; puts what it reports, and the rescans it decides, into `changes`."""

    def __init__(self, settings: Settings, changes: Changes, metrics: Metrics,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        # Every reading of the time is this clock's, the watcher's and a scan's start too (they are
        # compared), so tests can drive the schedules; the waits themselves are the loop's.
        self.clock = clock
        self._changes = changes
        self._metrics = metrics
        self._root_problem: str | None = None
        # "Too many open files" while checking or reading the folder, keyed by which of the two.
        self._fd_problems: dict[str, str] = {}
        # Watching: why it could not start, when events were lost (cleared by the next full rescan
        # that began after the loss), and the restart schedule of a watcher that keeps failing.
        self._start_problem: str | None = None
        self._lost: str | None = None
        self.losses = 0  # events lost so far (kernel queue overflows told)
        self._starting = False
        # A live watcher is being replaced by another (polling for inotify, or back): not a failure.
        self._switching = False
        self._started_at = 0.0
        self._restart_delay = 1.0
        self._next_start = 0.0
        # The last full scan that the running watcher saw from its start: when it began, and how
        # many losses of events had been told by then. A later scan's changes are judged against it.
        self._last_scan: tuple[float, int] | None = None
        self._distrusts = 0  # times a scan caught inotify missing changes
        self._folders_changed = False
        self._folder_event_at = 0.0
        self.watcher = Watcher(settings.seeds, mode=settings.watch, debounce=settings.debounce,
                               poll_interval=settings.poll_interval, on_ready=self._watched,
                               on_event=self._count_event, on_lost=self._events_lost,
                               probe=settings.state_dir / "watch-probe", loop=asyncio.get_running_loop(),
                               clock=clock)

    async def start(self) -> None:
        """Start watching, off the loop's thread: adding a watch per folder walks the whole tree."""
        await self._start_watcher()

    def busy(self) -> frozenset[str]:
        """Files being written or waiting out their debounce: not to be read by a scan now."""
        return self.watcher.busy()

    def read_failed(self, exc: RootUnavailable) -> None:
        """Reading the folder failed in a batch: the folder's problem, or the descriptors'."""
        if limits.out_of_fds(exc):
            self._out_of_fds("read", "cannot read the seeds folder")
            asyncio.get_running_loop().call_later(5.0, self._changes.put, (), (), True)
        else:
            self._set_root_problem(str(exc))

    def scanned(self, outcome: BatchOutcome, started: float, losses: int) -> None:
        """A full scan that began at `started` (with `losses` told by then) went through: the index
        matches the folder; and its changes are a measure of the watcher."""
        self._judge_watcher(outcome, started, losses)
        self._fd_problems.pop("read", None)
        if losses == self.losses:  # it began after the last loss of events
            self._lost = None
        if self._root_problem is not None:
            self._set_root_problem(None)

    def _watched(self, files: set[str], folders: set[str]) -> None:
        if folders:
            self._folders_changed = True  # new folders: does inotify watch them all?
            self._folder_event_at = self.clock()
        self._changes.put(files, folders)

    def _count_event(self, kind: str) -> None:
        self._metrics.watch_events.labels(kind).inc()

    def _events_lost(self, why: str) -> None:
        """The kernel dropped events: rescan now, and say so until that rescan is through."""
        self._lost = f"{why} at {dt.datetime.now(dt.UTC):%H:%M:%S} UTC; rescanning the folder"
        self.losses += 1
        self._changes.put(rescan=True)

    async def _start_watcher(self) -> None:
        """Start watching, off the loop's thread: adding a watch per folder walks the whole tree."""
        self._starting = True
        self.watcher.forget()  # what waited for events from a previous watcher may never get them
        was = self.watcher.fallback
        try:
            await asyncio.get_running_loop().run_in_executor(None, self.watcher.start)
        except OSError as exc:
            # The folder may be fine (it is checked on its own): the watch is what failed.
            self._start_problem = f"cannot watch the seeds folder: {describe(exc)}"
            log.error("%s; rescanning every %.0f s instead", self._start_problem, FALLBACK_RESCAN)
        except WatchUnavailable as exc:
            self._start_problem = f"cannot watch the seeds folder: {exc}"
            log.error("%s; rescanning every %.0f s instead", self._start_problem, FALLBACK_RESCAN)
        except Exception as exc:  # a bug in watching must not stop syncing: rescans stand in
            log.exception("cannot start the watcher")
            self._start_problem = f"cannot start the watcher: {type(exc).__name__}: {exc}"
        else:
            self._start_problem = None
            if was is not None and self.watcher.fallback is None:
                log.info("live watching recovered: inotify passed its self-test and watches every folder "
                         "(it was polling because %s)", was.text)
        finally:
            self._starting = False
        self._started_at = self.clock()
        self._last_scan = None  # changes before this watcher are no measure of it
        self._folders_changed = False
        self._show_mode()

    def _show_mode(self) -> None:
        watcher = self.watcher
        self._metrics.watcher_up.set(1 if watcher.alive else 0)
        for mode in ("inotify", "polling"):
            self._metrics.watch_mode.labels(mode).set(1 if watcher.running and watcher.effective == mode else 0)

    async def _stop_watcher(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.watcher.stop)
        self.watcher.forget()

    def _judge_watcher(self, outcome: BatchOutcome, scan_started: float, lost_seq: int) -> None:
        """After a full scan: were its changes reported by inotify? A change with no event since the
        previous scan (after a grace for events still on their way) is a missed one."""
        previous, self._last_scan = self._last_scan, (scan_started, lost_seq)
        watcher = self.watcher
        if (previous is None or previous[1] != lost_seq or watcher.effective != "inotify"
                or not watcher.running or watcher.started_at > previous[0]):
            return  # no measure: a loss was told, or this watcher did not see the whole interval
        # Not the rejections: a file that could not be read is retried by every scan, event or not.
        changed = [*outcome.added, *outcome.changed, *outcome.removed]
        since, started_at = previous[0], watcher.started_at
        if not changed:
            watcher.forget_seen(since)
            return

        def judge() -> None:
            if watcher.started_at != started_at or watcher.effective != "inotify":
                return  # restarted meanwhile: judged by its own scans
            missed = watcher.missed(changed, since)
            watcher.forget_seen(since)
            if missed:
                asyncio.get_running_loop().create_task(self._missed(missed))

        asyncio.get_running_loop().call_later(MISSED_GRACE, judge)

    async def _missed(self, missed: list[str]) -> None:
        """inotify did not report changes a scan found (a network or overlay mount, a broken
        dependency): poll until it proves live again."""
        self._metrics.watch_missed.inc(len(missed))
        self._distrusts += 1
        first = missed[0]
        more = f" and {len(missed) - 1} more" if len(missed) > 1 else ""
        log.warning("a scan found a change to %r%s that inotify never reported: it misses changes in this "
                    "folder; polling every %g s, trying inotify again in %.0f s", first, more,
                    self.settings.poll_interval, self._distrust_delay())
        await self._to_polling(Fallback(FallbackKind.MISSED, f"{len(missed)} changes were found by a scan that "
                                                             f"inotify never reported (e.g. {first!r}): a network "
                                                             f"or overlay mount?"))

    async def _to_polling(self, fallback: Fallback) -> None:
        self._starting = self._switching = True
        try:
            await asyncio.get_running_loop().run_in_executor(None, self.watcher.distrust, fallback)
        except Exception:
            log.exception("cannot switch to polling")
        finally:
            self._starting = self._switching = False
        self._started_at = self.clock()
        self._last_scan = None
        self._show_mode()
        self._changes.put(rescan=True)  # what changed while switching

    async def _ping(self) -> None:
        """Prove the running inotify observer delivers: a ping through it, every PING_EVERY."""
        if (waited := self.watcher.ping_overdue(PING_TIMEOUT)) is not None:
            log.warning("the watcher delivered no event for %.1f s: watchdog is stuck or far behind; polling", waited)
            await self._to_polling(Fallback(FallbackKind.STALLED, f"the watcher delivered no event for {waited:.0f} s "
                                                                  f"(watchdog stuck or far behind)"))
        elif self.watcher.ping_due(PING_EVERY):
            await asyncio.get_running_loop().run_in_executor(None, self.watcher.ping)

    # -- supervision -----------------------------------------------------------------------

    def _set_root_problem(self, problem: str | None) -> None:
        if problem != self._root_problem:
            if problem:
                log.error("%s; serving the last good feeds", problem)
            else:
                log.info("seeds folder is back")
        self._root_problem = problem

    def _out_of_fds(self, key: str, doing: str) -> None:
        # "Too many open files" is the process's limit, not the folder's fault: say which it is.
        if key not in self._fd_problems:
            self._fd_problems[key] = (f"{doing}: the process is out of file descriptors ({limits.fd_usage()}); "
                                      "the feeds may miss changes until descriptors are free")
            log.error("%s", self._fd_problems[key])

    async def supervise(self) -> None:
        """Once a second: is the folder there, is it the one being watched, is the watcher alive
        and complete? Repair what can be; rescan on schedule, and more often while watching is lost."""
        loop = asyncio.get_running_loop()
        last_scan = self.clock()
        while True:
            await asyncio.sleep(1.0)
            # Off the worker thread: the check must not wait behind a long batch.
            try:
                identity = await loop.run_in_executor(None, probe_root, self.settings.seeds)
            except RootUnavailable as exc:
                self._set_root_problem(str(exc))
                if self.watcher.running and not self._starting:
                    # Its watch is on a folder that is no longer the root (renamed away, say): events
                    # from there would be taken for the root's. A new one starts when the root is back.
                    await self._stop_watcher()
                continue
            except OSError:  # only the descriptor limit gets here (see probe_root)
                self._out_of_fds("check", "cannot check the seeds folder")
                continue
            self._fd_problems.pop("check", None)
            now = self.clock()
            if not self._starting and (why := self._restart_reason(identity, now)) is not None:
                log.warning("%s; starting a new watcher and rescanning", why)
                self._switching = self.watcher.alive
                try:
                    await self._stop_watcher()
                    await self._start_watcher()
                finally:
                    self._switching = False
                self._changes.put(rescan=True)
                last_scan = self.clock()
            elif self._root_problem is not None:
                self._changes.put(rescan=True)
            elif self._folders_changed and not self._starting and now - self._folder_event_at >= _QUIET:
                if (fallback := await loop.run_in_executor(None, self.watcher.check_coverage)) is not None:
                    await self._to_polling(fallback)
                self._folders_changed = self.watcher.unsure
            elif self._watching_lost() and now - last_scan >= FALLBACK_RESCAN:
                self._changes.put(rescan=True)
                last_scan = now
            if not self._starting and self.watcher.running and self.watcher.effective == "inotify":
                await self._ping()
            interval = self.settings.rescan_interval
            if interval and self.clock() - last_scan >= interval:
                self._changes.put(rescan=True)
                last_scan = self.clock()
            self._show_mode()

    def _restart_reason(self, identity: Identity, now: float) -> str | None:
        """Why a new watcher is needed now, if it is."""
        watcher = self.watcher
        if watcher.running and watcher.alive:
            if watcher.identity != identity:
                return (f"the seeds folder {str(self.settings.seeds)!r} was replaced (inode "
                        f"{watcher.identity and watcher.identity[1]} -> {identity[1]}): the old watch sees none of it")
            since = now - self._started_at
            if (fallback := watcher.fallback) is not None and since >= self._retry_after(fallback):
                watcher.trust_again()
                return f"polling because {fallback.text}; trying inotify again"
            if since >= MAX_RESTART_DELAY:  # it has lived long enough: a later death starts afresh
                self._restart_delay = 1.0
            return None
        if now < self._next_start:
            return None
        if watcher.running or self._start_problem is not None:
            # Died, or could not start: again, but less often each time it fails soon after.
            quick = now - self._started_at < MAX_RESTART_DELAY
            self._restart_delay = min(self._restart_delay * 2, MAX_RESTART_DELAY) if quick else 1.0
            self._next_start = now + self._restart_delay
            if watcher.running:
                return f"the watcher stopped ({watcher.death or 'a watchdog thread ended'})"
            return "retrying the watch"
        return "the seeds folder is back"  # stopped while the folder was unavailable

    @property
    def watching(self) -> bool:
        """Whether a watcher runs, or one that ran is being replaced at this moment."""
        return self.watcher.alive or self._switching

    def _retry_after(self, fallback: Fallback) -> float:
        """How long inotify is left aside for `fallback`: each try walks the tree and rescans it."""
        if fallback.kind is FallbackKind.MISSED:
            return self._distrust_delay()
        return FALLBACK_RESCAN if self.watcher.freed_watches else RETRY_INCOMPLETE

    def _distrust_delay(self) -> float:
        return min(FIRST_DISTRUST * 2.0 ** max(self._distrusts - 1, 0), MAX_DISTRUST)

    def _watching_lost(self) -> bool:
        """Whether changes may go unseen until a rescan."""
        return not self.watcher.alive or self._start_problem is not None

    def problems(self, ready: bool) -> list[Problem]:
        """The folder's and the descriptors' problems; the watcher's once the first scan is done."""
        found = []
        if self._root_problem:
            found.append(Problem(Concern.SEEDS, self._root_problem))
        found.extend(Problem(Concern.SYNC, text) for text in self._fd_problems.values())
        if ready and not self._starting:
            found.extend(self._watch_problems())
        return found

    def _watch_problems(self) -> list[Problem]:
        """A dead watcher fails /healthz; folders not watched live, or events lost to an overflow,
        degrade it: the feeds still follow, by rescans, seconds late."""
        watcher = self.watcher
        fallback = f"rescanning every {FALLBACK_RESCAN:.0f} s meanwhile"
        if self._start_problem is not None:
            return [Problem(Concern.WATCHER, f"{self._start_problem}; retrying, {fallback}")]
        if not watcher.running:
            # Stopped because the folder is unavailable: that problem is listed on its own.
            stopped = Problem(Concern.WATCHER, f"watcher stopped; restarting it, {fallback}")
            return [] if self._root_problem else [stopped]
        found = []
        if not watcher.alive:
            found.append(Problem(Concern.WATCHER, f"watcher stopped: {watcher.death or 'a watchdog thread ended'}; "
                                                  f"restarting it, {fallback}"))
        elif watcher.fallback is not None:
            found.append(Problem(Concern.COVERAGE, f"{watcher.fallback.text}; polling every "
                                                   f"{self.settings.poll_interval:g} s until inotify proves live again",
                                 public="live watching lost: polling"))
        if self._lost is not None:
            found.append(Problem(Concern.COVERAGE, self._lost))
        return found

    async def stop(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.watcher.stop)
