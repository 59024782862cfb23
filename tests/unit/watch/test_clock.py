"""The watcher's and the supervisor's readings of the time, driven by a fake clock: which changes a
scan found count as missed by inotify, how long a stuck ping has waited, and the retry schedules
(inotify distrusted, a watcher that keeps dying). No real waiting, no observer started."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from helpers import settings_for
from watchdog.events import DirMovedEvent, FileClosedEvent, FileCreatedEvent, FileMovedEvent

from feedsvc.ops.metrics import Metrics
from feedsvc.watch.changes import Changes
from feedsvc.watch.observers import Pinger
from feedsvc.watch.supervisor import FIRST_DISTRUST, MAX_DISTRUST, MAX_RESTART_DELAY, Supervisor
from feedsvc.watch.watcher import Fallback, FallbackKind, Identity, Watcher


class Clock:
    """A monotonic clock that moves only when told."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def watcher(root: Path, clock: Clock) -> Watcher:
    return Watcher(root, mode="inotify", debounce=0.01, poll_interval=0.05, on_ready=lambda files, folders: None,
                   clock=clock)


# -- the watcher: which changes had an event --------------------------------------------------------

async def test_missed_judges_events_by_the_injected_clock(tmp_path: Path) -> None:
    clock = Clock()
    w = watcher(tmp_path, clock)
    try:
        w.handle(FileClosedEvent(str(tmp_path / "early.txt")))  # at 1000
        clock.advance(10)
        w.handle(FileCreatedEvent(str(tmp_path / "late.txt")))  # at 1010
        w.handle(DirMovedEvent(str(tmp_path / "elsewhere"), str(tmp_path / "moved")))  # a folder brings its files
        w.handle(FileMovedEvent(str(tmp_path / "a.txt"), str(tmp_path / "b.txt")))  # both ends had an event
        changed = ["early.txt", "late.txt", "moved/deep/c.txt", "a.txt", "b.txt", "never.txt"]

        assert w.missed(changed, since=1005) == ["early.txt", "never.txt"]
        assert w.missed(changed, since=1000) == ["never.txt"]  # an event at the instant counts
        assert w.missed(changed, since=1010.5) == changed  # all of them before the scan began
    finally:
        w.forget()


async def test_forget_seen_drops_only_older_events(tmp_path: Path) -> None:
    clock = Clock()
    w = watcher(tmp_path, clock)
    try:
        for name in ("one.txt", "two.txt", "three.txt"):
            w.handle(FileClosedEvent(str(tmp_path / name)))
            clock.advance(1)
        w.forget_seen(1001)  # one.txt's event (1000) is older than any scan still to be judged
        assert w.missed(["one.txt", "two.txt", "three.txt"], since=0) == ["one.txt"]
        # An event again moves a path to the end: it outlives older ones.
        w.handle(FileClosedEvent(str(tmp_path / "two.txt")))  # at 1003
        w.forget_seen(1003)
        assert w.missed(["two.txt", "three.txt"], since=0) == ["three.txt"]
    finally:
        w.forget()


def test_pinger_waits_by_the_injected_clock(tmp_path: Path) -> None:
    clock = Clock()
    pinger = Pinger(tmp_path, clock)
    assert pinger.overdue(5.0) is None  # nothing sent
    pinger.send()
    assert pinger.sent_at == 1000.0 and pinger.waiting
    clock.advance(5.0)
    assert pinger.overdue(5.0) is None  # not longer than the timeout yet
    clock.advance(0.5)
    assert pinger.overdue(5.0) == 5.5
    pinger.clean()


# -- the supervisor's schedules ---------------------------------------------------------------------

class FakeWatcher:
    """What the supervisor's schedules read of its watcher: running, alive, why it polls."""

    def __init__(self, identity: Identity) -> None:
        self.identity: Identity | None = identity
        self.running = True
        self.alive = True
        self.effective = "inotify"
        self.fallback: Fallback | None = None
        self.freed_watches = False
        self.death: str | None = None
        self.trusted_again = 0

    def distrust(self, fallback: Fallback) -> None:
        self.fallback, self.effective = fallback, "polling"

    def trust_again(self) -> None:
        self.trusted_again += 1

    def stop(self) -> None:
        self.running = self.alive = False


