"""Tests of feedsvc.cli_parse: JSON lines out, reasons on stderr, exit status."""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
import sys

import pytest
from helpers import ROOT, SEED

from feedsvc.cli.parse import parse_command


@pytest.fixture
def files(tmp_path: pathlib.Path) -> dict[str, str]:
    shutil.copy(SEED, tmp_path / "000_x.txt")
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "notes.md").write_text("## hi")
    return {name: str(tmp_path / name) for name in ("000_x.txt", "empty.txt", "notes.md")}


def test_accepted_only(files: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert parse_command([files["000_x.txt"]], pattern="*.txt", max_bytes=1 << 20) == 0
    out, err = capsys.readouterr()
    record = json.loads(out)
    assert record["id"] == "000_x" and record["path"] == "000_x.txt" and record["source"] == "Time"
    assert "Кім Чен Ин" in out and err == ""


def test_ignored_is_not_failure(files: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert parse_command([files["notes.md"], files["000_x.txt"]], pattern="*.txt", max_bytes=1 << 20) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 1
    assert err.startswith(files["notes.md"] + ": ignored: name does not match")


def test_rejected_continues_and_fails(files: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    args = [files["empty.txt"], files["000_x.txt"], files["000_x.txt"] + ".missing"]
    assert parse_command(args, pattern="*.txt", max_bytes=1 << 20) == 1
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 1
    lines = err.splitlines()
    assert lines[0] == f"{files['empty.txt']}: empty file (no text)"
    assert lines[1].startswith(files["000_x.txt"] + ".missing: ignored")  # *.txt.missing fails the pattern


def test_missing_file_rejected(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert parse_command([str(tmp_path / "nope.txt")], pattern="*.txt", max_bytes=1 << 20) == 1
    assert "cannot read" in capsys.readouterr().err


def test_module_entry_point(files: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "feedsvc", "parse", files["000_x.txt"], files["empty.txt"]],
        cwd=ROOT, capture_output=True, text=True, encoding="utf-8", timeout=60,
    )
    assert result.returncode == 1
    assert json.loads(result.stdout)["title"]["uk"].startswith("володимир путін")
    assert "empty file" in result.stderr
