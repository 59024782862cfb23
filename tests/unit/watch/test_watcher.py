"""The Watcher's debounce and completion rules, fed real watchdog events by hand (no observer running)."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import poll_until_async, write
from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirModifiedEvent,
    DirMovedEvent,
    FileAttribEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
)

from feedsvc.watch.watcher import SETTLE, Watcher, _Batcher

DEBOUNCE = 0.01
POLL = 0.05
# Longest a test waits for something that must happen; far above SETTLE + DEBOUNCE or two polls.
PATIENCE = 5.0


class Ready:
    """The on_ready callback: every call, and what the watcher still held back when it was made."""

    def __init__(self) -> None:
        self.calls: list[tuple[set[str], set[str]]] = []
        self.busy_at_call: list[frozenset[str]] = []
        self.watcher: Watcher | None = None

    def __call__(self, files: set[str], folders: set[str]) -> None:
        self.calls.append((set(files), set(folders)))
        assert self.watcher is not None
        self.busy_at_call.append(self.watcher.busy())

    @property
    def files(self) -> set[str]:
        return {f for files, _ in self.calls for f in files}

    @property
    def folders(self) -> set[str]:
        return {f for _, folders in self.calls for f in folders}

    async def until(self, condition: Callable[[], bool], what: str) -> None:
        await poll_until_async(condition, what, PATIENCE, interval=0.005, detail=lambda: f"calls: {self.calls}")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "seeds"
    folder.mkdir()
    return folder


@pytest.fixture
def make() -> Iterator[Callable[..., tuple[Watcher, Ready]]]:
    made: list[Watcher] = []

    def make_watcher(root: Path, mode: str = "inotify", **kw: object) -> tuple[Watcher, Ready]:
        ready = Ready()
        watcher = Watcher(root, mode=mode, debounce=DEBOUNCE, poll_interval=POLL,  # type: ignore[arg-type]
                          on_ready=ready, loop=asyncio.get_running_loop(), **kw)  # type: ignore[arg-type]
        ready.watcher = watcher
        made.append(watcher)
        return watcher, ready

    yield make_watcher
    for watcher in made:
        watcher.stop()


def p(root: Path, rel: str) -> str:
    return str(root / rel)


async def quiet(watcher: Watcher) -> None:
    """Wait out anything still scheduled (nothing is once busy() is empty), plus a margin."""
    await asyncio.sleep(SETTLE + 3 * DEBOUNCE)
    assert watcher.busy() == frozenset()


# -- inotify mode -----------------------------------------------------------------------------


async def test_a_burst_on_one_path_is_one_call(root: Path, make: Callable[..., tuple[Watcher, Ready]]) -> None:
    watcher, ready = make(root)
    path = p(root, "a.txt")
    for event in (FileCreatedEvent(path), FileModifiedEvent(path), FileModifiedEvent(path), FileClosedEvent(path),
                  FileModifiedEvent(path), FileClosedEvent(path), FileClosedEvent(path)):
        watcher.handle(event)
    assert ready.calls == [], "nothing is reported before the debounce"
    await ready.until(lambda: bool(ready.calls), "the burst to be reported")
    assert ready.calls == [({"a.txt"}, set())]
    assert ready.busy_at_call == [frozenset()], "nothing else was pending when it was reported"
    await quiet(watcher)
    assert len(ready.calls) == 1


async def test_a_debounce_collapses_paths_made_ready_together(root: Path,
                                                              make: Callable[..., tuple[Watcher, Ready]]) -> None:
    watcher, ready = make(root)
    for name in ("a.txt", "b.txt", "sub/c.txt"):
        watcher.handle(FileClosedEvent(p(root, name)))
    await ready.until(lambda: ready.files == {"a.txt", "b.txt", "sub/c.txt"}, "three files")
    assert len(ready.calls) == 1, "timers firing in one loop turn are handed over once"


async def test_a_created_file_with_no_write_is_reported_after_settle(
        root: Path, make: Callable[..., tuple[Watcher, Ready]]) -> None:
    watcher, ready = make(root)
    watcher.handle(FileCreatedEvent(p(root, "moved-in.txt")))
    assert watcher.busy() == {"moved-in.txt"}
    await asyncio.sleep(0)
    assert ready.calls == []
    await ready.until(lambda: bool(ready.calls), "the created file")
    assert ready.calls == [({"moved-in.txt"}, set())]
    assert watcher.busy() == frozenset()


async def test_a_modified_file_waits_for_its_close(root: Path, make: Callable[..., tuple[Watcher, Ready]]) -> None:
    watcher, ready = make(root)
    path = p(root, "slow.txt")
    watcher.handle(FileCreatedEvent(path))
    watcher.handle(FileModifiedEvent(path))
    for _ in range(3):  # a writer pausing mid-file, touching it now and then: ~0.3 s in all
        await asyncio.sleep(0.1)
        assert ready.calls == [], "read before its writer closed it"
        assert "slow.txt" in watcher.busy()
        watcher.handle(FileModifiedEvent(path))
        watcher.handle(FileAttribEvent(path))  # a chmod while written changes nothing either
    watcher.handle(FileClosedEvent(path))
    await ready.until(lambda: bool(ready.calls), "the closed file")
    assert ready.calls == [({"slow.txt"}, set())]
    assert watcher.busy() == frozenset()


async def test_a_file_being_written_does_not_hold_back_others(root: Path,
                                                              make: Callable[..., tuple[Watcher, Ready]]) -> None:
    watcher, ready = make(root)
    watcher.handle(FileModifiedEvent(p(root, "writing.txt")))
    watcher.handle(FileClosedEvent(p(root, "done.txt")))
    await ready.until(lambda: bool(ready.calls), "the closed file")
    assert ready.files == {"done.txt"}
    assert watcher.busy() == {"writing.txt"}


async def test_an_attrib_change_alone_is_reported(root: Path, make: Callable[..., tuple[Watcher, Ready]]) -> None:
    watcher, ready = make(root)
    watcher.handle(FileAttribEvent(p(root, "chmodded.txt")))
    await ready.until(lambda: bool(ready.calls), "the chmodded file")
    assert ready.calls == [({"chmodded.txt"}, set())]


async def test_a_deleted_file_is_reported_even_mid_write(root: Path,
                                                         make: Callable[..., tuple[Watcher, Ready]]) -> None:
    watcher, ready = make(root)
    path = p(root, "gone.txt")
    watcher.handle(FileModifiedEvent(path))
    watcher.handle(FileDeletedEvent(path))
    await ready.until(lambda: bool(ready.calls), "the deleted file")
    assert ready.calls == [({"gone.txt"}, set())]
    await quiet(watcher)


async def test_a_move_reports_both_ends(root: Path, make: Callable[..., tuple[Watcher, Ready]]) -> None:
    watcher, ready = make(root)
    tmp, final = p(root, "sub/.final.txt.tmp"), p(root, "sub/final.txt")
    watcher.handle(FileCreatedEvent(tmp))
    watcher.handle(FileModifiedEvent(tmp))  # rsync writes the temporary file, then renames it
    watcher.handle(FileMovedEvent(tmp, final))
    await ready.until(lambda: ready.files == {"sub/.final.txt.tmp", "sub/final.txt"}, "both ends of the move")
    assert ready.folders == set()
    await quiet(watcher)
    assert ready.files == {"sub/.final.txt.tmp", "sub/final.txt"}


async def test_a_move_onto_a_file_being_written_reports_it(root: Path,
                                                           make: Callable[..., tuple[Watcher, Ready]]) -> None:
    watcher, ready = make(root)
    watcher.handle(FileModifiedEvent(p(root, "b.txt")))
    watcher.handle(FileMovedEvent(p(root, "a.txt"), p(root, "b.txt")))
    await ready.until(lambda: ready.files == {"a.txt", "b.txt"}, "both ends of the move")
    await quiet(watcher)


@pytest.mark.parametrize("event", [
    lambda root: DirCreatedEvent(p(root, "sub")),
    lambda root: DirDeletedEvent(p(root, "sub")),
    lambda root: DirCreatedEvent(p(root, "sub") + "/"),
], ids=["created", "deleted", "trailing-slash"])
async def test_a_folder_event_goes_into_the_folders_argument(
        root: Path, make: Callable[..., tuple[Watcher, Ready]],
        event: Callable[[Path], FileSystemEvent]) -> None:
    watcher, ready = make(root)
    watcher.handle(event(root))
    await ready.until(lambda: bool(ready.calls), "the folder")
    assert ready.calls == [(set(), {"sub"})]
    assert watcher.busy() == frozenset()


async def test_a_moved_folder_reports_both_ends_as_folders(root: Path,
                                                           make: Callable[..., tuple[Watcher, Ready]]) -> None:
    watcher, ready = make(root)
    watcher.handle(DirMovedEvent(p(root, "a/old"), p(root, "b/new")))
    await ready.until(lambda: bool(ready.calls), "the moved folder")
    assert ready.calls == [(set(), {"a/old", "b/new"})]


async def test_a_folder_modified_event_is_not_a_change(root: Path,
                                                       make: Callable[..., tuple[Watcher, Ready]]) -> None:
    watcher, ready = make(root)
    watcher.handle(DirModifiedEvent(p(root, "sub")))
    watcher.handle(DirCreatedEvent(p(root, "later")))  # reported after anything scheduled before it
    await ready.until(lambda: bool(ready.calls), "the created folder")
    assert ready.folders == {"later"} and ready.files == set()


async def test_events_outside_the_root_are_ignored(root: Path, tmp_path: Path,
                                                   make: Callable[..., tuple[Watcher, Ready]]) -> None:
    watcher, ready = make(root)
    sibling = tmp_path / "seeds-other"  # shares the root's name as a prefix
    outside = [
        FileClosedEvent(str(sibling / "a.txt")),
        FileCreatedEvent(str(tmp_path / "b.txt")),
        FileDeletedEvent("/etc/passwd"),
        FileMovedEvent(str(tmp_path / "x.txt"), str(sibling / "y.txt")),
        DirCreatedEvent(str(sibling)),
        DirModifiedEvent(str(root)),  # the root itself
        DirCreatedEvent(str(root)),
        FileClosedEvent(str(root / ".." / "c.txt")),
    ]
    for event in outside:
        watcher.handle(event)
    assert watcher.busy() == frozenset()
    # Scheduled last with the longest delay: once it is reported, anything accepted above would have been.
    watcher.handle(FileCreatedEvent(p(root, "inside.txt")))
    await ready.until(lambda: bool(ready.calls), "the file inside")
    assert ready.files == {"inside.txt"}
    assert ready.folders == set()


async def test_on_event_sees_every_event_kind(root: Path, make: Callable[..., tuple[Watcher, Ready]]) -> None:
    kinds: list[str] = []
    watcher, _ = make(root, on_event=kinds.append)
    path = p(root, "a.txt")
    for event in (FileCreatedEvent(path), FileModifiedEvent(path), FileClosedEvent(path),
                  FileMovedEvent(path, p(root, "b.txt")), FileDeletedEvent("/elsewhere/c.txt")):
        watcher.handle(event)
    assert kinds == ["created", "modified", "closed", "moved", "deleted"]


async def test_stop_cancels_what_is_pending(root: Path, make: Callable[..., tuple[Watcher, Ready]]) -> None:
    watcher, ready = make(root)
    watcher.handle(FileCreatedEvent(p(root, "a.txt")))
    watcher.handle(FileModifiedEvent(p(root, "b.txt")))
    watcher.handle(FileClosedEvent(p(root, "c.txt")))
    assert watcher.busy() == {"a.txt", "b.txt", "c.txt"}
    watcher.stop()
    assert watcher.busy() == frozenset()
    await asyncio.sleep(SETTLE + 3 * DEBOUNCE)
    assert ready.calls == []


async def test_events_from_the_observer_thread_reach_the_loop(root: Path,
                                                              make: Callable[..., tuple[Watcher, Ready]]) -> None:
    watcher, ready = make(root)
    batcher = _Batcher(watcher)

    def observer_thread() -> None:
        for name in ("a.txt", "b.txt"):
            batcher.deliver(FileClosedEvent(p(root, name)))

    thread = threading.Thread(target=observer_thread)
    thread.start()
    thread.join()
    await ready.until(lambda: ready.files == {"a.txt", "b.txt"}, "events handed over from a thread")


# -- polling mode -----------------------------------------------------------------------------


async def test_polling_reports_a_stable_file(root: Path, make: Callable[..., tuple[Watcher, Ready]]) -> None:
    watcher, ready = make(root, mode="polling")
    (root / "a.txt").write_text("complete")
    watcher.handle(FileCreatedEvent(p(root, "a.txt")))
    assert watcher.busy() == {"a.txt"}
    await ready.until(lambda: bool(ready.calls), "the stable file")
    assert ready.calls == [({"a.txt"}, set())]
    assert watcher.busy() == frozenset()


@pytest.mark.parametrize("kind", ["created", "modified"])
async def test_polling_waits_while_size_or_mtime_move_between_polls(
        root: Path, make: Callable[..., tuple[Watcher, Ready]], kind: str) -> None:
    watcher, ready = make(root, mode="polling")
    path = root / "growing.txt"
    path.write_text("start")
    watcher.handle(FileCreatedEvent(str(path)) if kind == "created" else FileModifiedEvent(str(path)))
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        for _ in range(30):  # ~0.3 s, appending several times within every poll interval
            os.write(fd, b"x")
            await asyncio.sleep(0.01)
            assert ready.calls == [], "reported while it still grows"
            assert "growing.txt" in watcher.busy()
    finally:
        os.close(fd)
    await ready.until(lambda: bool(ready.calls), "the file once it stopped growing")
    assert ready.calls == [({"growing.txt"}, set())]
    assert path.stat().st_size == len("start") + 30


async def test_polling_reports_a_file_that_vanished(root: Path, make: Callable[..., tuple[Watcher, Ready]]) -> None:
    watcher, ready = make(root, mode="polling")
    watcher.handle(FileDeletedEvent(p(root, "gone.txt")))
    await ready.until(lambda: bool(ready.calls), "the deleted file")
    assert ready.calls == [({"gone.txt"}, set())]


# -- what the watcher saw, against what a scan found ----------------------------------------------

async def test_missed_is_what_had_no_event_since_then(root: Path, make: Callable[..., tuple[Watcher, Ready]]) -> None:
    watcher, _ = make(root)
    before = time.monotonic()
    watcher.handle(FileClosedEvent(p(root, "seen.txt")))
    watcher.handle(DirCreatedEvent(p(root, "moved-in")))
    after = time.monotonic()
    changed = ["seen.txt", "moved-in/inside.txt", "moved-in/deeper/inside.txt", "unseen.txt", "sub/unseen.txt"]
    assert watcher.missed(changed, before) == ["unseen.txt", "sub/unseen.txt"]
    # An event before the window is no report of a change inside it.
    assert watcher.missed(["seen.txt", "moved-in/inside.txt"], after + 1) == ["seen.txt", "moved-in/inside.txt"]
    watcher.forget_seen(after + 1)
    assert watcher.missed(["seen.txt"], before) == ["seen.txt"]


# -- a watchdog thread that dies -------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["inotify", "polling"])
async def test_a_dead_watchdog_thread_is_noticed(seeds: Path, mode: str) -> None:
    """Any thread of the observer that dies is seen: its emitter here, through threading.excepthook."""
    calls: list[set[str]] = []
    watcher = Watcher(seeds, mode=mode, debounce=0.01, poll_interval=0.05,  # type: ignore[arg-type]
                      on_ready=lambda files, folders: calls.append(files))
    watcher.start()
    try:
        assert watcher.alive and watcher.effective == mode
        assert len(watcher.threads) >= 2, watcher.threads  # the observer's own and its emitter's at least
        # The seeds folder's emitter (another watches the pings' folder).
        emitter = next(t for t in watcher.threads
                       if hasattr(t, "queue_events") and str(getattr(t, "watch", None) and t.watch.path) == str(seeds))

        def broken(*args: Any) -> None:
            raise RuntimeError("simulated failure")
        emitter.queue_events = broken  # type: ignore[attr-defined]  # after the wait under way returns
        write(seeds, "wake.txt", "x")
        await poll_until_async(lambda: not watcher.alive, "the dead thread to be noticed", timeout=5)
        assert not watcher.alive
        assert watcher.death is not None and "simulated failure" in watcher.death, watcher.death
    finally:
        watcher.stop()
