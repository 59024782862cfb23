"""Live watching is never lost silently: each way of losing it, against a real `feedsvc serve`.

Every server here keeps the default 60 s rescan, so a change that shows up within seconds was seen
by the watcher, by a rescan the service started because it knew watching had failed, or by the
fallback rescans it runs while it says so on /healthz. Each case failed before the fix: /healthz
said `ok` with the watcher "alive" while the change waited for the 60 s rescan (or, for a folder
chain 1,200 deep present at start, the service never became ready).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import make_doc, poll_until, write
from helpers.servers import documents, health, healthy, served

# Faster than the 60 s rescan by far, slower than any live change on a loaded CI machine.
LIVE = 8.0


# -- helpers ---------------------------------------------------------------------------------------

def wait(check: Callable[[], bool], what: str, timeout: float = LIVE) -> float:
    """poll_until with LIVE as the patience; how long it took."""
    return poll_until(check, what, timeout, interval=0.05)


def failing_with(server: Any, *words: str) -> Callable[[], bool]:
    return reporting(server, 503, "failing", *words)


def degraded_with(server: Any, *words: str) -> Callable[[], bool]:
    """Folders not watched live: the feeds still follow, by rescans, so serving is degraded, not failing."""
    return reporting(server, 200, "degraded", *words)


def reporting(server: Any, code: int, state: str, *words: str) -> Callable[[], bool]:
    def check() -> bool:
        status, body = health(server)
        return (status == code and body["status"] == state
                and any(all(w in p for w in words) for p in body["problems"]))
    return check


def chain(top: Path, depth: int) -> Path:
    """A folder chain `depth` deep (os.makedirs is recursive and fails at this depth)."""
    path = top
    for _ in range(depth):
        path = path / "d"
        path.mkdir()
    return path


def remove_tree(path: Path) -> None:
    """rm -rf: shutil.rmtree, recursive, cannot remove a 1,200-deep chain (nor can pytest's cleanup)."""
    subprocess.run(["rm", "-rf", "--", str(path)], check=True)


# -- (a) the seeds folder replaced -----------------------------------------------------------------

def test_seeds_folder_replaced_is_watched_anew(seeds: Path, state: Path, tmp_path: Path,
                                              server_factory: Any) -> None:
    write(seeds, "a.txt", make_doc(1))
    server = server_factory(seeds, state)
    assert served(server) == {"a"}

    # Swapped in a few microseconds (a deploy's rename), so no check sees the folder missing.
    fresh = tmp_path / "seeds.new"
    write(fresh, "b.txt", make_doc(2))
    seeds.rename(tmp_path / "seeds.old")
    fresh.rename(seeds)
    took = wait(lambda: served(server) == {"b"}, "the replacement folder's contents")
    print(f"replaced folder picked up in {took:.2f} s")

    write(tmp_path / "seeds.old", "old.txt", make_doc(3))  # the old folder is no longer ours
    write(seeds, "c.txt", make_doc(4))  # and the new one is watched live
    wait(lambda: served(server) == {"b", "c"}, "a file written into the new folder")
    assert healthy(server), health(server)
    assert "was replaced" in server.log.read_text()


def test_symlinked_seeds_path_is_watched_live(tmp_path: Path, state: Path, server_factory: Any) -> None:
    real = tmp_path / "releases" / "digests"
    write(real, "a.txt", make_doc(1))
    link = tmp_path / "seeds-link"
    link.symlink_to(real, target_is_directory=True)
    server = server_factory(link, state)
    assert served(server) == {"a"}
    write(real, "b.txt", make_doc(2))
    write(link, "c.txt", make_doc(3))
    wait(lambda: served(server) == {"a", "b", "c"}, "files written through either path")
    assert healthy(server), health(server)


# -- (b) a folder chain 1,200 deep -----------------------------------------------------------------

@pytest.mark.parametrize("mode, when", [("inotify", "at start"), ("inotify", "while running"),
                                        ("polling", "while running")])
def test_folder_chain_1200_deep(seeds: Path, state: Path, server_factory: Any, mode: str, when: str) -> None:
    extra = ("--watch", mode, "--poll-interval", "0.2")
    # watchdog 7.1.1 (used through its public API only) walks the whole subtree below every folder it
    # is told was created, and looks each folder up from the root: a chain made folder by folder while
    # it runs keeps its thread busy for minutes, every later event waiting behind. The service must
    # notice (its folders stay unwatched, its pings go unanswered), say so, and poll meanwhile.
    behind = (mode, when) == ("inotify", "while running")
    try:
        if when == "at start":
            write(chain(seeds, 1200), "bottom.txt", make_doc(1))
            server = server_factory(seeds, state, *extra)  # before: never ready (the watcher start raised)
            assert documents(server) == 1
        else:
            server = server_factory(seeds, state, *extra)
            write(chain(seeds, 1200), "bottom.txt", make_doc(1))
            wait(lambda: documents(server) == 1, "the file at the bottom of the chain")
        # Before: watchdog's thread died with RecursionError; nothing else was seen for 60 s.
        write(seeds, "top.txt", make_doc(2))
        write(seeds / ("d/" * 600), "middle.txt", make_doc(3))
        wait(lambda: documents(server) == 3, "files at the top and in the middle of the tree")
        if behind and not healthy(server):
            _, body = health(server)
            assert body["status"] == "degraded" and any("polling" in p for p in body["problems"]), body
            # Tried again after 30 s: a fresh inotify watch takes the chain in one walk, and says so.
            wait(lambda: healthy(server), "inotify watching again", timeout=45)
            assert "live watching recovered" in server.log.read_text()
            write(seeds, "top2.txt", make_doc(4))
            wait(lambda: documents(server) == 4, "a file after the recovery")
        assert healthy(server), health(server)
        assert "Traceback" not in server.log.read_text(errors="replace")
    finally:  # the server goes with the fixture; the chain cannot go with pytest's cleanup
        remove_tree(seeds / "d")


# -- (c) the inotify watch limit -------------------------------------------------------------------

def _watches_in_use() -> int:
    """inotify watches held by every process now (what fs.inotify.max_user_watches counts, per user)."""
    total = 0
    for fdinfo in Path("/proc").glob("[0-9]*/fdinfo/*"):
        with contextlib.suppress(OSError):
            total += fdinfo.read_text().count("inotify wd:")
    return total


@contextlib.contextmanager
def watch_limit(allowed: int) -> Iterator[list[str]]:
    """A command prefix under which a process may add at most `allowed` inotify watches.

    Preferably a user namespace of its own, whose limit (/proc/sys/user/max_inotify_watches, Linux
    5.11+) binds only the processes inside it; else the system-wide sysctl, lowered for the test
    (root only) and restored after; else skip.
    """
    unshare = shutil.which("unshare")
    if unshare:
        script = 'echo "$0" > /proc/sys/user/max_inotify_watches && exec "$@"'
        probe = subprocess.run([unshare, "--user", "--map-root-user", "sh", "-c", script, str(allowed), "true"],
                               capture_output=True)
        if probe.returncode == 0:
            yield [unshare, "--user", "--map-root-user", "sh", "-c", script, str(allowed)]
            return
    sysctl = Path("/proc/sys/fs/inotify/max_user_watches")
    if os.geteuid() != 0 or not os.access(sysctl, os.W_OK):
        pytest.skip("cannot lower the inotify watch limit: no user namespace (unshare --user) and "
                    "/proc/sys/fs/inotify/max_user_watches is not writable")
    before = sysctl.read_text()
    # Every process of this user shares the limit: leave room for the others' watches.
    sysctl.write_text(str(_watches_in_use() + allowed))
    try:
        yield []
    finally:
        sysctl.write_text(before)


def test_watch_limit_reached_is_reported_and_rescanned(seeds: Path, state: Path,
                                                       wrapped_factory: Any) -> None:
    for n in range(60):
        write(seeds, f"sub{n:02d}/a.txt", make_doc(n))
    with watch_limit(40) as prefix:  # 61 folders to watch, the root included
        server = wrapped_factory(prefix, seeds, state)
        wait(degraded_with(server, "not watched live", "inotify watch limit"), "/healthz to report the limit")
        _, body = health(server)
        assert body["watcher"] == "alive" and body["documents"] == 60, body
        print("reported:", body["problems"])

        # Whatever folders the watches missed, new files in all of them come in by the fallback rescans.
        for n in range(60):
            write(seeds, f"sub{n:02d}/b.txt", make_doc(100 + n))
        took = wait(lambda: documents(server) == 120, "files in unwatched folders")
        print(f"files in unwatched folders in {took:.2f} s")

        for n in range(30):  # removing folders frees watches: all the rest can be watched
            shutil.rmtree(seeds / f"sub{n:02d}")
        took = wait(lambda: healthy(server), "/healthz to recover once every folder is watched", timeout=15)
        print(f"healthy again {took:.2f} s after the removal")
        assert documents(server) == 60
        write(seeds, "sub59/c.txt", make_doc(999))
        wait(lambda: documents(server) == 61, "a file in a folder watched again")


# -- (d) the kernel's event queue overflowing --------------------------------------------------------

def _read_int(path: str) -> int:
    return int(Path(path).read_text().strip())


def test_event_queue_overflow_while_stopped_rescans_at_once(seeds: Path, state: Path,
                                                            server_factory: Any) -> None:
    queue = _read_int("/proc/sys/fs/inotify/max_queued_events")
    # Three events a file (create, modify, close): this many overflow the queue, whatever its size
    # (16,384 by default: ~7,000 files).
    files = max(7000, queue // 3 + 1500)
    if files > 40000:
        pytest.skip(f"fs.inotify.max_queued_events is {queue}: overflowing it takes too many files here")
    server = server_factory(seeds, state)
    os.kill(server.proc.pid, signal.SIGSTOP)
    try:
        for n in range(files):
            write(seeds, f"q{n:05d}.txt", make_doc(n))
    finally:
        os.kill(server.proc.pid, signal.SIGCONT)
    took = wait(lambda: documents(server) == files, f"all {files} files", timeout=30)
    print(f"{files} files written while stopped, all in {took:.2f} s after SIGCONT")
    log = server.log.read_text()
    assert "inotify event queue overflowed" in log, log[-2000:]
    metrics = server.get("/metrics")[2]
    overflows = re.search(rb'^feedsvc_watch_events_total\{type="overflow"\} (\S+)$', metrics, re.M)
    assert overflows and float(overflows.group(1)) >= 1, "the overflow is counted"
    wait(lambda: healthy(server), "/healthz once the rescan is through")
