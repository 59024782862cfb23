"""Connections and descriptors against a real `feedsvc serve`: slow clients cannot lock others out;
and an aiohttp whose internals moved turns the guard off, visibly, instead of breaking the service.

The server runs under `prlimit --nofile=128:256`: `serve` raises the soft limit to the hard one
(256), keeps 64 descriptors for itself (at most 192 connections), and gives each client 10 s to
send its request. 300 slow loopback connections then stand for the ~1,100 that exhausted a 1,024
limit before: every client was turned away, and /healthz blamed the seeds folder.
"""

from __future__ import annotations

import json
import resource
import select
import shutil
import socket
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import make_doc, poll_until, write
from helpers.feeds import metric
from helpers.servers import Server, health, healthy, served

from feedsvc.http.connections import HEADER_TIMEOUT
from feedsvc.ops.health import Concern

SLOW = 300
LIVE = 8.0  # patience for a change on /healthz or the feeds, as in test_watch_loss.py
HARD = 256


def _limits(pid: int) -> tuple[int, int]:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            soft, hard = line.split()[3:5]
            return int(soft), int(hard)
    raise AssertionError("no open-files line in /proc/PID/limits")


def _open_fds(pid: int) -> set[int]:
    return {int(entry.name) for entry in Path(f"/proc/{pid}/fd").iterdir()}


class SlowClients:
    """`count` loopback connections: half send nothing, half dribble a request head a byte at a time."""

    def __init__(self, port: int, count: int) -> None:
        self.socks: dict[int, tuple[socket.socket, bool]] = {}  # fd -> (socket, dribbles)
        self.closed_at: dict[int, float] = {}
        self.poller = select.poll()
        self.started = time.monotonic()
        for n in range(count):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.setblocking(False)
            dribbles = n % 2 == 0
            if dribbles:
                s.send(b"GET /feed.atom HTTP/1.1\r\nHost: x\r\n")
            self.socks[s.fileno()] = (s, dribbles)
            self.poller.register(s.fileno(), select.POLLIN | select.POLLHUP | select.POLLERR)
        # When the last one was accepted, give or take: connect() returns once the handshake is
        # done, which waits for room in the listen backlog (a full one drops SYNs, retried in 1 s, 3 s...).
        self.opened = time.monotonic() - self.started

    @property
    def open(self) -> int:
        return len(self.socks) - len(self.closed_at)

    def tick(self) -> None:
        """One byte more on every dribbling connection; note those the server closed."""
        for fd, _ in self.poller.poll(0):
            self._closed(fd)
        for fd, (s, dribbles) in self.socks.items():
            if dribbles and fd not in self.closed_at:
                try:
                    s.send(b"X")
                except OSError:
                    self._closed(fd)

    def _closed(self, fd: int) -> None:
        if fd in self.closed_at:
            return
        s, _ = self.socks[fd]
        try:
            data = s.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data or data.startswith(b"HTTP/1.1 503"):  # closed, or refused with a 503 then closed
            self.closed_at[fd] = time.monotonic() - self.started
            self.poller.unregister(fd)

    def close(self) -> None:
        for s, _ in self.socks.values():
            s.close()


def test_slow_clients_cannot_lock_out_a_normal_one(seeds: Path, state: Path, wrapped_factory: Any) -> None:
    prlimit = shutil.which("prlimit")
    if prlimit is None:
        pytest.skip("prlimit (util-linux) is not installed")
    write(seeds, "a.txt", make_doc(1))
    server = wrapped_factory([prlimit, f"--nofile=128:{HARD}", "--"], seeds, state)
    assert _limits(server.proc.pid) == (HARD, HARD), "the soft limit is raised to the hard one at start"

    slow = SlowClients(server.port, SLOW)
    try:
        # A normal client meanwhile: answered at once (it takes the place of the oldest idle one).
        started = time.monotonic()
        assert served(server) == {"a"}
        took = time.monotonic() - started
        print(f"\n/feed.atom with {SLOW} slow connections open: {took * 1000:.0f} ms")
        assert took < 3, took
        status, body = health(server)
        assert status == 200 and body["problems"] == [], body  # before: "seeds folder ...: Too many open files"
        peak = len(_open_fds(server.proc.pid))
        assert peak < HARD - 16, f"{peak} descriptors open: the cap keeps room below the limit"

        # Until the header timeout, the connections under the cap stay; then all go, dribbling or not.
        while time.monotonic() - slow.started < HEADER_TIMEOUT - 2:
            slow.tick()
            time.sleep(0.2)
        early = slow.open
        deadline = slow.opened + HEADER_TIMEOUT + 3
        while slow.open and time.monotonic() - slow.started < deadline:
            slow.tick()
            time.sleep(0.2)
        print(f"slow connections (opened in {slow.opened:.1f} s): {SLOW - early} closed at the cap at once, "
              f"{early} kept until the {HEADER_TIMEOUT:.0f} s header timeout; all closed after "
              f"{max(slow.closed_at.values()):.1f} s")
        assert early >= 100, f"only {early} connections lasted until the timeout"
        assert slow.open == 0, f"{slow.open} slow connections still open {deadline:.0f} s on"
        assert server.get("/feed.atom")[0] == 200
        assert healthy(server), health(server)
    finally:
        slow.close()
    log = server.log.read_text()
    assert "connection limit reached" in log, log[-2000:]
    assert "Too many open files" not in log, log[-2000:]


