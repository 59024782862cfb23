"""The publication journal: when each document was first published, kept beside the index.

The index is a cache of the folder and may be rebuilt (moved aside when corrupt, dropped on a
schema change); the moment a digest was first published is not in the folder, so it is appended
here, one JSON line per event, and read back only when the index starts empty. A line that does
not parse (a torn last write) is skipped, so a crash costs at most the line being written.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger("feedsvc.journal")


class Journal:
    """Append-only record of (path, first published ns), with None when a path stops being published."""

    def __init__(self, file: Path | None) -> None:
        self._file = file
        self._failed = False

    def read(self) -> dict[str, int]:
        """The last recorded publication time of every path still published."""
        found: dict[str, int] = {}
        if self._file is None:
            return found
        try:
            with open(self._file, encoding="utf-8", errors="surrogateescape") as lines:
                for line in lines:
                    try:
                        path, ns = json.loads(line)
                    except (ValueError, TypeError):
                        continue
                    if not isinstance(path, str):
                        continue
                    if isinstance(ns, int):
                        found[path] = ns
                    else:
                        found.pop(path, None)
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning("cannot read the publication journal %s: %s", self._file, exc.strerror or exc)
        return found

    def append(self, events: Iterable[tuple[str, int | None]]) -> None:
        if self._file is None or self._failed:
            return
        text = "".join(json.dumps([path, ns]) + "\n" for path, ns in events)
        if not text:
            return
        try:
            fd = os.open(self._file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, text.encode("utf-8", "surrogateescape"))
            finally:
                os.close(fd)
        except OSError as exc:  # a full or read-only disk: the index says so on /healthz already
            self._failed = True
            log.error("cannot append to the publication journal %s: %s; publication times of new "
                      "documents will not survive an index rebuild", self._file, exc.strerror or exc)

    def rewrite(self, entries: Iterable[tuple[str, int]]) -> None:
        """Replace the journal with exactly these entries (compaction), atomically."""
        if self._file is None:
            return
        temp = self._file.with_name(self._file.name + ".tmp")
        try:
            temp.write_text("".join(json.dumps([p, ns]) + "\n" for p, ns in entries), encoding="utf-8",
                            errors="surrogateescape")
            os.replace(temp, self._file)
        except OSError as exc:
            log.warning("cannot compact the publication journal %s: %s", self._file, exc.strerror or exc)
