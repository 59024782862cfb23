"""A real `feedsvc serve` on a loopback port (tests/conftest.py's `server_factory` starts them), plain or
under a command prefix (prlimit, unshare ...), and what tests ask of it: /healthz, the served ids."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from helpers import poll_until
from helpers.feeds import doc_id


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of a GET; an HTTP error status is an answer, not an exception."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


class Server:
    """A real `feedsvc serve` process on a loopback port."""

    def __init__(self, seeds: Path, state: Path, *extra: str, env: dict[str, str] | None = None,
                 wrapper: Sequence[str] = ()) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [*wrapper, sys.executable, "-m", "feedsvc", "serve", "--seeds", str(seeds), "--state-dir", str(state),
               "--host", "127.0.0.1", "--port", str(self.port), *extra]
        self.log = state.parent / f"server-{self.port}.log"
        self._log_file = open(self.log, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self._log_file, stderr=subprocess.STDOUT,
                                     env={**os.environ, **(env or {})})

    def _exited(self) -> None:
        if self.proc.poll() is not None:
            raise AssertionError(f"server exited {self.proc.returncode}: {self.log.read_text()}")

    def wait_ready(self, timeout: float = 30.0) -> None:
        def ready() -> bool:
            self._exited()
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as response:
                    return response.status == 200
            except OSError:
                return False

        poll_until(ready, "the server to be ready", timeout, interval=0.05, detail=lambda: self.log.read_text())

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        return http_get(self.url + path, headers)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log_file.close()
        return self.proc.returncode


def health(server: Server) -> tuple[int, dict[str, Any]]:
    """A real server's /healthz: its status code and its JSON."""
    status, _, body = server.get("/healthz")
    return status, json.loads(body)


def healthy(server: Any) -> bool:
    status, body = health(server)
    return status == 200 and body["status"] == "ok" and body["problems"] == []


def documents(server: Any) -> int:
    """The documents a real server says it serves, on /healthz."""
    return int(health(server)[1]["documents"])


def served(server: Any) -> set[str]:
    """The document ids of a real server's /feed.json, up to 500."""
    status, _, body = server.get("/feed.json?limit=500")
    assert status == 200, body[:300]
    return {doc_id(item["id"]) for item in json.loads(body)["items"]}


class WrappedServer(Server):
    """A `feedsvc serve` started under a command prefix (prlimit, unshare ...), as Server."""

    def __init__(self, prefix: list[str], seeds: Path, state: Path, *extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = state.parent / f"server-{self.port}.log"
        self._log_file = open(self.log, "wb")
        cmd = [*prefix, sys.executable, "-m", "feedsvc", "serve", "--seeds", str(seeds), "--state-dir",
               str(state), "--host", "127.0.0.1", "--port", str(self.port), *extra]
        self.proc = subprocess.Popen(cmd, stdout=self._log_file, stderr=subprocess.STDOUT)


def wait_started(server: Server, timeout: float = 30.0) -> None:
    """Until the first scan is done: /healthz may say failing (503) then, and rightly so."""
    def started() -> bool:
        if server.proc.poll() is not None:
            raise AssertionError(f"server exited {server.proc.returncode}: {server.log.read_text()[-3000:]}")
        with contextlib.suppress(OSError, ValueError):
            return health(server)[1]["status"] != "starting"
        return False

    poll_until(started, "the server's first scan", timeout, interval=0.05,
               detail=lambda: server.log.read_text()[-3000:])


def wrapped_servers() -> Iterator[Callable[..., WrappedServer]]:
    """The body of a `wrapped_factory` fixture: start servers under a prefix, kill them after."""
    started: list[WrappedServer] = []

    def start(prefix: list[str], seeds: Path, state: Path, *extra: str) -> WrappedServer:
        server = WrappedServer(prefix, seeds, state, *extra)
        started.append(server)
        wait_started(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop(signal.SIGKILL)
