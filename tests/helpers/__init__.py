"""What the tests share, importable by name from any folder of tests/ (pyproject puts tests/ on sys.path).

- here: the project's paths, a document in the seed's shape, waiting for a condition (`poll_until`),
  external tools;
- `helpers.servers`: a real `feedsvc serve` process, plain or under a command prefix, and its /healthz;
- `helpers.feeds`: reading served feeds back the way clients do;
- `helpers.corpora`: folders of documents several tests build (the bad corpus, the newsroom's, topics');
- `helpers.websub`: the WebSub harness (a loopback subscriber, a resolver, a hub in a small app).

Fixtures stay in tests/conftest.py; no test module imports another.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import os
import shutil
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from feedsvc.settings import Settings

TESTS = Path(__file__).resolve().parent.parent
ROOT = TESTS.parent
SEED = ROOT / "seeds" / "000_1376dc493dc06474.txt"
# The feed-conformance harness (feedparser, newsboat, sfeed, the RFC 4287 schema), copied in from
# the workplace's shared/conformance so that the project stands on its own.
CONFORMANCE = TESTS / "conformance"
DOCUMENTS = TESTS / "documents"  # the parser's whole-file fixtures
BAD = TESTS / "bad"  # the committed corpus of broken files (helpers.corpora.BAD_EXPECTED)
GOLDEN = TESTS / "golden"  # the byte-identity check's capture script and recorded bytes
BASE = "http://feeds.test"


# -- waiting for a condition ------------------------------------------------------------------------
# A file beside the seeds folder that no answer may ever carry (hostile-path tests).
SECRET = "SECRET-MARKER-never-served"


def _timed_out(what: str, timeout: float, detail: Callable[[], str] | None) -> AssertionError:
    return AssertionError(f"timed out after {timeout}s waiting for {what}" + (f"; {detail()}" if detail else ""))


def poll_until(check: Callable[[], Any], what: str = "condition", timeout: float = 10.0, *,
               interval: float = 0.02, detail: Callable[[], str] | None = None) -> float:
    """Call `check` until it holds, every `interval` seconds; fail after `timeout` seconds saying
    what was awaited (and `detail()`, the state that did not come). Returns how long it took.

    For tests that drive a real server (or a thread) synchronously; `check` may raise to fail at once.
    """
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise _timed_out(what, timeout, detail)
        time.sleep(interval)
    return time.monotonic() - started


async def poll_until_async(check: Callable[[], bool | Awaitable[bool]], what: str = "condition",
                           timeout: float = 10.0, *, interval: float = 0.02,
                           detail: Callable[[], str] | None = None) -> float:
    """`poll_until` on the event loop: `check` may be a plain function or a coroutine function
    (the feeds follow the folder asynchronously); the loop runs between the calls."""
    started = time.monotonic()
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise _timed_out(what, timeout, detail)
        await asyncio.sleep(interval)


def past_the_second(instant: float, what: str) -> None:
    """Wait until the wall clock is in a later whole second than `instant`: dates that keep whole
    seconds (Last-Modified, readers' published/updated) then differ from the one `instant` gave.
    Waits for exactly that, not a fixed 1.1 s: at most a second, half of one on average."""
    after = math.floor(instant) + 1
    poll_until(lambda: time.time() >= after, f"the clock to pass the second of {what}", timeout=2.0, interval=0.01)


# -- documents ------------------------------------------------------------------------------------

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


def field(d: object, name: str) -> object:
    """A dotted attribute of a parsed Document ("title.en"), as the parser's tables name them."""
    value: object = d
    for part in name.split("."):
        value = getattr(value, part)
    return value


def check_parsed(data: bytes, name: str, expected: dict[str, object]) -> None:
    """One row of a parser table: `rejected` (kind, line); else each field's value, a `note`
    (line, text) among the warnings, or `no note` (text) absent from them."""
    from feedsvc.documents.model import Rejected
    from feedsvc.documents.parse import parse_document

    if "rejected" in expected:
        with pytest.raises(Rejected) as info:
            parse_document(data, name)
        assert (info.value.reason.kind, info.value.reason.line) == expected["rejected"], info.value.reason
        return
    d = parse_document(data, name)
    for key, value in expected.items():
        if key == "note":
            assert isinstance(value, tuple)
            line, text = value
            assert any(text in w.text and w.line == line for w in d.warnings), d.warnings
        elif key == "no note":
            assert not any(str(value) in w.text for w in d.warnings), d.warnings
        else:
            assert field(d, key) == value, (key, field(d, key), d.warnings)


def settings_for(seeds: Path, state: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"seeds": str(seeds), "state_dir": str(state), "base_url": BASE,
                              "debounce": "0.01", "rescan_interval": "0", "port": "8080"}
    values.update({k: str(v) for k, v in overrides.items()})
    return Settings.build(values, env={})


# -- external tools -------------------------------------------------------------------------------

def require_tool(name: str) -> str:
    """Path of an external tool; in CI a missing one fails, elsewhere it skips."""
    found = shutil.which(name)
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail(f"{name} is not installed; .ci/system-deps installs it")
    pytest.skip(f"{name} not installed (bash .ci/system-deps installs it)")


def unprivileged(cmd: list[str]) -> list[str]:
    """`cmd` such that chmod 000 stops it: as root, drop CAP_DAC_OVERRIDE/READ_SEARCH with setpriv."""
    if os.geteuid() != 0:
        return cmd
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("root ignores mode bits and setpriv (util-linux) is not installed to drop that power")
    caps = "-dac_override,-dac_read_search"
    return [setpriv, f"--bounding-set={caps}", f"--inh-caps={caps}", *cmd]


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--enable-logging=stderr", "--v=0"]


# -- our processes --------------------------------------------------------------------------------

def proc_table() -> dict[int, tuple[int, float, str]]:
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
