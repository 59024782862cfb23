"""Shared helpers: starting and stopping servers by PID, loopback HTTP, statistics, machine facts."""

from __future__ import annotations

import http.client
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
OUT = BENCH / "out"
VENV_BIN = Path(sys.executable).parent
FEEDSVC = VENV_BIN / "feedsvc"
SERVER_CORE = "0"
CLIENT_CORE = "1"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ncores() -> int:
    return len(os.sched_getaffinity(0))


def pinned(cmd: Sequence[str], core: str | None) -> list[str]:
    """Prefix with taskset when the machine has the cores (taskset execs, so the PID stays the same)."""
    if core is None or ncores() < 2:
        return list(cmd)
    return ["taskset", "-c", core, *cmd]


def pin_self(core: str) -> None:
    if ncores() >= 2:
        os.sched_setaffinity(0, {int(core)})


def unpin_self() -> None:
    os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))


class Proc:
    """A child process stopped by its own PID (SIGTERM, then SIGKILL) — use as a context manager."""

    def __init__(self, cmd: Sequence[str], *, log_name: str, env: dict[str, str] | None = None) -> None:
        OUT.joinpath("logs").mkdir(parents=True, exist_ok=True)
        self.log_path = OUT / "logs" / f"{log_name}.log"
        self._log = open(self.log_path, "wb")
        self.started = time.perf_counter()
        self.popen = subprocess.Popen(list(cmd), stdout=self._log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        self.pid = self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def vm_hwm_kb(self) -> int | None:
        """Peak resident set size (VmHWM) of the process so far."""
        return vm_hwm_kb(self.pid)

    def tree_memory_kb(self) -> tuple[int, int] | None:
        """Memory of the process and all its descendants (parser processes, their fork server):
        (RSS summed, PSS summed). PSS splits each shared page among the processes sharing it, so
        its sum is what the tree really holds; the RSS sum counts the language models the parser
        processes share once per process."""
        try:
            import psutil
        except ImportError:
            return None
        try:
            root = psutil.Process(self.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return None
        rss = pss = 0
        for p in procs:
            try:
                with open(f"/proc/{p.pid}/smaps_rollup") as fh:
                    for line in fh:
                        if line.startswith("Rss:"):
                            rss += int(line.split()[1])
                        elif line.startswith("Pss:"):
                            pss += int(line.split()[1])
            except OSError:
                pass
        return rss, pss

    def stop(self, timeout: float = 10.0) -> None:
        if self.popen.poll() is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.popen.wait(5)
            except ProcessLookupError:
                pass
        self._log.close()

    def __enter__(self) -> Proc:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Client:
    """A keep-alive HTTP/1.1 client on loopback that reconnects on errors."""

    def __init__(self, port: int, timeout: float = 10.0) -> None:
        self.port = port
        self.timeout = timeout
        self.conn: http.client.HTTPConnection | None = None

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            try:
                self.conn.request("GET", path, headers=headers or {})
                resp = self.conn.getresponse()
                body = resp.read()
                return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body
            except (OSError, http.client.HTTPException):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Feedsvc(Proc):
    """`feedsvc serve` with default settings (metrics on, uvloop, log level info), pinned to core 0."""

    def __init__(self, seeds: Path, state: Path, *, name: str, core: str | None = SERVER_CORE,
                 extra: Sequence[str] = (), wrap: Sequence[str] = ()) -> None:
        self.port = free_port()
        self.seeds = seeds
        self.base = f"http://127.0.0.1:{self.port}"
        cmd = [*wrap, str(FEEDSVC), "serve", "--seeds", str(seeds), "--state-dir", str(state),
               "--host", "127.0.0.1", "--port", str(self.port), "--base-url", self.base, *extra]
        super().__init__(pinned(cmd, core), log_name=name)
        self.listening_s: float | None = None
        self.ready_s: float | None = None
        self.peak_tree_kb = 0  # RSS summed
        self.peak_tree_pss_kb = 0
        self._sampling = False

    def sample_tree(self) -> None:
        memory = self.tree_memory_kb()
        if memory:
            self.peak_tree_kb = max(self.peak_tree_kb, memory[0])
            self.peak_tree_pss_kb = max(self.peak_tree_pss_kb, memory[1])

    def start_sampler(self, every: float = 0.05) -> None:
        """Sample the process tree's memory in a thread until stop() (VmHWM misses child processes)."""
        import threading

        self._sampling = True

        def loop() -> None:
            while self._sampling and self.alive():
                self.sample_tree()
                time.sleep(every)

        threading.Thread(target=loop, daemon=True).start()

    def stop(self, timeout: float = 10.0) -> None:
        self._sampling = False
        super().stop(timeout)

    def wait_ready(self, timeout: float) -> float | None:
        """Poll /healthz every 10 ms; seconds from spawn to the first 200 (None on timeout)."""
        client = Client(self.port, timeout=2.0)
        deadline = self.started + timeout
        try:
            while time.perf_counter() < deadline:
                if not self.alive():
                    raise RuntimeError(f"feedsvc exited with {self.popen.returncode}; see {self.log_path}")
                try:
                    status, _, body = client.get("/healthz")
                except OSError:
                    time.sleep(0.01)
                    continue
                now = time.perf_counter() - self.started
                if self.listening_s is None:
                    self.listening_s = now
                if status == 200:
                    self.ready_s = now
                    self.health = json.loads(body)
                    return now
                time.sleep(0.01)
            return None
        finally:
            client.close()

    def metrics(self) -> dict[str, float]:
        client = Client(self.port)
        try:
            _, _, body = client.get("/metrics")
        finally:
            client.close()
        out: dict[str, float] = {}
        for line in body.decode().splitlines():
            if line.startswith("#") or not line.strip():
                continue
            name, _, value = line.rpartition(" ")
            try:
                out[name] = float(value)
            except ValueError:
                pass
        return out


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on port {port}")


# -- statistics ----------------------------------------------------------------------------

def median(xs: Iterable[float]) -> float:
    return statistics.median(list(xs))


def percentile(xs: Sequence[float], p: float) -> float:
    """Nearest-rank percentile."""
    s = sorted(xs)
    if not s:
        return float("nan")
    k = max(0, min(len(s) - 1, int(-(-p * len(s) // 100)) - 1))
    return s[k]


def _num(x: float) -> str:
    return f"{x:.0f}" if abs(x) >= 100 else f"{x:.3g}"


def spread(xs: Sequence[float]) -> str:
    """min–max of the runs, as text."""
    return f"{_num(min(xs))}–{_num(max(xs))}" if xs else "n/a"


# -- machine -------------------------------------------------------------------------------

def machine() -> dict[str, object]:
    from importlib import metadata

    model = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) // 1024} MiB"
    except OSError:
        pass
    versions = {}
    for pkg in ("aiohttp", "uvloop", "feedgen", "lxml", "watchdog", "pysbd", "lingua-language-detector",
                "python-dateutil", "charset-normalizer", "prometheus-client", "multidict", "yarl",
                "psutil", "pyinstrument", "py-spy"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = "not installed"
    tools = {}
    for name, cmd in (("wrk", ["wrk", "--version"]), ("nginx", ["nginx", "-v"]), ("hugo", ["hugo", "version"])):
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=5)
            text = (p.stdout + p.stderr).strip().splitlines()
            tools[name] = text[0] if text else "?"
        except OSError:
            tools[name] = "not installed"
    import sqlite3

    return {
        "cpu": model, "cores_online": os.cpu_count(), "cores_usable": ncores(), "memory": mem,
        "kernel": platform.release(), "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version, "packages": versions, "tools": tools,
    }


def git_commit() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True,
                             text=True, timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "feedsvc"], cwd=ROOT, capture_output=True,
                               text=True, timeout=5).stdout.strip()
        return rev + (" (feedsvc/ has uncommitted changes)" if dirty else "")
    except OSError:
        return "unknown"


def fmt_ms(s: float | None) -> str:
    return "n/a" if s is None else f"{s * 1000:.1f} ms"


def vm_hwm_kb(pid: int) -> int | None:
    """Peak resident set size (VmHWM) of a process so far, from /proc."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None
