"""Ingest: bring the index in line with files on disk, reading only what changed."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from .index import FileState, Index, Row
from .model import Document, DocumentError, document_id
from .reader import classify, parse_document

log = logging.getLogger("feedsvc.ingest")

# Rejections with this prefix are retried even when the file's stat is unchanged (chmod moves only ctime).
_READ_ERROR = "cannot read:"


class RootUnavailable(Exception):
    """The seeds folder itself is missing or unreadable; nothing is removed meanwhile."""


@dataclass(slots=True)
class Outcome:
    """What one batch did; `unsettled` files changed while being read and must be tried again."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    touched: int = 0
    unsettled: list[str] = field(default_factory=list)

    @property
    def visible(self) -> bool:
        """Whether any feed can differ after this batch."""
        return bool(self.added or self.changed or self.removed or self.rejected)

    def merge(self, other: Outcome) -> None:
        for name in ("added", "changed", "removed", "rejected", "unsettled"):
            getattr(self, name).extend(getattr(other, name))
        self.touched += other.touched


def _date_ns(date: dt.date) -> int:
    """A document date as midnight UTC, so every process derives the same instant."""
    return int(dt.datetime(date.year, date.month, date.day, tzinfo=dt.timezone.utc).timestamp()) * 1_000_000_000


class Ingest:
    """Reads files under `root` into the index; runs on the worker thread only."""

    def __init__(self, root: Path, index: Index, *, pattern: str, max_bytes: int) -> None:
        self.root = root
        self.index = index
        self.pattern = pattern
        self.max_bytes = max_bytes

    def check_root(self) -> None:
        try:
            with os.scandir(self.root):
                pass
        except OSError as exc:
            raise RootUnavailable(f"seeds folder {str(self.root)!r}: {exc.strerror or exc}") from None

    def scan(self, under: str = "") -> set[str]:
        """Relative paths of every file below `under`, symlinks included, never followed."""
        found: set[str] = set()
        start = self.root / under if under else self.root
        if under:
            self.check_root()
        stack = [start]
        while stack:
            folder = stack.pop()
            try:
                with os.scandir(folder) as it:
                    for item in it:
                        rel = Path(item.path).relative_to(self.root).as_posix()
                        if item.is_dir(follow_symlinks=False):
                            if not item.name.startswith("."):
                                stack.append(Path(item.path))
                        else:
                            found.add(rel)
            except FileNotFoundError:
                if folder == self.root:
                    raise RootUnavailable(f"seeds folder {str(self.root)!r} does not exist") from None
            except OSError as exc:
                if folder == self.root:
                    raise RootUnavailable(f"seeds folder {str(self.root)!r}: {exc.strerror or exc}") from None
                log.warning("cannot list %s: %s", folder, exc.strerror or exc)
        return found

    def reconcile(self, under: str = "") -> Outcome:
        """Full scan: every file on disk, and every indexed path that may be gone."""
        on_disk = self.scan(under)
        prefix = f"{under.rstrip('/')}/" if under else ""
        known = {p for p in self.index.paths() if p.startswith(prefix)}
        return self.process(on_disk | known)

    def process(self, paths: Iterable[str]) -> Outcome:
        """Bring each path's index row in line with the file, in one transaction."""
        outcome = Outcome()
        rows: list[Row] = []
        removed: list[str] = []
        touched: list[tuple[str, int, int]] = []
        root_checked = False
        for rel in sorted(set(paths)):
            result = self._one(rel)
            known = self.index.state(rel)
            if result is None:
                if known is not None:
                    if not root_checked:
                        self.check_root()  # a vanished folder must not empty the feeds
                        root_checked = True
                    removed.append(rel)
                    outcome.removed.append(rel)
                    log.info("document removed: %s", rel)
            elif isinstance(result, _Unsettled):
                outcome.unsettled.append(rel)
            elif isinstance(result, _Same):
                if known and (known.size, known.mtime_ns) != (result.size, result.mtime_ns):
                    touched.append((rel, result.size, result.mtime_ns))
                    outcome.touched += 1
            else:
                rows.append(result)
                if result.state.reason is not None:
                    outcome.rejected.append((rel, result.state.reason))
                    log.warning("document rejected: %s: %s", rel, result.state.reason)
                elif known is None or known.reason is not None:
                    outcome.added.append(rel)
                    log.info("document accepted: %s (%s)", rel, ",".join(result.state.langs))
                else:
                    outcome.changed.append(rel)
                    log.info("document changed: %s", rel)
        self.index.write(rows, removed, touched)
        return outcome

    def _one(self, rel: str) -> Row | _Same | _Unsettled | None:
        """The new row for one path, _Same when its bytes did not change, None when it is not a document."""
        reason = classify(rel, self.pattern)
        if reason is not None:
            log.debug("ignored %s: %s", rel, reason)
            return None
        full = self.root / rel
        try:
            before = os.lstat(full)
        except OSError:
            return None
        if stat.S_ISDIR(before.st_mode):
            return None
        known = self.index.state(rel)
        if known is not None and (known.size, known.mtime_ns) == (before.st_size, before.st_mtime_ns) \
                and not (known.reason or "").startswith(_READ_ERROR):
            return _Same(before.st_size, before.st_mtime_ns)
        if stat.S_ISLNK(before.st_mode):
            return self._rejected(rel, before, b"", "symbolic link: not followed, not published")
        if not stat.S_ISREG(before.st_mode):
            return self._rejected(rel, before, b"", "not a regular file")
        try:
            data, after = self._read(full)
        except FileNotFoundError:
            return None
        except OSError as exc:
            return self._rejected(rel, before, b"", f"{_READ_ERROR} {exc.strerror or exc}")
        if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns) or \
                (len(data) != after.st_size and len(data) <= self.max_bytes):
            return _Unsettled()
        digest = hashlib.sha256(data).hexdigest()
        if known is not None and known.hash == digest:
            return _Same(after.st_size, after.st_mtime_ns)
        try:
            document = parse_document(data, rel, max_bytes=self.max_bytes)
        except DocumentError as exc:
            return self._rejected(rel, after, data, exc.reason)
        return self._accepted(rel, after, digest, document)

    def _read(self, full: Path) -> tuple[bytes, os.stat_result]:
        # O_NOFOLLOW: a file swapped for a symlink after lstat is still not followed.
        fd = os.open(full, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        try:
            chunks, left = [], self.max_bytes + 1
            while left > 0:
                chunk = os.read(fd, min(left, 1 << 20))
                if not chunk:
                    break
                chunks.append(chunk)
                left -= len(chunk)
            return b"".join(chunks), os.fstat(fd)
        finally:
            os.close(fd)

    def _first_seen(self, rel: str, mtime_ns: int) -> int:
        known = self.index.state(rel)
        return known.first_seen_ns if known is not None else mtime_ns

    def _accepted(self, rel: str, st: os.stat_result, digest: str, document: Document) -> Row:
        first_seen = self._first_seen(rel, st.st_mtime_ns)
        published = _date_ns(document.date) if document.date else first_seen
        state = FileState(document.id, digest, st.st_size, st.st_mtime_ns, first_seen, document.languages, None)
        return Row(rel, state, document, published, st.st_mtime_ns)

    def _rejected(self, rel: str, st: os.stat_result, data: bytes, reason: str) -> Row:
        digest = hashlib.sha256(data + reason.encode()).hexdigest()
        state = FileState(document_id(rel), digest, st.st_size, st.st_mtime_ns,
                          self._first_seen(rel, st.st_mtime_ns), (), reason)
        return Row(rel, state, None, 0, st.st_mtime_ns)


@dataclass(frozen=True, slots=True)
class _Same:
    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class _Unsettled:
    pass
