"""Never silently wrong: one bad file is that file's rejection, links cannot be poisoned, and
/healthz says what is wrong. Each case goes through the running service."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from conftest import SEED, eventually, free_port, health, make_doc, require_tool, wait, write
from feeds import FEEDS, fetch, ids
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedsvc.ingest.ingest import Ingest
from feedsvc.store.index import Index

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
    wait(lambda: "beside" in all_ids(server), "a file written beside the bad name")
    wait(lambda: health(server)[1]["rejected_total"] == 2, "the second bad name on /healthz")
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
    wait(lambda: "later" in all_ids(server), "a live file dated 2400")
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
    await eventually(failing, what="/healthz to report the failed batch")

    async def repaired() -> bool:
        response = await client.get("/healthz")
        return response.status == 200 and "b" in ids((await fetch(client, "/feed.json"))[2])
    await eventually(repaired, timeout=15, what="the retry rescan to publish b and clear the problem")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(names=st.lists(st.binary(min_size=1, max_size=12).filter(lambda b: b"/" not in b and b"\x00" not in b
                                                                   and b not in (b".", b"..")),
                      min_size=1, max_size=6, unique=True),
       mtimes=st.lists(st.integers(int(dt.datetime(1900, 1, 1, tzinfo=dt.UTC).timestamp()), YEAR_2400 + 10**8),
                       min_size=6, max_size=6),
       sizes=st.lists(st.integers(0, 3), min_size=6, max_size=6))
def test_any_name_and_stat_goes_through_the_real_ingest(tmp_path_factory: Any, names: list[bytes],
                                                        mtimes: list[int], sizes: list[int]) -> None:
    root = tmp_path_factory.mktemp("fuzz")
    seeds = root / "seeds"
    seeds.mkdir()
    good = write(seeds, "good.txt", make_doc(0))
    written = 1
    for n, raw in enumerate(names):
        name = os.fsdecode(raw + b".txt")
        text = make_doc(n + 1) if sizes[n] else ""  # some empty (rejected), most documents
        try:
            path = seeds / name
            path.write_text(text * max(1, sizes[n]))
            os.utime(path, (mtimes[n], mtimes[n]))
        except OSError:
            continue
        written += 1
    index = Index(root / "state")
    try:
        ingest = Ingest(seeds, index, pattern="*.txt", max_bytes=1 << 20)
        outcome = ingest.reconcile()
        assert good.name.removesuffix(".txt") in {e.document.id for e in index.page(None, 50, 0)}
        seen = {p for p in outcome.added} | {p for p, _ in outcome.rejected}
        hidden = {p for p in os.listdir(seeds) if p.startswith(".") or p.endswith("~") or p.startswith("#")
                  or p.endswith((".swp", ".swo", ".swx"))}
        assert len(seen) + len(hidden & set(os.listdir(seeds))) >= written - len(hidden), (seen, hidden)
        again = ingest.reconcile()  # nothing moved: nothing to do, and nothing raises
        assert not again.added and not again.changed and not again.removed
        summary = index.summary
        json.dumps([str(r) for _, r in summary.rejected])
    finally:
        index.close()


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
    wait(lambda: health(server)[1]["rejected_total"] == 1, "the rejection")
    lines = server.log.read_text().splitlines()
    assert not any(line.startswith("2026-01-01 00:00:00,000 ERROR feedsvc: forged") for line in lines)
    assert any("evil\\n2026-01-01" in line for line in lines)


NGINX_CONF = """
{user}
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy; fastcgi_temp_path {tmp}/fcgi;
    uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
    proxy_cache_path {tmp}/cache keys_zone=feeds:1m;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_cache feeds;
            proxy_cache_valid 200 5m;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-Host $http_x_forwarded_host;
        }}
    }}
}}
"""


def test_a_caching_proxy_cannot_be_poisoned_through_host_headers(seeds: Path, state: Path, server_factory: Any,
                                                                 tmp_path: Path) -> None:
    """nginx's default proxy_cache key ignores Host and X-Forwarded-Host: if feedsvc built links
    from them, an attacker's first request would fix the links everyone else is served."""
    nginx = require_tool("nginx")
    write(seeds, "a.txt", make_doc(1))
    server = server_factory(seeds, state)  # no base URL, no trusted proxy: the defaults
    port, conf = free_port(), tmp_path / "nginx.conf"
    # As root, nginx's workers would run as nobody, who cannot enter pytest's private folders.
    user = "user root;" if os.geteuid() == 0 else ""
    conf.write_text(NGINX_CONF.format(user=user, tmp=tmp_path, port=port, upstream=server.port))
    proc = subprocess.Popen([nginx, "-e", str(tmp_path / "error.log"), "-p", str(tmp_path), "-c", str(conf)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def through(path: str, headers: dict[str, str]) -> bytes:
            with urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}{path}",
                                                               headers=headers), timeout=5) as response:
                return response.read()

        wait(lambda: _answers(port), "nginx")
        for path in ("/feed.atom", "/feed.rss", "/feed.json", "/", "/feed.atom?limit=3"):
            poisoned = through(path, {"Host": "evil.example", "X-Forwarded-Host": "evil.example"})
            assert b"evil.example" not in poisoned, path
            served = through(path, {})
            assert b"evil.example" not in served and f"127.0.0.1:{server.port}".encode() in served, path
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
            return True
    except OSError:
        return False


def _descendants(root: int) -> set[int]:
    from conftest import _proc_table

    table = _proc_table()
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
    wait(lambda: "new" in ids(server.get("/feed.atom")[2]), "the change")  # the default page: no variant yet
    parsers = _descendants(server.proc.pid)
    assert server.get("/feed.atom?limit=2")[0] == 200  # and a variant: the render process
    children = _descendants(server.proc.pid)
    assert parsers and children - parsers, "the service runs a fork server, a parser and a render process"
    server.stop(signal.SIGKILL)
    wait(lambda: not any(os.path.exists(f"/proc/{pid}") and _alive(pid) for pid in children),
         "the service's processes to exit", 10)


def test_variants_are_answered_when_the_render_process_dies(seeds: Path, state: Path, server_factory: Any) -> None:
    """The render process killed (the OOM killer picks the biggest): the variant at hand and the
    next ones are still answered, rightly, and a new process takes over."""
    for n in range(12):
        write(seeds, f"d{n:02}.txt", make_doc(n))
    server = server_factory(seeds, state)
    write(seeds, "new.txt", make_doc(99))  # the parser process is up: only the renderer is new below
    wait(lambda: "new" in ids(server.get("/feed.atom")[2]), "the change")
    before = _descendants(server.proc.pid)
    status, _, body = server.get("/feed.atom?limit=3")
    assert status == 200 and len(ids(body)) == 3
    renderer = _descendants(server.proc.pid) - before
    assert len(renderer) == 1, renderer
    (pid,) = renderer
    os.kill(pid, signal.SIGKILL)
    wait(lambda: not _alive(pid), "the render process to die", 10)
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
