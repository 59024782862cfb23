"""Faults against real `feedsvc serve` processes: SIGKILL mid-burst, damaged index, a vanished or
unreadable seeds folder, a full disk (RLIMIT_FSIZE via prlimit: writes fail with EFBIG, root
included) and a read-only state folder (chattr +i, which binds root too, or chmod for non-root)."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import SEED, make_doc, poll_until, write
from helpers.feeds import FEEDS, doc_id, parse
from helpers.servers import Server, free_port, health

# Faults take a while to show (a stopped folder, a restart): twice the usual patience.
wait = functools.partial(poll_until, timeout=20.0)


def published(server: Any, lang: str = "") -> dict[str, str]:
    """id -> date_published over every page of a JSON feed; asserts no id appears twice."""
    prefix = f"/{lang}" if lang else ""
    status, _, body = server.get(f"{prefix}/feed.json?limit=500")
    assert status == 200, body[:300]
    items = json.loads(body)["items"]
    found = [doc_id(item["id"]) for item in items]
    assert len(found) == len(set(found)), "an entry is duplicated"
    return {doc_id(item["id"]): item["date_published"] for item in items}


def all_feed_ids(server: Any) -> dict[str, list[str]]:
    out = {}
    for path in FEEDS:
        status, _, body = server.get(path + "?limit=500")
        assert status == 200, path
        if path.endswith(".json"):
            out[path] = sorted(doc_id(i["id"]) for i in json.loads(body)["items"])
        else:
            out[path] = sorted(doc_id(e.id) for e in parse(body).entries)
    return out


# -- SIGKILL in the middle of a burst ------------------------------------------------------------

def test_sigkill_mid_burst_loses_and_duplicates_nothing(seeds: Path, state: Path, tmp_path: Path,
                                                        server_factory: Any) -> None:
    shutil.copy(SEED, seeds)
    first = server_factory(seeds, state)
    total = 240

    edited: set[str] = set()

    def text(n: int, title: str | None = None) -> str:
        if n % 3 == 0:  # undated: the same rules as for a dated one (published is the first sight)
            return make_doc(n, en=title).replace("Reuters.- 13.09.2023", "Reuters")
        return make_doc(n, en=title, date=f"{1 + n % 28:02d}.{1 + n % 12:02d}.2024")

    def burst(start: int, stop: int, pause: float = 0.0) -> None:
        for n in range(start, stop):
            time.sleep(pause)
            write(seeds, f"k{n:03d}.txt", text(n))
            old = n - 10
            if n % 10 == 5 and old >= 0:  # edits meanwhile
                write(seeds, f"k{old:03d}.txt", text(old, f"Edited {old} article title about the war"))
                edited.add(f"k{old:03d}")

    burst(0, total // 2)
    before = published(first)  # what it had served before the kill
    writer = threading.Thread(target=burst, args=(total // 2, total, 0.005))  # ~0.6 s of writes
    writer.start()
    time.sleep(0.25)
    assert writer.is_alive(), "the burst ended before the kill"
    first.stop(signal.SIGKILL)  # mid-burst, mid-transaction perhaps
    writer.join()

    second = server_factory(seeds, state)
    wait(lambda: len(published(second)) == total + 1, "every document after the restart")
    after = published(second)
    for doc, date in before.items():
        assert after[doc] == date, f"{doc}: published date changed across the kill ({date} -> {after[doc]})"

    reference = server_factory(seeds, tmp_path / "reference-state")  # a clean run over the final folder
    wait(lambda: len(published(reference)) == total + 1, "the reference run")
    # A clean run dates each file by its mtime; an edited file's first version, which the restarted
    # service published first, is gone from the folder, so only the others can agree to the instant.
    clean = published(reference)
    assert clean.keys() == after.keys()
    for doc in clean:
        if doc in edited:
            assert dt.datetime.fromisoformat(clean[doc]) >= dt.datetime.fromisoformat(after[doc]), doc
        else:
            assert clean[doc] == after[doc], f"{doc}: a restart and a clean run disagree"
    assert all_feed_ids(reference) == all_feed_ids(second)
    assert "Traceback" not in second.log.read_text(errors="replace")


# -- the index damaged while stopped -------------------------------------------------------------

@pytest.mark.parametrize("damage", ["deleted", "truncated", "garbage", "wal-garbage", "empty"])
def test_damaged_index_rebuilt_by_a_real_process(seeds: Path, state: Path, server_factory: Any, damage: str) -> None:
    shutil.copy(SEED, seeds)
    for n in range(20):
        write(seeds, f"d{n}.txt", make_doc(n, date=f"{1 + n}.10.2024"))
    first = server_factory(seeds, state)
    wait(lambda: len(published(first)) == 21, "documents")
    feeds_before = all_feed_ids(first)
    dates_before = published(first)
    assert first.stop() == 0
    index = state / "index.sqlite3"
    if damage == "deleted":
        for f in state.glob("index.sqlite3*"):
            f.unlink()
    elif damage == "truncated":
        data = index.read_bytes()
        index.write_bytes(data[: len(data) // 3])
    elif damage == "garbage":
        index.write_bytes(os.urandom(len(index.read_bytes()) or 8192))
    elif damage == "wal-garbage":
        (state / "index.sqlite3-wal").write_bytes(os.urandom(32 * 1024))
    else:
        index.write_bytes(b"")
    second = server_factory(seeds, state)
    wait(lambda: len(published(second)) == 21, "rebuilt index")
    assert all_feed_ids(second) == feeds_before
    assert published(second) == dates_before
    status, body = health(second)
    assert status == 200, body


# -- the seeds folder gone or unreadable for a while ---------------------------------------------

def _served_while_failing(server: Any, expected: set[str], reason_word: str) -> None:
    def failing() -> bool:
        status, body = health(server)
        return status == 503 and any(reason_word in p for p in body["problems"]) and body["status"] == "failing"
    wait(failing, f"/healthz 503 mentioning {reason_word!r}")
    time.sleep(1.2)  # a supervisor round and a rescan while it is gone
    for path in FEEDS:
        status = server.get(path)[0]
        assert status == 200, path
    assert set(published(server)) == expected, "the last good feeds stay served"


@pytest.mark.parametrize("how", ["renamed", "removed", "replaced-by-file", "chmod-000"])
def test_seeds_folder_unavailable_then_back(seeds: Path, state: Path, tmp_path: Path, server_factory: Any,
                                           how: str) -> None:
    shutil.copy(SEED, seeds)
    write(seeds, "a.txt", make_doc(1))
    extra: tuple[str, ...] = ("--rescan-interval", "0.5")
    if how == "chmod-000":
        from helpers import unprivileged  # root ignores mode bits: drop CAP_DAC_OVERRIDE
        server = _start_wrapped(unprivileged, seeds, state, extra)
    else:
        server = server_factory(seeds, state, *extra)
    expected = {"000_1376dc493dc06474", "a"}
    wait(lambda: set(published(server)) == expected, "documents")
    aside = tmp_path / "aside"
    try:
        if how == "renamed":
            seeds.rename(aside)
        elif how == "removed":
            shutil.copytree(seeds, aside)
            shutil.rmtree(seeds)
        elif how == "replaced-by-file":
            seeds.rename(aside)
            seeds.write_text("not a folder")
        else:
            os.chmod(seeds, 0)
        _served_while_failing(server, expected, "seeds folder")
    finally:
        if how == "chmod-000":
            os.chmod(seeds, 0o755)
        else:
            if seeds.is_file():
                seeds.unlink()
            if aside.exists():
                aside.rename(seeds)
    write(seeds, "b.txt", make_doc(2))  # and it is watched again
    wait(lambda: health(server)[0] == 200, "recovery by itself")
    wait(lambda: set(published(server)) == expected | {"b"}, "the new document after recovery")
    _status, body = health(server)
    assert body["problems"] == [] and body["status"] == "ok", body
    _stop(server)


def _start_wrapped(wrap: Callable[[list[str]], list[str]], seeds: Path, state: Path, extra: tuple[str, ...]) -> Any:
    server = Server.__new__(Server)
    server.port = free_port()
    server.url = f"http://127.0.0.1:{server.port}"
    server.log = state.parent / f"server-{server.port}.log"
    server._log_file = open(server.log, "wb")
    cmd = wrap([sys.executable, "-m", "feedsvc", "serve", "--seeds", str(seeds), "--state-dir", str(state),
                "--host", "127.0.0.1", "--port", str(server.port), *extra])
    server.proc = subprocess.Popen(cmd, stdout=server._log_file, stderr=subprocess.STDOUT)
    try:
        server.wait_ready()
    except BaseException:
        _stop(server)
        raise
    return server


def _stop(server: Any) -> None:
    server.stop(signal.SIGTERM)


# -- a full disk and a read-only state folder -------------------------------------------------

def test_disk_full_keeps_serving_and_says_so(seeds: Path, state: Path, server_factory: Any) -> None:
    """RLIMIT_FSIZE=1 on the running server: every write past byte 1 fails with EFBIG, as on a full disk."""
    shutil.copy(SEED, seeds)
    server = server_factory(seeds, state)
    wait(lambda: len(published(server)) == 1, "seed")
    try:
        resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE, (1, 1))
    except (OSError, AttributeError) as exc:
        pytest.skip(f"cannot set RLIMIT_FSIZE on the server: {exc}")
    for n in range(60):
        write(seeds, f"full{n:02d}.txt", make_doc(n))
    wait(lambda: len(published(server)) == 61, "new documents served from memory")

    def says_so() -> bool:
        status, body = health(server)
        return status == 200 and body["status"] == "degraded" and any("index" in p for p in body["problems"])
    wait(says_so, "/healthz to report the index problem")
    for path in FEEDS:
        assert server.get(path)[0] == 200
    (seeds / "full00.txt").unlink()
    wait(lambda: len(published(server)) == 60, "a deletion still followed")


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[str]:
    """Make `folder` and its files read-only for this process's children, root included."""
    files = [folder, *folder.iterdir()]
    if os.geteuid() == 0:
        chattr = shutil.which("chattr")
        if chattr is None or subprocess.run([chattr, "+i", *map(str, files)], capture_output=True).returncode:
            subprocess.run([chattr or "chattr", "-i", *map(str, files)], capture_output=True)
            pytest.skip("root ignores chmod and chattr +i is not supported on this filesystem")
        try:
            yield "chattr +i"
        finally:
            subprocess.run([chattr, "-i", *map(str, [folder, *folder.iterdir()])], capture_output=True)
    else:
        modes = {f: f.stat().st_mode for f in files}
        for f in files:
            os.chmod(f, 0o555 if f.is_dir() else 0o444)
        try:
            yield "chmod"
        finally:
            for f, mode in modes.items():
                os.chmod(f, mode)


