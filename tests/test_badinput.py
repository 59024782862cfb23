"""Bad input: every class of broken file beside good documents; the feeds stay valid and complete.

The small corpus is committed under tests/bad/ (see EXPECTED); big, binary, special and odd-named
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
from conftest import SEED, eventually, free_port, make_doc, write
from feeds import FEEDS, fetch, ids

from feedsvc.documents.model import Rejected
from feedsvc.documents.parse import parse_document

BAD = Path(__file__).resolve().parent / "bad"
SEED_ID = "000_1376dc493dc06474"
MIB = 1 << 20

# tests/bad/<name>: None = accepted (with warnings), else a substring of the rejection reason.
EXPECTED: dict[str, str | None] = {
    "empty.txt": "empty file",
    "whitespace_only.txt": "empty file",
    "invalid_utf8.txt": "invalid UTF-8",
    "utf16.txt": "UTF-16",
    "no_title.txt": "no title",
    "russian_title_only.txt": "no title in English or Ukrainian",
    "headings_only_hashes.txt": "no title",
    "cp1251_ukrainian.txt": None,  # plausible cp1251 Cyrillic: published, with a warning
    "control_chars.txt": None,  # XML-forbidden characters removed, with a warning
}


def generated() -> dict[str, tuple[bytes, str | None]]:
    """Files too big, binary or odd to commit: name -> (bytes, expected reason or None)."""
    good = make_doc(900).encode()
    return {
        "binary.txt": (bytes(range(256)) * 64, "binary data"),
        "binary_controls.txt": (b"## Title about the war\n\n" + bytes([1, 2, 3, 4, 5, 6, 0x0e, 0x1b] * 400),
                                "binary data"),
        "oversize.txt": (good + b"\n" + b"Filler sentence about the war. " * (MIB // 31 + 10), "larger than"),
        "five_mb.txt": (b"x" * (5 * MIB), "larger than"),
        "long_line.txt": (good + b"\n" + b"y" * 100_000 + b"\n", "characters long"),
        "long_title.txt": (b"Reuters.- 13.09.2023\n\n## " + "Заголовок ".encode() * 10_000 + b"\n\nText.\n",
                           "characters long"),
    }


# -- the parser alone --------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file(name: str) -> None:
    data = (BAD / name).read_bytes()
    expected = EXPECTED[name]
    if expected is None:
        document = parse_document(data, name, max_bytes=MIB)
        assert document.title.en or document.title.uk
        assert document.warnings, "an accepted-but-damaged file carries a warning"
    else:
        with pytest.raises(Rejected) as caught:
            parse_document(data, name, max_bytes=MIB)
        assert expected in str(caught.value.reason)
        assert "\n" not in str(caught.value.reason) and len(str(caught.value.reason)) < 300


def test_corpus_is_complete() -> None:
    assert sorted(p.name for p in BAD.iterdir()) == sorted(EXPECTED), "tests/bad/ and EXPECTED disagree"


@pytest.mark.parametrize("name", sorted(generated()))
def test_generated_file(name: str) -> None:
    data, expected = generated()[name]
    started = time.perf_counter()
    with pytest.raises(Rejected) as caught:
        parse_document(data, name, max_bytes=MIB)
    assert expected and expected in str(caught.value.reason)
    assert time.perf_counter() - started < 5, "a bad file must be rejected quickly"


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
    for name, reason in EXPECTED.items():
        shutil.copy(BAD / name, seeds / name)
        if reason is None:
            good[name] = ""
        else:
            bad[name] = reason
    for name, (data, reason) in generated().items():
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
    await eventually(all_in, timeout=20, what="every file classified")

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
    await eventually(lambda: _more(client, before + 3), timeout=15, what="three rescans")
    status, _, home = await fetch(client, "/")
    assert status == 200 and b"OUTSIDE-" not in home
    for path in bad:
        said = [r for r in caplog.records if r.getMessage().startswith(f"document rejected: {path}: ")]
        assert len(said) == 1, f"{path!r} logged {len(said)} times over several rescans"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], \
        [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


async def _ingests(client: Any) -> float:
    from feeds import metric, metrics
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
    await eventually(done, timeout=20, what="live classification")

    async def rendered() -> bool:  # the index is in step; the nine feeds follow one by one
        for path in FEEDS:
            if ids((await fetch(client, path))[2]) != _expected_for(path, ids_by_lang):
                return False
        return True
    await eventually(rendered, timeout=10, what="all nine feeds")


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
    await eventually(settled, timeout=10, what="only the surviving files")
    before = await _ingests(client)
    await eventually(lambda: _more(client, before + 2), timeout=10, what="two rescans")
    health = await (await client.get("/healthz")).json()
    assert health["status"] == "ok" and health["rejected"] == [] and health["documents"] == 2, health
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


def test_ingest_of_a_vanished_path_is_a_no_op(tmp_path: Path) -> None:
    """The deterministic form of the race: an event names a file that is already gone."""
    from feedsvc.ingest.ingest import Ingest
    from feedsvc.store.index import Index

    root = tmp_path / "seeds"
    root.mkdir()
    index = Index(tmp_path / "state")
    ingest = Ingest(root, index, pattern="*.txt", max_bytes=MIB)
    write(root, "a.txt", make_doc(1))
    assert ingest.process({"a.txt", "never-existed.txt"}).added == ["a.txt"]
    (root / "a.txt").unlink()
    outcome = ingest.process({"a.txt", "never-existed.txt"})
    assert outcome.removed == ["a.txt"] and not outcome.rejected and not outcome.added
    index.close()


def test_file_swapped_for_symlink_or_fifo_after_lstat(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Between lstat and open the file becomes a symlink to a secret, or a FIFO: never read, never hangs."""
    from feedsvc.ingest import ingest as ingest_module
    from feedsvc.ingest.ingest import Ingest
    from feedsvc.store.index import Index

    root = tmp_path / "seeds"
    root.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text(make_doc(9, en="SECRET outside the folder"))
    index = Index(tmp_path / "state")
    ingest = Ingest(root, index, pattern="*.txt", max_bytes=MIB)
    real_lstat = os.lstat

    def swapping_lstat(path: Any, *args: Any, **kw: Any) -> os.stat_result:
        result = real_lstat(path, *args, **kw)
        name = Path(path).name
        if name == "swap-link.txt" and not Path(path).is_symlink():
            Path(path).unlink()
            os.symlink(secret, path)
        elif name == "swap-fifo.txt" and not Path(path).is_fifo():
            Path(path).unlink()
            os.mkfifo(path)
        return result

    write(root, "swap-link.txt", make_doc(1))
    write(root, "swap-fifo.txt", make_doc(2))
    monkeypatch.setattr(ingest_module.os, "lstat", swapping_lstat)
    done = threading.Event()
    result: list[Any] = []
    worker = threading.Thread(target=lambda: (result.append(ingest.process({"swap-link.txt", "swap-fifo.txt"})),
                                              done.set()), daemon=True)
    worker.start()
    assert done.wait(10), "reading a FIFO swapped in after lstat hangs the worker"
    outcome = result[0]
    assert not outcome.added and not outcome.changed, outcome
    for path, _doc in [("swap-link.txt", None), ("swap-fifo.txt", None)]:
        assert index.state(path) is None or index.state(path).reason is not None
    assert index.count() == 0
    index.close()


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
    await eventually(final_in, timeout=10, what="the final version")
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
    await eventually(whole, what="the complete file")


# -- a real EACCES: the server runs without the power to ignore permission bits -----------------

def unprivileged(cmd: list[str]) -> list[str]:
    """`cmd` such that chmod 000 stops it: as root, drop CAP_DAC_OVERRIDE/READ_SEARCH with setpriv."""
    if os.geteuid() != 0:
        return cmd
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("root ignores mode bits and setpriv (util-linux) is not installed to drop that power")
    caps = "-dac_override,-dac_read_search"
    return [setpriv, f"--bounding-set={caps}", f"--inh-caps={caps}", *cmd]


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
        deadline = time.monotonic() + 10  # the nine feeds are re-rendered one after another
        for path in FEEDS:
            while True:
                with urllib.request.urlopen(url + path, timeout=5) as response:
                    found = ids(response.read())
                if found == {"ok", "later"} or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            assert found == {"ok", "later"}, path
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
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited {proc.returncode}: {log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                last = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            last = json.loads(exc.read())
        except OSError:
            pass
        if last is not None and ok(last):
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out; last {url}: {last}; log: {log.read_text(errors='replace')[-2000:]}")


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
        await eventually(back, what="the chmod to be picked up")
    finally:
        os.chmod(seeds / "locked.txt", 0o644)
