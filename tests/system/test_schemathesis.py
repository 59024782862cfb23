"""schemathesis drives docs/openapi.yaml against a real `feedsvc serve`: no 5xx, answers as documented.
`make fuzz` runs it with more examples (FEEDSVC_SCHEMATHESIS_EXAMPLES)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import ROOT

OPENAPI = ROOT / "docs" / "openapi.yaml"


def test_schemathesis_finds_no_server_error(real_server: Any, tmp_path: Path) -> None:
    exe = shutil.which("schemathesis") or str(Path(sys.executable).parent / "schemathesis")
    if not os.path.exists(exe):
        if os.environ.get("CI"):
            pytest.fail("schemathesis is not installed (test extra)")
        pytest.skip("schemathesis not installed: pip install schemathesis")
    examples = os.environ.get("FEEDSVC_SCHEMATHESIS_EXAMPLES", "25")
    result = subprocess.run(
        [exe, "run", str(OPENAPI), "--url", real_server.url, "--checks",
         "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
         "--max-examples", examples, "--seed", "1", "--no-color", "--request-timeout", "10",
         # The hub makes requests to the URLs it is given: fuzzing it would resolve made-up hosts.
         "--exclude-path", "/websub"],
        capture_output=True, text=True, timeout=240, cwd=tmp_path, env={**os.environ, "SCHEMATHESIS_HOOKS": ""})
    out = result.stdout + result.stderr
    print(out[-2500:])
    assert result.returncode == 0, out[-6000:]
    assert not re.search(r"\b5\d\d\b.*Server error", out), out[-3000:]
