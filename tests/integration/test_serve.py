"""`feedsvc serve` as an operator runs it: settings, errors, logs, signals."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from helpers import SEED, make_doc, poll_until, require_tool, write
from helpers.feeds import ids
from helpers.servers import health


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
    return subprocess.run([sys.executable, "-m", "feedsvc", *args], capture_output=True, text=True, timeout=30,
                          env={**clean, **(env or {})})


@pytest.mark.parametrize("args, env, message", [
    (["--seeds", "/nonexistent/seeds"], {}, "seeds folder '/nonexistent/seeds' does not exist"),
    (["--port", "70000"], {}, "port: 70000 is not a TCP port"),
    (["--port", "http"], {}, "--port: invalid literal"),
    ([], {"FEEDSVC_PORT": "-1"}, "FEEDSVC_PORT: -1 is not a TCP port"),
    (["--base-url", "ftp://example.org"], {}, "--base-url: 'ftp://example.org' is not an absolute http(s) URL"),
    ([], {"FEEDSVC_BASE_URL": "example.org/feeds"}, "is not an absolute http(s) URL"),
    ([], {"FEEDSVC_WATCH": "fanotify"}, "FEEDSVC_WATCH: 'fanotify' is not one of inotify, polling"),
    ([], {"FEEDSVC_METRICS": "maybe"}, "FEEDSVC_METRICS: expected true or false"),
])
def test_config_errors_stop_the_start(seeds: Path, state: Path, args: list[str], env: dict[str, str],
                                      message: str) -> None:
    base = ["serve", "--seeds", str(seeds), "--state-dir", str(state)]
    result = run_cli(*base, *args, env=env)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("feedsvc: ") and message in lines[0], result.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_state_dir_as_user(seeds: Path, tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    result = run_cli("serve", "--seeds", str(seeds), "--state-dir", str(locked / "x"))
    assert result.returncode == 2 and "is not writable" in result.stderr


def test_state_dir_that_is_a_file(seeds: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run_cli("serve", "--seeds", str(seeds), "--state-dir", str(blocker / "state"))
    assert result.returncode == 2 and "state folder" in result.stderr and "is not writable" in result.stderr


def test_flags_win_over_environment(seeds: Path, state: Path, server_factory: Any) -> None:
    shutil.copy(SEED, seeds)
    server = server_factory(seeds, state, "--base-url", "https://flag.example",
                            env={"FEEDSVC_BASE_URL": "https://env.example", "FEEDSVC_TITLE": "Env Title",
                                 "FEEDSVC_LOG_FORMAT": "json"})
    body = server.get("/feed.rss")[2].decode()
    assert "https://flag.example/feed.rss" in body and "env.example" not in body
    assert "Env Title" in body
    server.stop()
    lines = [json.loads(line) for line in server.log.read_text().splitlines() if line.startswith("{")]
    assert any("document accepted" in line["message"] for line in lines)
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)


def test_help_lists_every_setting() -> None:
    from feedsvc.settings import SPEC

    result = run_cli("serve", "--help")
    assert result.returncode == 0
    for spec in SPEC:
        assert spec.flag in result.stdout and spec.env in result.stdout


def test_sigterm_finishes_in_flight_requests(seeds: Path, state: Path, server_factory: Any) -> None:
    shutil.copy(SEED, seeds)
    for n in range(30):
        write(seeds, f"d{n}.txt", make_doc(n))
    server = server_factory(seeds, state)
    failures: list[str] = []
    served = 0
    stop = threading.Event()
    lock = threading.Lock()

    sigterm_at: list[float] = []

    def hammer() -> None:
        nonlocal served
        while not stop.is_set():
            try:
                response = urllib.request.urlopen(server.url + "/feed.atom?limit=30", timeout=5)
            except (ConnectionError, urllib.error.URLError) as exc:
                # Refused, or reset while still in the kernel's accept queue once the listener
                # closed: the server never took that request, so it was not in flight.
                reason = getattr(exc, "reason", exc)
                if not (sigterm_at and isinstance(reason, (ConnectionRefusedError, ConnectionResetError))):
                    failures.append(repr(exc))
                return
            try:  # a request the server answered must arrive whole
                body = response.read()
                if response.status != 200 or not body.rstrip().endswith(b"</feed>"):
                    failures.append(f"status {response.status}, {len(body)} bytes")
                with lock:
                    served += 1
            except Exception as exc:
                failures.append(f"answered request failed: {exc!r}")
            finally:
                response.close()

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    started = time.monotonic()
    sigterm_at.append(started)
    code = server.stop(signal.SIGTERM)
    elapsed = time.monotonic() - started
    stop.set()
    for t in threads:
        t.join(10)
    log = server.log.read_text()
    assert code == 0, log
    assert served > 20
    assert not failures, failures
    assert elapsed < 10, "inside compose's stop timeout"
    assert "Traceback" not in log, log


def test_parses_documents_when_the_service_is_pid_1(seeds: Path, state: Path, server_factory: Any) -> None:
    """In a container the service is PID 1 (ENTRYPOINT feedsvc). Parser processes once took a
    parent of PID 1 to mean their parent had died and exited, so the container published nothing
    while every ingest failed; here the service runs as PID 1 of its own PID namespace."""
    unshare = require_tool("unshare")
    as_user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    write(seeds, "one.txt", make_doc(1))
    server = server_factory(seeds, state, wrapper=[unshare, *as_user, "--pid", "--fork", "--mount-proc",
                                                   "--kill-child"])
    poll_until(lambda: "one" in ids(server.get("/feed.atom")[2]), "the document, parsed in a parser process")
    write(seeds, "two.txt", make_doc(2))
    poll_until(lambda: "two" in ids(server.get("/feed.atom")[2]), "a document written while it runs")
    status, report = health(server)
    assert status == 200 and report["status"] == "ok", report
    log = server.log.read_text()
    assert "EOFError" not in log and "ingest failed" not in log and "parsing in the service" not in log, log[-3000:]
