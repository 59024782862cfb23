"""The locks (requirements/*.txt, made by `make lock`) against pyproject.toml and the running venv.

`make test` installs requirements/test.txt into a fresh .venv (issue 23: unlocked installs once
brought a watchdog patch release that broke the watcher), so every package it pins for this
platform must be installed at exactly that version, and nothing outside the locks may be. A venv
made otherwise on purpose (`make upgrade-check`'s) sets FEEDSVC_SKIP_LOCK_CHECK=1.
"""

from __future__ import annotations

import os
import re
import sys
import tomllib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
LOCKS = ROOT / "requirements"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))

# What each lock is made from (the Makefile's `lock` target): the build backend (so feedgen's sdist and
# the editable install build with --no-build-isolation), then pyproject's dependencies and the extras
# named here (None: the build backend alone).
LOCK_EXTRAS: dict[str, tuple[str, ...] | None] = {
    "build.txt": None, "service.txt": (), "test.txt": ("test",), "bench.txt": ("test", "bench")}
# Installed beside the lock on purpose: the venv's own pip (never upgraded from the index) and feedsvc.
NOT_LOCKED = {"pip", "feedsvc"}


def canonical(name: str) -> str:
    """PEP 503 normalised name: `Flask_WebSub` and `flask-websub` are one project."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Pin:
    name: str  # canonical
    version: str
    marker: Marker | None

    def applies(self) -> bool:
        """Whether this platform and Python install it (a universal lock has pins for all of them)."""
        return self.marker is None or self.marker.evaluate({"extra": ""})


def read_lock(path: Path) -> list[Pin]:
    """Every `name==version [; marker]` of a `uv pip compile --generate-hashes` output (hash and comment lines skipped)."""
    pins = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line[0].isspace() or line.startswith(("#", "-")):
            continue
        req = Requirement(line.rstrip("\\ ").strip())
        specs = list(req.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", f"{path.name}: not an exact pin: {line!r}"
        pins.append(Pin(canonical(req.name), specs[0].version, req.marker))
    assert pins, f"{path.name} pins nothing"
    return pins


def required(lock: str) -> list[Requirement]:
    project = PYPROJECT["project"]
    reqs = list(PYPROJECT["build-system"]["requires"])
    extras = LOCK_EXTRAS[lock]
    if extras is not None:
        reqs += project["dependencies"]
        for extra in extras:
            reqs += project["optional-dependencies"][extra]
    return [Requirement(r) for r in reqs]


def installed() -> dict[str, str]:
    return {canonical(d.metadata["Name"]): d.version for d in metadata.distributions() if d.metadata["Name"]}


@pytest.mark.skipif(os.environ.get("FEEDSVC_SKIP_LOCK_CHECK") == "1",
                    reason="FEEDSVC_SKIP_LOCK_CHECK=1: this venv differs from the lock on purpose (make upgrade-check)")
def test_installed_packages_are_exactly_the_test_lock() -> None:
    have = installed()
    wrong, missing = [], []
    pins = [pin for pin in read_lock(LOCKS / "test.txt") if pin.applies()]
    for pin in pins:
        if pin.name not in have:
            missing.append(f"{pin.name}=={pin.version}")
        elif Version(have[pin.name]) != Version(pin.version):
            wrong.append(f"{pin.name} {have[pin.name]} (lock: {pin.version})")
    # Anything else must be locked as well: `make bench` adds bench.txt's extras to the same venv.
    locked = {(p.name, Version(p.version)) for lock in LOCK_EXTRAS for p in read_lock(LOCKS / lock)}
    stray = sorted(f"{name} {version}" for name, version in have.items()
                   if name not in NOT_LOCKED | {pin.name for pin in pins} and (name, Version(version)) not in locked)
    hint = (f"\nThis interpreter ({sys.prefix}) is not the venv `make test` builds from requirements/test.txt: "
            "run `make test` (a changed lock makes a new .venv), or set FEEDSVC_SKIP_LOCK_CHECK=1 for a venv "
            "that differs on purpose.")
    assert not (wrong or missing or stray), (
        f"installed packages differ from requirements/test.txt:\n  other version: {wrong}\n  missing: {missing}"
        f"\n  not locked (at this version): {stray}{hint}")


@pytest.mark.parametrize("lock", sorted(LOCK_EXTRAS))
def test_lock_holds_every_requirement_of_pyproject(lock: str) -> None:
    """A dependency added to pyproject.toml without `make lock` fails here, not on a fresh machine."""
    pins: dict[str, list[str]] = {}
    for pin in read_lock(LOCKS / lock):
        pins.setdefault(pin.name, []).append(pin.version)
    problems = []
    for req in required(lock):
        versions = pins.get(canonical(req.name))
        if not versions:
            problems.append(f"{req} is not in the lock")
            continue
        for version in versions:
            if not req.specifier.contains(version, prereleases=True):
                problems.append(f"{req}: the lock pins {version}")
    assert not problems, f"requirements/{lock} is older than pyproject.toml (run `make lock`): {problems}"


def test_locks_agree_with_each_other() -> None:
    """bench.txt is resolved first and the others are constrained to it: one version per package."""
    bench: dict[str, set[str]] = {}
    for pin in read_lock(LOCKS / "bench.txt"):
        bench.setdefault(pin.name, set()).add(pin.version)
    for lock in ("build.txt", "service.txt", "test.txt"):
        for pin in read_lock(LOCKS / lock):
            assert pin.version in bench.get(pin.name, set()), (
                f"requirements/{lock} pins {pin.name}=={pin.version}, bench.txt {bench.get(pin.name)}: run `make lock`")
    build, service, test = ({p.name for p in read_lock(LOCKS / lock)} for lock in ("build.txt", "service.txt", "test.txt"))
    assert build <= service <= test <= set(bench), "a package of a smaller lock is missing from a larger one"


def test_every_pin_carries_hashes() -> None:
    """pip installs the locks with --require-hashes: one pin without a hash would stop it."""
    for path in sorted(LOCKS.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        starts = [m.start() for m in re.finditer(r"^[A-Za-z0-9]", text, flags=re.MULTILINE)]
        for start, end in zip(starts, [*starts[1:], len(text)]):
            block = text[start:end]
            assert "--hash=sha256:" in block, f"{path.name}: no hash for {block.splitlines()[0]!r}"


def test_uv_version_of_the_makefile_is_the_locked_one() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    wanted = re.search(r"^UV_VERSION := (\S+)$", makefile, flags=re.MULTILINE)
    assert wanted, "Makefile has no UV_VERSION"
    assert [(p.name, p.version) for p in read_lock(LOCKS / "tools.txt")] == [("uv", wanted[1])]
