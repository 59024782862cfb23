"""Shared fixtures: a watched temporary seeds folder, the app running over it, a real server process."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from feedsvc.http.app import create_app
from feedsvc.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seeds" / "000_1376dc493dc06474.txt"
# The feed-conformance harness (feedparser, newsboat, sfeed, the RFC 4287 schema), copied in from
# the workplace's shared/conformance so that the project stands on its own.
CONFORMANCE = ROOT / "tests" / "conformance"
BASE = "http://feeds.test"


def make_doc(n: int, *, date: str = "13.09.2023", en: str | None = None, uk: str | None = None,
             body: str | None = None, summary_uk: str | None = None, link: str | None = None) -> str:
    """A document in the seed's shape, distinct per n."""
    en = en if en is not None else f"Foreign press article number {n} about the war"
    uk = uk if uk is not None else f"Стаття іноземної преси номер {n} про війну в Україні"
    link = link or f"https://example.com/articles/{n}"
    summary_uk = summary_uk if summary_uk is not None else (
        f"Автори статті номер {n} розповідають про події тижня та їхні наслідки для України. "
        f"Аналітики вважають, що ситуація залишається складною. {link}")
    body = body if body is not None else (
        f"The article number {n} describes what happened this week. Officials said the talks would go on.\n\n"
        "Analysts were cautious about what comes next. They expect more meetings soon.\n\n"
        "—Reported from Kyiv.")
    return f"Reuters.- {date}\n\nJane Doe, John Roe\n\n## {en}\n\n## {uk}\n\n{summary_uk}\n\n{body}\n"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def settings_for(seeds: Path, state: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"seeds": str(seeds), "state_dir": str(state), "base_url": BASE,
                              "debounce": "0.01", "rescan_interval": "0", "port": "8080"}
    values.update({k: str(v) for k, v in overrides.items()})
    return Settings.build(values, env={})


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0, what: str = "condition") -> None:
    """Poll until `check` holds; the feeds follow the folder asynchronously."""
    deadline = time.monotonic() + timeout
    while True:
        if await check():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


def wait(check: Callable[[], Any], what: str, timeout: float = 10.0) -> None:
    """Poll until `check()` holds, for tests that drive a real server synchronously."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def health(server: Server) -> tuple[int, dict[str, Any]]:
    """A real server's /healthz: its status code and its JSON."""
    status, _, body = server.get("/healthz")
    return status, json.loads(body)


@pytest.fixture(scope="session", autouse=True)
def _fork_server() -> None:
    """The parser processes' fork server, started from the main thread as `feedsvc serve` does: it
    dies with the thread that started it (PR_SET_PDEATHSIG), and a test's executor thread is short-lived."""
    from feedsvc.ingest import pool

    pool.start_server()


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    folder = tmp_path / "seeds"
    folder.mkdir()
    return folder


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def start_app(aiohttp_client: Any) -> Callable[..., Awaitable[Any]]:
    """Start the app over a folder and wait for /healthz to say ready."""
    async def start(seeds: Path, state: Path, **overrides: Any) -> Any:
        client = await aiohttp_client(create_app(settings_for(seeds, state, **overrides)))

        async def ready() -> bool:
            return (await client.get("/healthz")).status == 200

        await eventually(ready, what="first scan")
        return client
    return start


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

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited {self.proc.returncode}: {self.log.read_text()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"server not ready in {timeout}s: {self.log.read_text()}")

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


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    started: list[Server] = []

    def start(seeds: Path, state: Path, *extra: str, ready: bool = True, **kw: Any) -> Server:
        server = Server(seeds, state, *extra, **kw)
        started.append(server)
        if ready:
            server.wait_ready()
        return server

    yield start
    for server in started:
        server.stop(signal.SIGKILL)


def require_tool(name: str) -> str:
    """Path of an external tool; in CI a missing one fails, elsewhere it skips."""
    found = shutil.which(name)
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail(f"{name} is not installed; .ci/system-deps installs it")
    pytest.skip(f"{name} not installed (bash .ci/system-deps installs it)")


# -- nothing of ours outlives the suite -------------------------------------------------------------

_OURS = ("multiprocessing.forkserver", "-m feedsvc", "bin/feedsvc serve")
_SESSION_START = time.time()


def _proc_table() -> dict[int, tuple[int, float, str]]:
    """pid -> (parent pid, start time in seconds since the epoch, command line), from /proc."""
    table = {}
    ticks, boot = os.sysconf("SC_CLK_TCK"), 0.0
    with open("/proc/stat") as stat:
        boot = next(float(line.split()[1]) for line in stat if line.startswith("btime"))
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        table[int(entry)] = (int(fields[1]), boot + int(fields[19]) / ticks, cmdline)
    return table


def leftover_processes() -> list[str]:
    """Our processes started during this session that are still running: servers, fork servers and
    parser processes; the fork server of this test process (and its children) lives as long as it."""
    me = os.getpid()
    table = _proc_table()
    mine = {pid for pid, (ppid, _, cmd) in table.items() if ppid == me and "multiprocessing.forkserver" in cmd}
    mine |= {pid for pid, (ppid, _, _) in table.items() if ppid in mine}
    return [f"{pid}: {cmd[:120]}" for pid, (_, started, cmd) in table.items()
            if pid != me and pid not in mine and started >= _SESSION_START - 1 and any(o in cmd for o in _OURS)]


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    if not sys.platform.startswith("linux") or os.environ.get("PYTEST_XDIST_WORKER"):
        return
    deadline = time.monotonic() + 10
    while (left := leftover_processes()) and time.monotonic() < deadline:
        time.sleep(0.2)
    if left:
        print("\nprocesses left behind by the tests:\n  " + "\n  ".join(left), file=sys.stderr)
        session.exitstatus = 1
