"""The bytes a client gets for a fixed corpus, compared with the ones recorded in tests/golden/.

A refactor must leave them byte-identical; a deliberate change of what the feeds contain updates
them with `FEEDSVC_UPDATE_GOLDEN=1 pytest tests/test_golden.py`, and the diff shows the change.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from helpers import GOLDEN

HERE = GOLDEN
sys.path.insert(0, str(HERE))

from capture import capture  # noqa: E402


def test_feeds_are_byte_identical_to_the_recorded_ones(tmp_path: Path) -> None:
    expected = HERE / "expected"
    if os.environ.get("FEEDSVC_UPDATE_GOLDEN"):
        capture(expected)
    capture(tmp_path)
    names = sorted(p.name for p in expected.iterdir())
    assert names == sorted(p.name for p in tmp_path.iterdir())
    differing = [name for name in names if (expected / name).read_bytes() != (tmp_path / name).read_bytes()]
    assert not differing, f"served bytes differ from tests/golden/expected: {differing}"
