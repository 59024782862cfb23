"""The feeds follow the seeds folder live: real files written into a watched folder, feeds polled."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from helpers import SEED, make_doc, poll_until_async, write
from helpers.feeds import FEEDS, fetch, ids, metric, metrics, parse, served_ids

SEED_ID = "000_1376dc493dc06474"


async def wait_ids(client: Any, expected: set[str], path: str = "/feed.atom", timeout: float = 10.0) -> None:
    async def check() -> bool:
        return await served_ids(client, path) == expected
    await poll_until_async(check, timeout=timeout, what=f"{path} to hold {sorted(expected)[:5]}...")


async def ingests(client: Any) -> float:
    return metric(await metrics(client), "feedsvc_ingest_seconds_count")


async def settle(client: Any) -> None:
    """Wait until the pipeline has taken in a new batch and stayed idle for a moment."""
    before = await ingests(client)
    await poll_until_async(lambda: _more(client, before), what="an ingest")
    await asyncio.sleep(0.3)


async def _more(client: Any, before: float) -> bool:
    return await ingests(client) > before


async def test_create_edit_delete(seeds: Path, state: Path, start_app: Any) -> None:
    shutil.copy(SEED, seeds)
    client = await start_app(seeds, state)
    assert await served_ids(client) == {SEED_ID}

    write(seeds, "a.txt", make_doc(1))
    await wait_ids(client, {SEED_ID, "a"})
    first = {e.id: e for e in parse((await fetch(client))[2]).entries}

    write(seeds, "a.txt", make_doc(1, en="An edited English title"))

    async def edited() -> bool:
        entries = {e.id: e for e in parse((await fetch(client))[2]).entries}
        return any("An edited English title" in (e.get("content") or [{}])[0].get("value", "")
                   for e in entries.values())
    await poll_until_async(edited, what="the edit")
    second = {e.id: e for e in parse((await fetch(client))[2]).entries}
    assert set(second) == set(first), "an edit keeps the entry id"
    a_id = next(i for i in second if i.endswith(":a"))
    assert second[a_id].updated != first[a_id].updated, "updated moves on a content change"
    assert second[a_id].published == first[a_id].published, "published never moves"

    (seeds / "a.txt").unlink()
    await wait_ids(client, {SEED_ID})
    # Each feed goes out as soon as it is rendered, one after another: every one of them drops it.
    for path in FEEDS:
        async def gone(path: str = path) -> bool:
            return "a" not in ids((await fetch(client, path))[2])
        await poll_until_async(gone, what=f"{path} to drop the deleted file")


async def test_touch_and_identical_copy_change_nothing(seeds: Path, state: Path, start_app: Any, tmp_path: Path) -> None:
    write(seeds, "a.txt", make_doc(1))
    client = await start_app(seeds, state)
    etags = {p: (await fetch(client, p))[1]["ETag"] for p in FEEDS}
    renders = metric(await metrics(client), "feedsvc_renders_total")

    (seeds / "a.txt").touch()
    await settle(client)
    # The same bytes copied over the file: a new mtime, but the same content.
    write(tmp_path, "copy.txt", make_doc(1))
    shutil.copy(tmp_path / "copy.txt", seeds / "a.txt")
    await settle(client)

    assert {p: (await fetch(client, p))[1]["ETag"] for p in FEEDS} == etags
    assert metric(await metrics(client), "feedsvc_renders_total") == renders, "no render for unchanged content"


async def test_rename_and_moves(seeds: Path, state: Path, start_app: Any, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    write(seeds, "a.txt", make_doc(1))
    client = await start_app(seeds, state)
    await wait_ids(client, {"a"})

    os.rename(seeds / "a.txt", seeds / "b.txt")  # a new name is a new document
    await wait_ids(client, {"b"})

    write(outside, "c.txt", make_doc(3))
    os.rename(outside / "c.txt", seeds / "c.txt")  # moved in whole: no close event
    await wait_ids(client, {"b", "c"})

    os.rename(seeds / "b.txt", outside / "b.txt")  # moved out
    await wait_ids(client, {"c"})

    # rsync's way: a hidden temp file beside the target, then a rename over it.
    write(seeds, ".c.txt.Xy12", make_doc(3, en="Replaced by rsync"))
    os.rename(seeds / ".c.txt.Xy12", seeds / "c.txt")

    async def replaced() -> bool:
        return b"Replaced by rsync" in (await fetch(client, "/en/feed.atom"))[2]
    await poll_until_async(replaced, what="the rsync-style replace")
    assert await served_ids(client) == {"c"}


async def test_subfolders(seeds: Path, state: Path, start_app: Any, tmp_path: Path) -> None:
    client = await start_app(seeds, state)
    bundle = tmp_path / "bundle"
    write(bundle, "x.txt", make_doc(1))
    write(bundle, "deeper/y.txt", make_doc(2))
    os.rename(bundle, seeds / "bundle")  # a folder moved in with documents already inside
    await wait_ids(client, {"bundle/x", "bundle/deeper/y"})

    (seeds / "fresh").mkdir()
    write(seeds, "fresh/z.txt", make_doc(3))
    await wait_ids(client, {"bundle/x", "bundle/deeper/y", "fresh/z"})

    shutil.rmtree(seeds / "bundle")
    await wait_ids(client, {"fresh/z"})


async def test_slow_writer_never_publishes_a_truncated_entry(seeds: Path, state: Path, start_app: Any) -> None:
    client = await start_app(seeds, state)
    text = make_doc(7, body="First paragraph of a long article. It goes on.\n\n"
                            "Final paragraph that only arrives after the pause.")
    half = len(text.encode()) // 3
    with open(seeds / "slow.txt", "wb") as f:
        f.write(text.encode()[:half])
        f.flush()
        for _ in range(15):  # 1.5 s pause mid-file
            assert "slow" not in await served_ids(client), "a half-written file was published"
            await asyncio.sleep(0.1)
        f.write(text.encode()[half:])
    await wait_ids(client, {"slow"})
    assert b"Final paragraph that only arrives after the pause." in (await fetch(client))[2]


async def test_burst_of_1000_coalesces_renders(seeds: Path, state: Path, start_app: Any) -> None:
    client = await start_app(seeds, state)
    renders_before = metric(await metrics(client), "feedsvc_renders_total")
    statuses: list[int] = []
    done = asyncio.Event()

    async def poll() -> None:
        while not done.is_set():
            statuses.append((await client.get("/feed.atom")).status)
            await asyncio.sleep(0.005)

    poller = asyncio.create_task(poll())

    def burst() -> None:
        for n in range(1000):
            write(seeds, f"burst-{n:04d}.txt", make_doc(n, date="01.10.2024"))

    await asyncio.to_thread(burst)

    async def all_in() -> bool:
        health = await (await client.get("/healthz")).json()
        return health["documents"] == 1000 and len(await served_ids(client, "/feed.json")) == 50
    await poll_until_async(all_in, timeout=60, what="1,000 documents")
    await asyncio.sleep(0.3)
    done.set()
    await poller
    renders = metric(await metrics(client), "feedsvc_renders_total") - renders_before
    print(f"1,000-file burst: {renders:.0f} renders, {len(statuses)} requests answered meanwhile")
    assert statuses and set(statuses) == {200}
    # Ten main feeds per round of renders; a handful of rounds, not one per file.
    assert renders <= 10 * 25, f"{renders} renders for 1,000 files"
    atom = parse((await fetch(client, "/feed.atom?limit=500&page=2"))[2])
    assert len(atom.entries) == 500


async def test_restart_serves_identical_bytes(seeds: Path, state: Path, start_app: Any,
                                              caplog: pytest.LogCaptureFixture) -> None:
    shutil.copy(SEED, seeds)
    for n in range(5):
        write(seeds, f"d{n}.txt", make_doc(n))
    first = await start_app(seeds, state)
    before = {p: await fetch(first, p) for p in FEEDS}
    await first.close()

    caplog.clear()
    with caplog.at_level("INFO", logger="feedsvc"):
        second = await start_app(seeds, state)
        after = {p: await fetch(second, p) for p in FEEDS}
    assert not [r for r in caplog.records if "document accepted" in r.getMessage()], "a warm start re-parses nothing"
    for p in FEEDS:
        assert after[p][1]["ETag"] == before[p][1]["ETag"], p
        assert after[p][2] == before[p][2], p
    await second.close()

    shutil.rmtree(state)  # the folder is the source of truth
    third = await start_app(seeds, state)
    assert {p: (await fetch(third, p))[1]["ETag"] for p in FEEDS} == {p: before[p][1]["ETag"] for p in FEEDS}


@pytest.mark.parametrize("damage", ["garbage", "truncate", "empty"])
async def test_corrupted_index_is_rebuilt(seeds: Path, state: Path, start_app: Any, damage: str) -> None:
    shutil.copy(SEED, seeds)
    write(seeds, "a.txt", make_doc(1))
    first = await start_app(seeds, state)
    etags = {p: (await fetch(first, p))[1]["ETag"] for p in FEEDS}
    await first.close()

    index = state / "index.sqlite3"
    for extra in state.glob("index.sqlite3-*"):
        extra.unlink()
    if damage == "garbage":
        index.write_bytes(os.urandom(64 * 1024))
    elif damage == "truncate":
        data = index.read_bytes()
        index.write_bytes(data[: len(data) // 2])
    else:
        index.write_bytes(b"")

    second = await start_app(seeds, state)
    assert {p: (await fetch(second, p))[1]["ETag"] for p in FEEDS} == etags
    await second.close()  # the running service holds the index exclusively
    with sqlite3.connect(index) as db:  # rebuilt on disk, usable again
        assert db.execute("SELECT count(*) FROM documents").fetchone()[0] == 2


async def test_polling_mode(seeds: Path, state: Path, start_app: Any) -> None:
    client = await start_app(seeds, state, watch="polling", poll_interval="0.1")
    write(seeds, "p.txt", make_doc(1))
    await wait_ids(client, {"p"})
    write(seeds, "p.txt", make_doc(1, en="Polled edit"))

    async def edited() -> bool:
        return b"Polled edit" in (await fetch(client, "/en/feed.atom"))[2]
    await poll_until_async(edited, what="the polled edit")
    (seeds / "p.txt").unlink()
    await wait_ids(client, set())


async def test_folder_deleted_and_recreated(seeds: Path, state: Path, start_app: Any) -> None:
    write(seeds, "a.txt", make_doc(1))
    client = await start_app(seeds, state)
    await wait_ids(client, {"a"})

    shutil.rmtree(seeds)

    async def failing() -> bool:
        response = await client.get("/healthz")
        problems = (await response.json())["problems"]
        return response.status == 503 and any("seeds folder" in p for p in problems)
    await poll_until_async(failing, what="/healthz to report the missing folder")
    assert await served_ids(client) == {"a"}, "the last good feeds stay served"

    seeds.mkdir()
    write(seeds, "b.txt", make_doc(2))

    async def healthy() -> bool:
        return (await client.get("/healthz")).status == 200
    await poll_until_async(healthy, what="recovery")
    await wait_ids(client, {"b"})
    write(seeds, "c.txt", make_doc(3))  # and it is watched again
    await wait_ids(client, {"b", "c"})


async def test_burst_of_rsync_renames(seeds: Path, state: Path, start_app: Any) -> None:
    """200 temp-file-then-rename writes at once (rsync's way) all land, none as a temp name."""
    client = await start_app(seeds, state)

    def burst() -> None:
        for n in range(200):
            write(seeds, f".r{n:03d}.txt.tmp", make_doc(n, date="02.10.2024"))
        for n in range(200):
            os.rename(seeds / f".r{n:03d}.txt.tmp", seeds / f"r{n:03d}.txt")

    await asyncio.to_thread(burst)

    async def all_in() -> bool:
        return (await (await client.get("/healthz")).json())["documents"] == 200
    await poll_until_async(all_in, timeout=30, what="200 renamed documents")
    assert await served_ids(client, "/feed.json?limit=500") == {f"r{n:03d}" for n in range(200)}


async def test_bulk_load_in_parser_processes_matches_one_file_at_a_time(
        seeds: Path, state: Path, start_app: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A cold start over 1,100 files (a parser process per core) publishes exactly what the same
    files give when they arrive a hundred at a time (the one steady parser process), and the bulk
    load's processes go when it is done."""
    from feedsvc.ingest import pool

    for n in range(pool.POOL_MIN + 100):
        write(seeds, f"bulk-{n:04d}.txt", make_doc(n, date=f"{1 + n % 28:02d}.10.2024"))
    write(seeds, "bulk-broken.txt", "not a digest at all")
    (seeds / "bulk-link.txt").symlink_to(seeds / "bulk-0001.txt")
    with caplog.at_level("INFO", logger="feedsvc"):
        bulk = await start_app(seeds, state)
    summary = [r.getMessage() for r in caplog.records if r.getMessage().startswith("bulk load of")]
    assert summary and "1100 added" in summary[0] and "2 rejected" in summary[0], summary
    assert not [r for r in caplog.records if "document accepted" in r.getMessage()], "one line, not 1,100"
    health = await (await bulk.get("/healthz")).json()
    assert health["documents"] == pool.POOL_MIN + 100
    assert {r["path"] for r in health["rejected"]} == {"bulk-broken.txt", "bulk-link.txt"}
    # The bulk load's processes go once it is over; the steady one stays for the changes to come.
    async def only_steady_left() -> bool:
        return len(_parser_processes()) == 1
    await poll_until_async(only_steady_left, what="the bulk load's parser processes to exit")

    # The same files, a hundred at a time, into a second service.
    other_seeds, other_state = tmp_path / "one-by-one", tmp_path / "one-by-one-state"
    other_seeds.mkdir()
    single = await start_app(other_seeds, other_state)
    names = sorted(p.name for p in seeds.iterdir())
    for start in range(0, len(names), 100):
        for name in names[start:start + 100]:
            if (seeds / name).is_symlink():
                (other_seeds / name).symlink_to(other_seeds / "bulk-0001.txt")
            else:
                shutil.copy2(seeds / name, other_seeds / name)  # keeps the mtime, which dates entries
        await asyncio.sleep(0.05)

    async def caught_up() -> bool:
        return (await (await single.get("/healthz")).json())["documents"] == pool.POOL_MIN + 100
    await poll_until_async(caught_up, timeout=60, what="the one-by-one service to catch up")
    for path in FEEDS:
        async def same(path: str = path) -> bool:
            return (await fetch(single, f"{path}?limit=500&page=2"))[2] == (await fetch(bulk, f"{path}?limit=500&page=2"))[2]
        await poll_until_async(same, what=f"{path} to match")
        assert (await fetch(single, path))[2] == (await fetch(bulk, path))[2], path


def _parser_processes() -> set[int]:
    """Live parser processes of this process's services: the children of its fork server, which
    is a child of this process."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
            except OSError:
                continue
            fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
            if not fields.get("State", "").startswith("Z"):
                parents[int(entry.name)] = int(fields.get("PPid", "0").strip())
    children = {pid for pid, parent in parents.items() if parent == os.getpid()}
    return {pid for pid, parent in parents.items() if parent in children}


async def test_without_parser_processes_the_service_parses_itself(
        seeds: Path, state: Path, start_app: Any, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """Where no parser process can start (no writable temporary folder for the fork server, say),
    documents are still published, parsed on the service's worker thread, and the log says why."""
    from feedsvc.ingest import pool

    def refuse() -> None:
        raise OSError("no writable temporary folder")
    monkeypatch.setattr(pool, "start_server", refuse)
    shutil.copy(SEED, seeds)
    with caplog.at_level("WARNING", logger="feedsvc"):
        client = await start_app(seeds, state)
        write(seeds, "later.txt", make_doc(1))
        await wait_ids(client, {SEED_ID, "later"})
    warnings = [r.getMessage() for r in caplog.records if "cannot start parser processes" in r.getMessage()]
    assert len(warnings) == 1 and "no writable temporary folder" in warnings[0], warnings
