"""Shared fixtures: a watched temporary seeds folder, the app running over it, a real server process.

Helpers that are not fixtures are in tests/helpers/. Every test is marked by its folder: `unit`
(tests/unit/: one package, in-process, in seconds), `integration` (tests/integration/: a running
app or `feedsvc serve` over a watched folder), `system` (tests/system/: real readers, browsers,
nginx, load and fuzzing over a server). `pytest -m unit` runs the fast ones."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import SECRET, SEED, poll_until_async, proc_table, settings_for, write
from helpers.servers import Server, WrappedServer, wrapped_servers

from feedsvc.http.app import create_app

TESTS = Path(__file__).resolve().parent
LEVELS = ("unit", "integration", "system")  # tests/<level>/...: each a marker (pyproject.toml registers them)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test by the folder it is in: tests/unit/... is `unit`, and so on."""
    for item in items:
        try:
            level = item.path.resolve().relative_to(TESTS).parts[0]
        except ValueError:
            continue  # a path given outside tests/
        if level in LEVELS:
            item.add_marker(getattr(pytest.mark, level))


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

        await poll_until_async(ready, "first scan")
        return client
    return start


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


@pytest.fixture
def real_server(seeds: Path, state: Path, tmp_path: Path, server_factory: Any) -> Any:
    """A `feedsvc serve` of the seed, with a secret beside the seeds folder (where ../ would land)."""
    shutil.copy(SEED, seeds)
    write(tmp_path, "secret.txt", SECRET)
    return server_factory(seeds, state)


@pytest.fixture
def wrapped_factory() -> Iterator[Callable[..., WrappedServer]]:
    """Start `feedsvc serve` under a command prefix (prlimit, unshare ...): factory(prefix, seeds, state, *flags)."""
    yield from wrapped_servers()


# -- nothing of ours outlives the suite -------------------------------------------------------------

_OURS = ("multiprocessing.forkserver", "-m feedsvc", "bin/feedsvc serve")
_SESSION_START = time.time()


def leftover_processes() -> list[str]:
    """Our processes started during this session that are still running: servers, fork servers and
    parser processes; the fork server of this test process (and its children) lives as long as it."""
    me = os.getpid()
    table = proc_table()
    mine = {pid for pid, (ppid, _, cmd) in table.items() if ppid == me and "multiprocessing.forkserver" in cmd}
    mine |= {pid for pid, (ppid, _, _) in table.items() if ppid in mine}
    return [f"{pid}: {cmd[:120]}" for pid, (_, started, cmd) in table.items()
            if pid != me and pid not in mine and started >= _SESSION_START - 1 and any(o in cmd for o in _OURS)
            and not _other_python(cmd)]


def _other_python(cmd: str) -> bool:
    """A Python process of another environment (another checkout's run on the same machine), not ours."""
    exe = cmd.split(" ", 1)[0]
    return os.path.basename(exe).startswith("python") and not exe.startswith(sys.prefix + os.sep)


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    if not sys.platform.startswith("linux") or os.environ.get("PYTEST_XDIST_WORKER"):
        return
    deadline = time.monotonic() + 10
    while (left := leftover_processes()) and time.monotonic() < deadline:
        time.sleep(0.2)
    if left:
        print("\nprocesses left behind by the tests:\n  " + "\n  ".join(left), file=sys.stderr)
        session.exitstatus = 1
