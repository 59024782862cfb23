"""Never silently wrong: one bad file is that file's rejection, links cannot be poisoned, and
/healthz says what is wrong. Each case goes through the running service."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import os
import shutil
import signal
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from helpers import SEED, make_doc, poll_until, poll_until_async, write
from helpers.feeds import FEEDS, fetch, ids
from helpers.servers import health

from feedsvc.ingest.ingest import Ingest

YEAR_2400 = int(dt.datetime(2400, 1, 1, tzinfo=dt.UTC).timestamp())




def all_ids(server: Any, path: str = "/feed.json") -> set[str]:
    return ids(server.get(path + "?limit=500")[2])


def test_a_file_name_that_is_not_utf8_costs_nothing_else(seeds: Path, state: Path, server_factory: Any) -> None:
    """Unzipping an archive made on Windows leaves cp1251 names: at a cold start and live."""
    shutil.copy(SEED, seeds)
    for n in range(5):
        write(seeds, f"d{n}.txt", make_doc(n))
    (seeds / os.fsdecode(b"\xcf\xf0\xe8\xe2\xb3\xf2.txt")).write_text(make_doc(90))  # "Привіт" in cp1251
    server = server_factory(seeds, state)
    assert len(all_ids(server)) == 6
    status, body = health(server)
    assert status == 200 and body["rejected_total"] == 1
    assert body["rejected"][0]["kind"] == "unsafe-name" and body["rejected"][0]["path"] == "\\xcf\\xf0\\xe8\\xe2\\xb3\\xf2.txt"
    (seeds / os.fsdecode(b"live-\xe9.txt")).write_text(make_doc(91))
    write(seeds, "beside.txt", make_doc(92))
    poll_until(lambda: "beside" in all_ids(server), "a file written beside the bad name")
    poll_until(lambda: health(server)[1]["rejected_total"] == 2, "the second bad name on /healthz")
    assert "Traceback" not in server.log.read_text(errors="replace")


def test_a_file_dated_past_2262_is_served_and_the_rest_too(seeds: Path, state: Path, server_factory: Any) -> None:
    """ext4 allows `touch -d 2400-01-01`; nanoseconds past 2262 overflow SQLite's integers."""
    for n in range(60):
        write(seeds, f"d{n:02d}.txt", make_doc(n))
    far = write(seeds, "far-future.txt", make_doc(99))
    os.utime(far, (YEAR_2400, YEAR_2400))
    server = server_factory(seeds, state, "--rescan-interval", "1")
    assert len(all_ids(server)) == 61
    assert server.get("/feed.atom?page=2")[0] == 200
    later = write(seeds, "later.txt", make_doc(100))
    os.utime(later, (YEAR_2400 + 5, YEAR_2400 + 5))
    poll_until(lambda: "later" in all_ids(server), "a live file dated 2400")
    time.sleep(2.5)  # two rescans: they must repair, not repeat a traceback
    log = server.log.read_text(errors="replace")
    assert "Traceback" not in log and "ingest failed" not in log
    status, body = health(server)
    assert status == 200 and body["status"] == "ok", body
    now = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)
    assert email.utils.parsedate_to_datetime(server.get("/feed.atom")[1]["Last-Modified"]) <= now


