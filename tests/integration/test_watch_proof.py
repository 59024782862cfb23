"""Live watching is proved, not assumed: against a real `feedsvc serve`, with watchdog made to fail.

Each fault is injected into the real process from outside the product: a `sitecustomize` on the
server's PYTHONPATH wraps watchdog's public `Observer` so that it drops events (all of them, or only
the seeds folder's), and a real overlay mount whose lower folder is written behind inotify's back.
In each case /healthz must say within seconds that watching is not live, the service must poll, and
the next digest must arrive within the poll interval.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import make_doc, poll_until, write
from helpers.servers import WrappedServer, documents, health, wrapped_servers

POLL = "0.2"

# Installed before feedsvc imports watchdog.observers.Observer: wraps every handler scheduled on an
# inotify observer so that it drops the events of paths containing DROP_UNDER (every path if empty).
SITECUSTOMIZE = '''
import os
import watchdog.observers

_DROP = os.environ["FEEDSVC_TEST_DROP_UNDER"]
_Real = watchdog.observers.Observer


class _Dropping:
    def __init__(self, handler):
        self._handler = handler

    def dispatch(self, event):
        if _DROP in os.fsdecode(event.src_path):
            return
        self._handler.dispatch(event)


class DroppingObserver(_Real):
    def schedule(self, event_handler, path, **kwargs):
        return super().schedule(_Dropping(event_handler), path, **kwargs)


watchdog.observers.Observer = DroppingObserver
'''


def dropping_env(tmp_path: Path, under: str) -> dict[str, str]:
    hook = tmp_path / "hook"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(textwrap.dedent(SITECUSTOMIZE))
    return {"PYTHONPATH": str(hook), "FEEDSVC_TEST_DROP_UNDER": under}


def problems(server: Any) -> list[str]:
    return list(health(server)[1]["problems"])


def degraded_saying(server: Any, *words: str) -> bool:
    status, body = health(server)
    return status == 200 and body["status"] == "degraded" and any(
        all(w in p for w in words) for p in body["problems"])


def metric(server: Any, name: str) -> float:
    text = server.get("/metrics")[2].decode()
    found = re.search(rf"^{name} (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def test_an_observer_that_drops_every_event_fails_the_self_test(seeds: Path, state: Path, tmp_path: Path,
                                                                 server_factory: Any) -> None:
    write(seeds, "a.txt", make_doc(1))
    server = server_factory(seeds, state, "--poll-interval", POLL, env=dropping_env(tmp_path, ""))
    # Said from the first answer on, not after a rescan: the self-test ran before ready.
    assert degraded_saying(server, "self-test", "polling"), health(server)
    assert health(server)[1]["watcher"] == "alive"
    assert "inotify failed its self-test" in server.log.read_text()
    assert metric(server, 'feedsvc_watch_mode{mode="polling"}') == 1.0
    started = time.monotonic()
    write(seeds, "b.txt", make_doc(2))
    poll_until(lambda: documents(server) == 2, "a digest, by polling")
    print(f"arrived by polling in {time.monotonic() - started:.2f} s")


def test_an_observer_that_drops_the_folders_events_is_caught_by_a_scan(seeds: Path, state: Path, tmp_path: Path,
                                                                       server_factory: Any) -> None:
    # Only the seeds folder's events are dropped: the self-test and the pings pass, the scans do not.
    server = server_factory(seeds, state, "--poll-interval", POLL, "--rescan-interval", "1",
                            env=dropping_env(tmp_path, str(seeds)))
    assert health(server)[1]["status"] == "ok", health(server)
    write(seeds, "missed.txt", make_doc(1))
    poll_until(lambda: degraded_saying(server, "never reported", "missed.txt", "polling"), "/healthz to name the miss")
    assert documents(server) == 1  # the scan that found it published it
    log = server.log.read_text()
    assert "a scan found a change to 'missed.txt'" in log, log[-2000:]
    assert metric(server, "feedsvc_watch_missed_events_total") >= 1
    started = time.monotonic()
    write(seeds, "next.txt", make_doc(2))
    poll_until(lambda: documents(server) == 2, "the next digest, by polling", timeout=2.0)
    print(f"next digest by polling in {time.monotonic() - started:.2f} s")


def test_an_observer_that_stops_delivering_is_caught_by_its_pings(seeds: Path, state: Path, tmp_path: Path,
                                                                   server_factory: Any) -> None:
    # The running observer's pings go unanswered (as when watchdog's thread is stuck), nothing else.
    server = server_factory(seeds, state, "--poll-interval", POLL, env=dropping_env(tmp_path, "watch-probe/ping"))
    started = time.monotonic()
    poll_until(lambda: degraded_saying(server, "no event for", "polling"), "/healthz to report the stall", timeout=12)
    print(f"stall reported {time.monotonic() - started:.1f} s after ready")
    write(seeds, "a.txt", make_doc(1))
    poll_until(lambda: documents(server) == 1, "a digest, by polling", timeout=2.0)


def test_anonymous_health_gives_general_words_for_the_fallback(seeds: Path, state: Path, tmp_path: Path,
                                                               server_factory: Any) -> None:
    server = server_factory(seeds, state, "--poll-interval", POLL, "--editor-token", "s3cret",
                            env=dropping_env(tmp_path, ""))
    status, body = health(server)
    assert status == 200 and body["status"] == "degraded", body
    assert body["problems"] == ["live watching lost: polling"], body
    assert str(seeds) not in str(body) and str(state) not in str(body), body


# -- a real overlay mount, written behind inotify's back ------------------------------------------

@pytest.fixture
def overlay(tmp_path: Path) -> Any:
    """(prefix, lower, merged): a command prefix that runs the server in a mount namespace of its
    own with an overlay mounted at `merged`, over `lower` (written by the test, unseen by inotify)."""
    unshare = shutil.which("unshare")
    lower, upper, work, merged = (tmp_path / n for n in ("lower", "upper", "work", "merged"))
    for folder in (lower, upper, work, merged):
        folder.mkdir()
    script = (f"mount -t overlay overlay -o lowerdir={lower},upperdir={upper},workdir={work} {merged} "
              '&& exec "$@"')
    if unshare is None or subprocess.run([unshare, "--mount", "sh", "-c", script, "sh", "true"],
                                         capture_output=True).returncode != 0:
        pytest.skip("cannot mount an overlay here (needs root and unshare --mount)")
    return [unshare, "--mount", "sh", "-c", script, "sh"], lower, merged


def test_an_overlay_mounts_hidden_change_is_found_reported_and_then_polled(overlay: Any, state: Path) -> None:
    prefix, lower, merged = overlay
    servers = wrapped_servers()
    start = next(servers)
    try:
        server: WrappedServer = start(prefix, merged, state, "--poll-interval", POLL, "--rescan-interval", "1")
        poll_until(lambda: health(server)[0] == 200, "ready")
        assert health(server)[1]["status"] == "ok", health(server)
        write(lower, "under.txt", make_doc(1))  # the merged view shows it; inotify on it never hears
        poll_until(lambda: documents(server) == 1, "the hidden change, by a scan", timeout=5)
        poll_until(lambda: degraded_saying(server, "never reported", "under.txt"), "/healthz to report it")
        started = time.monotonic()
        write(lower, "next.txt", make_doc(2))
        poll_until(lambda: documents(server) == 2, "the next hidden change, within the poll interval", timeout=2.0)
        print(f"next hidden change in {time.monotonic() - started:.2f} s")
    finally:
        servers.close()  # kills what it started