def test_state_folder_turns_read_only_while_running(seeds: Path, state: Path, server_factory: Any) -> None:
    shutil.copy(SEED, seeds)
    server = server_factory(seeds, state)
    wait(lambda: len(published(server)) == 1, "seed")
    with read_only(state):
        write(seeds, "new.txt", make_doc(1))
        time.sleep(0.5)
        assert server.proc.poll() is None, f"server died: exit {server.proc.returncode}, log: {server.log.read_text()[-800:]}"
        wait(lambda: len(published(server)) == 2, "a new document despite the read-only index")

        def says_so() -> bool:
            status, body = health(server)
            return status == 200 and body["status"] == "degraded" and any("index" in p for p in body["problems"])
        wait(says_so, "/healthz to report the read-only index")
        server.stop()
    assert "Traceback" not in server.log.read_text(errors="replace")


def test_start_with_read_only_state_folder(seeds: Path, state: Path, server_factory: Any) -> None:
    """At start an unwritable state folder is a configuration error: one line, exit code 2.
    (Once running, the same fault keeps the service serving from memory: the test above.)"""
    shutil.copy(SEED, seeds)
    first = server_factory(seeds, state)
    wait(lambda: len(published(first)) == 1, "seed")
    first.stop()
    with read_only(state):
        server = server_factory(seeds, state, ready=False)
        assert server.proc.wait(timeout=20) == 2
        lines = server.log.read_text().strip().splitlines()
        assert lines[-1].startswith("feedsvc: state folder") and "is not writable" in lines[-1], lines


def _ready(server: Any) -> bool:
    try:
        return health(server)[0] == 200
    except OSError:
        return False