async def test_a_failing_batch_is_reported_until_a_rescan_repairs_it(seeds: Path, state: Path, start_app: Any,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    write(seeds, "a.txt", make_doc(1))
    client = await start_app(seeds, state)
    real = Ingest.process
    failures = iter([RuntimeError("disk says no")])

    def flaky(self: Ingest, paths: Any, stats: Any = None) -> Any:
        error = next(failures, None)
        if error is not None:
            raise error
        return real(self, paths, stats)

    monkeypatch.setattr(Ingest, "process", flaky)
    write(seeds, "b.txt", make_doc(2))

    async def failing() -> bool:
        response = await client.get("/healthz")
        return response.status == 503 and "ingest failed" in " ".join((await response.json())["problems"])
    await poll_until_async(failing, what="/healthz to report the failed batch")

    async def repaired() -> bool:
        response = await client.get("/healthz")
        return response.status == 200 and "b" in ids((await fetch(client, "/feed.json"))[2])
    await poll_until_async(repaired, timeout=15, what="the retry rescan to publish b and clear the problem")


def test_if_modified_since_later_than_the_clock_is_ignored(seeds: Path, state: Path, server_factory: Any) -> None:
    write(seeds, "a.txt", make_doc(1))
    server = server_factory(seeds, state)
    future = email.utils.format_datetime(dt.datetime.now(dt.UTC) + dt.timedelta(days=400), usegmt=True)
    assert server.get("/feed.atom", {"If-Modified-Since": future})[0] == 200
    _, headers, _ = server.get("/feed.atom")
    assert server.get("/feed.atom", {"If-Modified-Since": headers["Last-Modified"]})[0] == 304


def test_cors_preflight_lets_browser_code_send_validators(seeds: Path, state: Path, server_factory: Any) -> None:
    write(seeds, "a.txt", make_doc(1))
    server = server_factory(seeds, state)
    for path in FEEDS:
        request = urllib.request.Request(server.url + path, method="OPTIONS", headers={
            "Origin": "https://reader.example", "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "If-None-Match"})
        with urllib.request.urlopen(request) as response:
            assert response.status == 204
            assert response.headers["Access-Control-Allow-Origin"] == "*"
            assert "If-None-Match" in response.headers["Access-Control-Allow-Headers"]
    _, headers, _ = server.get("/feed.atom")
    assert "ETag" in headers["Access-Control-Expose-Headers"]


def test_healthz_stays_small_with_many_rejections(seeds: Path, state: Path, server_factory: Any) -> None:
    for n in range(300):
        write(seeds, f"empty-{n:03d}.txt", "")
    write(seeds, "ok.txt", make_doc(1))
    server = server_factory(seeds, state)
    status, _, body = server.get("/healthz")
    data = json.loads(body)
    assert status == 200 and data["rejected_total"] == 300 and len(data["rejected"]) == 100
    assert len(body) < 20_000


def test_a_newline_in_a_file_name_cannot_forge_a_log_line(seeds: Path, state: Path, server_factory: Any) -> None:
    server = server_factory(seeds, state)
    write(seeds, "evil\n2026-01-01 00:00:00,000 ERROR feedsvc: forged.txt", "")
    poll_until(lambda: health(server)[1]["rejected_total"] == 1, "the rejection")
    lines = server.log.read_text().splitlines()
    assert not any(line.startswith("2026-01-01 00:00:00,000 ERROR feedsvc: forged") for line in lines)
    assert any("evil\\n2026-01-01" in line for line in lines)


def _descendants(root: int) -> set[int]:
    from helpers import proc_table

    table = proc_table()
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, (ppid, _, _) in table.items() if ppid in frontier} - found
        found |= frontier
    return found


def test_a_killed_service_leaves_no_process_behind(seeds: Path, state: Path, server_factory: Any) -> None:
    """SIGKILL (an OOM kill, a supervisor killing one PID): the fork server and the parser processes
    must go too, not stay with ~300 MB each."""
    for n in range(3):
        write(seeds, f"d{n}.txt", make_doc(n))
    server = server_factory(seeds, state)
    write(seeds, "new.txt", make_doc(9))  # a change: a parser process has work and is alive
    poll_until(lambda: "new" in ids(server.get("/feed.atom")[2]), "the change")  # the default page: no variant yet
    parsers = _descendants(server.proc.pid)
    assert server.get("/feed.atom?limit=2")[0] == 200  # and a variant: the render process
    children = _descendants(server.proc.pid)
    assert parsers and children - parsers, "the service runs a fork server, a parser and a render process"
    server.stop(signal.SIGKILL)
    poll_until(lambda: not any(os.path.exists(f"/proc/{pid}") and _alive(pid) for pid in children),
         "the service's processes to exit", 10)


def test_variants_are_answered_when_the_render_process_dies(seeds: Path, state: Path, server_factory: Any) -> None:
    """The render process killed (the OOM killer picks the biggest): the variant at hand and the
    next ones are still answered, rightly, and a new process takes over."""
    for n in range(12):
        write(seeds, f"d{n:02}.txt", make_doc(n))
    server = server_factory(seeds, state)
    write(seeds, "new.txt", make_doc(99))  # the parser process is up: only the renderer is new below
    poll_until(lambda: "new" in ids(server.get("/feed.atom")[2]), "the change")
    before = _descendants(server.proc.pid)
    status, _, body = server.get("/feed.atom?limit=3")
    assert status == 200 and len(ids(body)) == 3
    renderer = _descendants(server.proc.pid) - before
    assert len(renderer) == 1, renderer
    (pid,) = renderer
    os.kill(pid, signal.SIGKILL)
    poll_until(lambda: not _alive(pid), "the render process to die", 10)
    for limit in (4, 5):  # the first meets the dead process, the second a new one
        status, _, body = server.get(f"/feed.atom?limit={limit}")
        assert status == 200 and len(ids(body)) == limit
    assert _descendants(server.proc.pid) - before - {pid}, "a new render process"
    status, _, health = server.get("/healthz")
    assert status == 200 and json.loads(health)["status"] == "ok"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
