"""Bad input: every class of broken file beside good documents, in the running app and a real
`feedsvc serve`; the feeds stay valid and complete. (The parser alone on each bad file is in
unit/documents/test_bad_documents.py; the ingest's races in unit/ingest/test_ingest_races.py.)

The small corpus is committed under tests/bad/ (see helpers.corpora.BAD_EXPECTED); big, binary, special and odd-named
files are generated at test time. Tests run as root in CI, where permission bits are ignored, so
"unreadable" is produced with a FIFO, a socket, a symlink loop and a directory named like a
document, and a real EACCES by running `feedsvc serve` as an unprivileged user (skipped only when
we are neither root nor able to make an unreadable file).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from helpers import BAD, SEED, make_doc, poll_until, poll_until_async, unprivileged, write
from helpers.corpora import BAD_EXPECTED, MIB, generated_bad
from helpers.feeds import FEEDS, fetch, ids
from helpers.servers import free_port

from feedsvc.documents.parse import parse_document

SEED_ID = "000_1376dc493dc06474"


# -- everything at once, beside good documents, in the running app ------------------------------

def _odd_names() -> dict[str, str]:
    """Good documents with awkward names: relpath -> text."""
    return {
        "name with spaces.txt": make_doc(501),
        "Юнікод назва ✓ 𝔘.txt": make_doc(502),
        "new\nline.txt": make_doc(503),
        "x.txt/inside.txt": make_doc(504),  # a folder named like a document holds a document
        "sub dir/deeper/nested.txt": make_doc(505),
        "quote'and\"amp&<lt>.txt": make_doc(506),
    }


def build_hostile_folder(seeds: Path, outside: Path) -> tuple[dict[str, set[str]], dict[str, str], set[str]]:
    """Fill `seeds` with good and bad files; returns (good ids per feed language, bad path -> reason, ignored)."""
    shutil.copy(SEED, seeds)
    good: dict[str, str] = {f"good-{n}.txt": make_doc(n) for n in range(3)}
    good.update(_odd_names())
    for rel, text in good.items():
        write(seeds, rel, text)
    bad: dict[str, str] = {}
    for name, reason in BAD_EXPECTED.items():
        shutil.copy(BAD / name, seeds / name)
        if reason is None:
            good[name] = ""
        else:
            bad[name] = reason
    for name, (data, reason) in generated_bad().items():
        (seeds / name).write_bytes(data)
        assert reason
        bad[name] = reason

    # Outside the folder: a secret and a valid document; links to them must never be followed.
    outside.mkdir(exist_ok=True)
    (outside / "secret.txt").write_text(make_doc(666, en="OUTSIDE-SECRET never to be served"))
    (outside / "docs").mkdir(exist_ok=True)
    write(outside / "docs", "linked.txt", make_doc(667, en="OUTSIDE-FOLDER never to be served"))
    os.symlink("/etc/passwd", seeds / "passwd.txt")
    os.symlink(outside / "secret.txt", seeds / "secret.txt")
    os.symlink("../" * 12 + "etc/hostname", seeds / "relative-escape.txt")
    os.symlink("loop.txt", seeds / "loop.txt")  # a loop onto itself
    os.symlink("loop-b.txt", seeds / "loop-a.txt")
    os.symlink("loop-a.txt", seeds / "loop-b.txt")
    os.symlink("good-0.txt", seeds / "inside-link.txt")  # even inside the folder: never followed
    os.symlink(outside / "docs", seeds / "linked-dir")  # a folder link: never descended
    os.symlink(seeds, seeds / "self-dir")  # a folder loop
    for name in ("passwd.txt", "secret.txt", "relative-escape.txt", "loop.txt", "loop-a.txt", "loop-b.txt",
                 "inside-link.txt"):
        bad[name] = "symbolic link"

    os.mkfifo(seeds / "fifo.txt")  # "unreadable" for root too: opening it for reading would block
    bad["fifo.txt"] = "not a regular file"
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(seeds / "socket.txt"))
        bad["socket.txt"] = "not a regular file"
    except OSError:
        pass
    finally:
        sock.close()
    (seeds / "empty-dir.txt").mkdir()  # a directory named like a document, empty

    # Not documents at all: ignored, never on /healthz.
    ignored = {".hidden.txt", "notes.md", "good-0.txt~", ".good-1.txt.swp", ".git/x.txt", "#auto#"}
    for rel in ignored:
        write(seeds, rel, make_doc(777))

    ids_by_lang: dict[str, set[str]] = {"": set(), "en": set(), "uk": set()}
    for rel in [*good, SEED.name]:
        data = (seeds / rel).read_bytes()
        doc = parse_document(data, rel, max_bytes=MIB)
        ids_by_lang[""].add(doc.id)
        for lang in doc.languages:
            ids_by_lang[lang].add(doc.id)
    return ids_by_lang, bad, ignored


def _expected_for(path: str, ids_by_lang: dict[str, set[str]]) -> set[str]:
    return ids_by_lang[path.split("/")[1] if path.count("/") == 2 else ""]


async def test_everything_at_once(seeds: Path, state: Path, tmp_path: Path, start_app: Any,
                                  caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="feedsvc")
    ids_by_lang, bad, ignored = build_hostile_folder(seeds, tmp_path / "outside")
    client = await start_app(seeds, state, rescan_interval="0.3")

    async def all_in() -> bool:
        health = await (await client.get("/healthz")).json()
        return health["documents"] == len(ids_by_lang[""]) and len(health["rejected"]) >= len(bad)
    await poll_until_async(all_in, timeout=20, what="every file classified")

    status, _, body = await fetch(client, "/healthz")
    health = json.loads(body)
    assert status == 200 and health["status"] in ("ok", "degraded"), health
    rejected = {r["path"]: r["reason"] for r in health["rejected"]}
    for path, reason in bad.items():
        assert path in rejected, f"{path!r} missing from /healthz rejected"
        assert reason in rejected[path], (path, rejected[path])
    assert set(rejected) == set(bad), f"unexpected rejections: {set(rejected) - set(bad)}"
    assert not {p for p in rejected if p in ignored or p.startswith(".")}, "ignored files are not rejections"

    for path in FEEDS:
        status, _, body = await fetch(client, path)
        assert status == 200, path
        assert ids(body) == _expected_for(path, ids_by_lang), path  # ids() asserts bozo == 0
        assert b"OUTSIDE-" not in body and b"root:x:0:0" not in body, f"{path} served a file outside the folder"
        assert b"\x00" not in body, path
    # Every bad file, once: trigger a few rescans and count the log lines.
    before = await _ingests(client)
    await poll_until_async(lambda: _more(client, before + 3), timeout=15, what="three rescans")
    status, _, home = await fetch(client, "/")
    assert status == 200 and b"OUTSIDE-" not in home
    for path in bad:
        said = [r for r in caplog.records if r.getMessage().startswith(f"document rejected: {path}: ")]
        assert len(said) == 1, f"{path!r} logged {len(said)} times over several rescans"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], \
        [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


async def _ingests(client: Any) -> float:
    from helpers.feeds import metric, metrics
    return metric(await metrics(client), "feedsvc_ingest_seconds_count")


async def _more(client: Any, target: float) -> bool:
    return await _ingests(client) >= target


async def test_bad_files_arriving_live(seeds: Path, state: Path, tmp_path: Path, start_app: Any) -> None:
    """The same folder, built while the service watches it."""
    shutil.copy(SEED, seeds)
    client = await start_app(seeds, state)
    ids_by_lang, bad, _ = await asyncio.to_thread(build_hostile_folder, seeds, tmp_path / "outside")

    async def done() -> bool:
        health = await (await client.get("/healthz")).json()
        return health["documents"] == len(ids_by_lang[""]) and {r["path"] for r in health["rejected"]} == set(bad)
    await poll_until_async(done, timeout=20, what="live classification")

    async def rendered() -> bool:  # the index is in step; the nine feeds follow one by one
        for path in FEEDS:
            if ids((await fetch(client, path))[2]) != _expected_for(path, ids_by_lang):
                return False
        return True
    await poll_until_async(rendered, timeout=10, what="all nine feeds")


# -- files that move under the reader ----------------------------------------------------------

async def test_file_deleted_between_event_and_read(seeds: Path, state: Path, start_app: Any,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="feedsvc")
    write(seeds, "keep.txt", make_doc(1))
    client = await start_app(seeds, state, rescan_interval="0.3")
    text = make_doc(2)

    def flicker() -> None:
        for n in range(300):
            path = seeds / f"flicker-{n % 7}.txt"
            path.write_text(text)
            path.unlink()

    await asyncio.to_thread(flicker)
    write(seeds, "marker.txt", make_doc(3))

    async def settled() -> bool:
        return ids((await fetch(client, "/feed.atom"))[2]) == {"keep", "marker"}
    await poll_until_async(settled, timeout=10, what="only the surviving files")
    before = await _ingests(client)
    await poll_until_async(lambda: _more(client, before + 2), timeout=10, what="two rescans")
    health = await (await client.get("/healthz")).json()
    assert health["status"] == "ok" and health["rejected"] == [] and health["documents"] == 2, health
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


async def test_file_changing_while_being_read(seeds: Path, state: Path, start_app: Any) -> None:
    """A large file rewritten over and over: never published torn; the last version wins."""
    client = await start_app(seeds, state, rescan_interval="0.3", debounce="0.02")
    filler = "More background about the negotiations and what officials said. " * 6000  # ~400 KB
    versions = [make_doc(10, en=f"Version {v} of the changing article", body=f"Version {v} body. {filler}")
                for v in range(12)]
    stop = threading.Event()
    torn: list[bytes] = []

    def rewrite() -> None:
        path = seeds / "changing.txt"
        v = 0
        while not stop.is_set():
            data = versions[v % len(versions)].encode()
            with open(path, "r+b" if path.exists() else "wb") as f:
                f.truncate(0)
                for i in range(0, len(data), 64 * 1024):
                    f.write(data[i:i + 64 * 1024])
                    f.flush()
            v += 1

    writer = threading.Thread(target=rewrite, daemon=True)
    writer.start()
    try:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            for path in ("/feed.atom", "/feed.json"):
                status, _, body = await fetch(client, path)
                assert status == 200
                ids(body)  # well-formed
                if b"changing" in body and b"Version" in body:
                    text = body.decode()
                    marker = text.split("Version ", 1)[1].split(" ", 1)[0]
                    if f"Version {marker} body." not in text:
                        torn.append(body[:200])
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.to_thread(writer.join)
    final = make_doc(10, en="Final version of the changing article")
    write(seeds, "changing.txt", final)

    async def final_in() -> bool:
        return b"Final version of the changing article" in (await fetch(client, "/en/feed.atom"))[2]
    await poll_until_async(final_in, timeout=10, what="the final version")
    assert not torn, "a torn version was published"
    health = await (await client.get("/healthz")).json()
    assert health["rejected"] == [] and health["documents"] == 1, health


async def test_half_written_file_not_published_by_a_rescan(seeds: Path, state: Path, start_app: Any) -> None:
    client = await start_app(seeds, state, rescan_interval="0.3")
    text = make_doc(7, body="First paragraph of a long article. It goes on.\n\n"
                            "Final paragraph that only arrives after the pause.").encode()
    cut = text.index(b"Final paragraph")
    with open(seeds / "slow.txt", "wb") as f:
        f.write(text[:cut])
        f.flush()
        for _ in range(25):  # 2.5 s mid-file: at least two rescans happen meanwhile
            assert "slow" not in ids((await fetch(client))[2]), "a half-written file was published by a rescan"
            await asyncio.sleep(0.1)
        f.write(text[cut:])

    async def whole() -> bool:
        return b"Final paragraph that only arrives" in (await fetch(client))[2]
    await poll_until_async(whole, what="the complete file")


# -- a real EACCES: the server runs without the power to ignore permission bits -----------------

def run_unreadable_scenario(tmp_path: Path) -> str:
    """chmod 000 only stops root once CAP_DAC_OVERRIDE is dropped: the denial is then real. Returns the log."""
    seeds, state = tmp_path / "seeds", tmp_path / "state"
    seeds.mkdir()
    write(seeds, "ok.txt", make_doc(1))
    write(seeds, "locked.txt", make_doc(2))
    write(seeds, "later.txt", make_doc(3))
    os.chmod(seeds / "locked.txt", 0)
    os.chmod(seeds / "later.txt", 0)
    port = free_port()
    log = tmp_path / "server.log"
    cmd = unprivileged([sys.executable, "-m", "feedsvc", "serve", "--seeds", str(seeds), "--state-dir",
                        str(state), "--host", "127.0.0.1", "--port", str(port), "--rescan-interval", "0.3"])
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        health = _wait_json(url + "/healthz", lambda h: h.get("status") == "ok" and h.get("documents") == 1
                            and len(h["rejected"]) == 2,
                            proc, log)
        reasons = {r["path"]: r["reason"] for r in health["rejected"]}
        assert "Permission denied" in reasons["locked.txt"], reasons
        with urllib.request.urlopen(url + "/feed.atom", timeout=5) as response:
            assert ids(response.read()) == {"ok"}
        time.sleep(3.5)  # several rescans
        os.chmod(seeds / "later.txt", 0o644)  # fixed by the operator: picked up by itself
        _wait_json(url + "/healthz", lambda h: h.get("documents") == 2, proc, log)
        deadline = time.monotonic() + 10  # the nine feeds are re-rendered one after another: 10 s for all

        def shows_both(path: str) -> bool:
            with urllib.request.urlopen(url + path, timeout=5) as response:
                return ids(response.read()) == {"ok", "later"}

        for path in FEEDS:
            poll_until(lambda path=path: shows_both(path), f"{path} to show ok and later",
                       timeout=max(0.0, deadline - time.monotonic()), interval=0.05)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        os.chmod(seeds / "locked.txt", 0o644)
    text = log.read_text(errors="replace")
    assert "Traceback" not in text, text[-3000:]
    return text


def test_unreadable_file_real_eacces(tmp_path: Path) -> None:
    run_unreadable_scenario(tmp_path)


def test_unreadable_file_logged_once(tmp_path: Path) -> None:
    text = run_unreadable_scenario(tmp_path)
    times = text.count("document rejected: locked.txt")
    assert times == 1, f"the unreadable file was logged {times} times over several rescans (want once)"


def _wait_json(url: str, ok: Any, proc: subprocess.Popen[bytes], log: Path, timeout: float = 20) -> dict[str, Any]:
    last: list[Any] = [None]

    def holds() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"server exited {proc.returncode}: {log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                last[0] = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            last[0] = json.loads(exc.read())
        except OSError:
            pass
        return last[0] is not None and ok(last[0])

    poll_until(holds, url, timeout, interval=0.1,
               detail=lambda: f"last {url}: {last[0]}; log: {log.read_text(errors='replace')[-2000:]}")
    found: dict[str, Any] = last[0]
    return found


async def test_chmod_000_in_process(seeds: Path, state: Path, start_app: Any) -> None:
    """Non-root: a mode-000 file is rejected with the reason and recovers on chmod; root reads it anyway."""
    write(seeds, "locked.txt", make_doc(1))
    os.chmod(seeds / "locked.txt", 0)
    try:
        client = await start_app(seeds, state)
        health = await (await client.get("/healthz")).json()
        if os.geteuid() == 0:
            assert health["documents"] == 1, "root reads mode-000 files"  # covered for real by the EACCES test
            return
        assert [r["path"] for r in health["rejected"]] == ["locked.txt"]
        assert "Permission denied" in health["rejected"][0]["reason"]
        os.chmod(seeds / "locked.txt", 0o644)

        async def back() -> bool:
            return ids((await fetch(client))[2]) == {"locked"}
        await poll_until_async(back, what="the chmod to be picked up")
    finally:
        os.chmod(seeds / "locked.txt", 0o644)
