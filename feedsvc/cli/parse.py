"""`feedsvc parse FILE...`: parse digest files and print their records as JSON lines."""

from __future__ import annotations

import json
import pathlib
import sys

from feedsvc.documents.files import read_document
from feedsvc.documents.model import Ignored, Rejected


def parse_command(files: list[str], *, pattern: str, max_bytes: int) -> int:
    """Print one JSON line per document, `FILE: REASON` on stderr per other file; 1 if any rejected."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):  # JSON keeps Cyrillic as is, whatever the locale
            stream.reconfigure(encoding="utf-8")
    status = 0
    for name in files:
        path = pathlib.Path(name)
        try:
            # The id comes from the name alone, as if the file's folder were the seeds root.
            document = read_document(path, path.parent, pattern=pattern, max_bytes=max_bytes)
        except Ignored as error:
            print(f"{name}: ignored: {error.reason}", file=sys.stderr)
            continue
        except Rejected as error:
            print(f"{name}: {error.reason}", file=sys.stderr)
            status = 1
            continue
        print(json.dumps(document.to_json(), ensure_ascii=False), flush=True)
    return status