IDENTITY: Identity = (1, 2)


@pytest.fixture
async def supervised(tmp_path: Path) -> Any:
    seeds, state = tmp_path / "seeds", tmp_path / "state"
    seeds.mkdir()
    state.mkdir()
    clock = Clock()
    supervisor = Supervisor(settings_for(seeds, state), Changes(), Metrics(), clock=clock)
    assert supervisor.watcher.clock is clock  # the watcher reads the same clock
    fake = FakeWatcher(IDENTITY)
    supervisor.watcher = fake  # type: ignore[assignment]
    yield supervisor, fake, clock


async def seconds_until_retry(supervisor: Supervisor, clock: Clock) -> float:
    """Advance the fake clock a second at a time until the supervisor tries inotify again."""
    start = clock.now
    while supervisor._restart_reason(IDENTITY, clock.now) is None:
        clock.advance(1.0)
        assert clock.now - start <= MAX_DISTRUST + 1, "never retried"
    return clock.now - start


async def test_distrust_doubles_up_to_its_cap(supervised: Any) -> None:
    supervisor, fake, clock = supervised
    waits = []
    for _ in range(9):
        await supervisor._missed(["a.txt"])  # a scan caught inotify missing a change: polling from now
        assert fake.fallback is not None and fake.fallback.kind is FallbackKind.MISSED
        waits.append(await seconds_until_retry(supervisor, clock))
        assert "trying inotify again" in (supervisor._restart_reason(IDENTITY, clock.now) or "")
    assert waits == [FIRST_DISTRUST * 2 ** n for n in range(6)] + [MAX_DISTRUST] * 3
    assert waits[:3] == [60.0, 120.0, 240.0]


async def test_coverage_retries_on_its_own_schedule(supervised: Any) -> None:
    supervisor, fake, clock = supervised
    await supervisor._to_polling(Fallback(FallbackKind.COVERAGE, "1 folder is not watched live"))
    assert await seconds_until_retry(supervisor, clock) == 30.0  # RETRY_INCOMPLETE
    fake.freed_watches = True  # a folder was removed: watches freed, worth trying sooner
    await supervisor._to_polling(Fallback(FallbackKind.COVERAGE, "1 folder is not watched live"))
    assert await seconds_until_retry(supervisor, clock) == 5.0  # FALLBACK_RESCAN


async def test_a_dying_watcher_is_restarted_less_often(supervised: Any) -> None:
    supervisor, fake, clock = supervised
    supervisor._started_at = clock()
    fake.alive = False  # a watchdog thread ended
    delays = []
    for _ in range(6):
        assert supervisor._restart_reason(IDENTITY, clock.now) is not None  # restarted now
        supervisor._started_at = clock.now  # the new one starts, and dies again soon after
        delays.append(supervisor._next_start - clock.now)
        clock.advance(delays[-1] - 0.5)
        assert supervisor._restart_reason(IDENTITY, clock.now) is None  # not yet
        clock.advance(0.5)
    assert delays == [2.0, 4.0, 8.0, 16.0, 32.0, MAX_RESTART_DELAY]
    # The last one lived MAX_RESTART_DELAY before it was restarted: the schedule starts afresh.
    assert supervisor._restart_reason(IDENTITY, clock.now) is not None
    assert supervisor._next_start - clock.now == 1.0


async def test_a_replaced_folder_restarts_at_once(supervised: Any) -> None:
    supervisor, _, clock = supervised
    assert supervisor._restart_reason(IDENTITY, clock.now) is None
    assert "was replaced" in (supervisor._restart_reason((1, 3), clock.now) or "")


def test_clock_default_is_monotonic(tmp_path: Path) -> None:
    import time

    loop = asyncio.new_event_loop()
    try:
        w = Watcher(tmp_path, mode="polling", debounce=0.01, poll_interval=0.05, on_ready=lambda f, d: None,
                    loop=loop)
        assert w.clock is time.monotonic
    finally:
        loop.close()