def test_out_of_descriptors_is_not_blamed_on_the_seeds_folder(seeds: Path, state: Path,
                                                              server_factory: Any) -> None:
    """Every descriptor in use (the server's soft limit lowered to the ones it holds): the folder
    checks fail with EMFILE, and the log and /healthz say what that really is."""
    write(seeds, "a.txt", make_doc(1))
    server = server_factory(seeds, state)
    pid = server.proc.pid
    soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    said = "out of file descriptors"
    try:
        # Lowering the soft limit needs no privilege (raising the hard one would, even for root
        # without CAP_SYS_RESOURCE). A descriptor closed meanwhile leaves a hole below the limit:
        # lower it again until the supervisor's check has failed.
        def lowered_until_said() -> bool:
            if said in server.log.read_text():
                return True
            used = _open_fds(pid)
            resource.prlimit(pid, resource.RLIMIT_NOFILE, (min(set(range(max(used) + 2)) - used), hard))
            return False

        poll_until(lowered_until_said, f"the log to say {said!r}", timeout=10, interval=0.1)
    finally:
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
    poll_until(lambda: healthy(server), "/healthz once descriptors are free again", timeout=LIVE)
    log = server.log.read_text()
    assert said in log, log[-2000:]
    # Before: "seeds folder '...': Too many open files", and /healthz failing on the folder.
    assert "Too many open files" not in log, log[-2000:]


def test_a_malformed_request_is_not_echoed_back(seeds: Path, state: Path, server_factory: Any) -> None:
    """aiohttp's own 400 quotes the request line: text a stranger chose, in our answer."""
    import socket

    server = server_factory(seeds, state)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"GET /feed.atom?<script>evil</script>\x01 HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.split(b" ", 2)[1] == b"400", answer[:200]
    assert b"evil" not in answer and b"<script>" not in answer, answer


# Run as `python -c PATCH python -m feedsvc serve ...`: aiohttp changed before the service starts.
PATCHES = {
    "renamed": "wp.RequestHandler.__slots__ = tuple('_idle_waiter' if s == '_waiter' else s "
               "for s in wp.RequestHandler.__slots__)",
    "counted elsewhere": "received = wp.RequestHandler.data_received\n"
                         "def data_received(self, data):\n"
                         "    received(self, data)\n"
                         "    self._request_count = 0\n"
                         "wp.RequestHandler.data_received = data_received",
}
SAID = {"renamed": "RequestHandler._waiter is gone", "counted elsewhere": "_request_count is 0 after one request head"}
TOKEN = "editor-token-for-the-test"


def _patched_server(server_factory: Any, seeds: Path, state: Path, patch: str) -> Server:
    code = f"import sys\nimport aiohttp.web_protocol as wp\n{patch}\nfrom feedsvc.cli.main import main\n" \
           "sys.exit(main(sys.argv[4:]))"  # argv: -c, python, -m, feedsvc, serve ...
    server: Server = server_factory(seeds, state, "--editor-token", TOKEN, wrapper=[sys.executable, "-c", code])
    return server


def _bad_method(port: int) -> bytes:
    """The answer to a request with a bad method, to the end (the server closes after a 400)."""
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"G\x01T / HTTP/1.1\r\nHost: x\r\n\r\n")
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


@pytest.mark.parametrize("change", list(PATCHES))
def test_with_an_aiohttp_that_changed_the_service_serves_unguarded_and_says_so(
        change: str, seeds: Path, state: Path, server_factory: Any) -> None:
    write(seeds, "a.txt", make_doc(1))
    server = _patched_server(server_factory, seeds, state, PATCHES[change])
    poll_until(lambda: server.get("/feed.json")[0] == 200, "the feeds", timeout=LIVE)
    assert served(server) == {"a"}

    status, body = health(server)  # anonymous: the token is set
    assert status == 200 and body["status"] == "degraded", body
    assert body["problems"] == [Concern.HTTP.general], body
    _, _, raw = server.get("/healthz", {"Authorization": f"Bearer {TOKEN}"})
    editor = json.loads(raw)
    assert editor["status"] == "degraded" and len(editor["problems"]) == 1, editor
    assert "slow-client protection off" in editor["problems"][0] and SAID[change] in editor["problems"][0], editor
    assert metric(server.get("/metrics")[2].decode(), "feedsvc_connection_guard") == 0

    log = server.log.read_text()
    assert "slow-client protection off" in log and SAID[change] in log, log[-2000:]
    # aiohttp's own handler answers: its 400 for a bad method, not the guard's.
    answer = _bad_method(server.port)
    assert b" 400 " in answer and b"could not be parsed as HTTP/1.1" not in answer, answer


def test_with_the_installed_aiohttp_the_guard_is_on(seeds: Path, state: Path, server_factory: Any) -> None:
    write(seeds, "a.txt", make_doc(1))
    server = server_factory(seeds, state)
    poll_until(lambda: healthy(server), "ok on /healthz", timeout=LIVE)
    assert metric(server.get("/metrics")[2].decode(), "feedsvc_connection_guard") == 1
    assert "slow-client protection off" not in server.log.read_text()
    assert b"could not be parsed as HTTP/1.1" in _bad_method(server.port)
