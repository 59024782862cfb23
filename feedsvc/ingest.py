"""Ingest: bring the index in line with files on disk, reading only what changed."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import multiprocessing
import os
import stat
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, NamedTuple

from .index import FileState, Index, Row
from .model import Document, DocumentError, Rejected, document_id
from .language import warm_up
from .reader import SYMLINK, classify, parse_document, read_bounded

log = logging.getLogger("feedsvc.ingest")

# Rejections with this prefix are retried even when the file's stat is unchanged (chmod moves only ctime).
_READ_ERROR = "cannot read:"
# Files per index transaction.
CHUNK = 500
# Below this many files in one batch, parsing in this process is faster than starting a pool.
POOL_MIN = 1000


class Stat(NamedTuple):
    """The three fields of an lstat a scan keeps: a full os.stat_result costs ~800 bytes a file."""

    st_mode: int
    st_size: int
    st_mtime_ns: int


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
        self._pool: ProcessPoolExecutor | None = None
        # Files a writer still holds (set by the loop before each batch): a scan must not read them.
        self.busy: frozenset[str] = frozenset()

    def check_root(self) -> None:
        try:
            with os.scandir(self.root):
                pass
        except OSError as exc:
            raise RootUnavailable(f"seeds folder {str(self.root)!r}: {exc.strerror or exc}") from None

    def scan(self, under: str = "") -> dict[str, Stat]:
        """Every file below `under` with its lstat, symlinks included, never followed."""
        found: dict[str, Stat] = {}
        root = os.fspath(self.root)
        if under:
            self.check_root()
        stack = [(os.path.join(root, under) if under else root, f"{under}/" if under else "")]
        while stack:
            folder, prefix = stack.pop()
            try:
                with os.scandir(folder) as it:
                    for item in it:
                        try:
                            st = item.stat(follow_symlinks=False)
                        except OSError:
                            continue  # gone between listing and stat
                        if stat.S_ISDIR(st.st_mode):
                            if not item.name.startswith("."):
                                stack.append((item.path, f"{prefix}{item.name}/"))
                        else:
                            found[prefix + item.name] = Stat(st.st_mode, st.st_size, st.st_mtime_ns)
            except OSError as exc:
                if folder == root:
                    reason = "does not exist" if isinstance(exc, FileNotFoundError) else exc.strerror or str(exc)
                    raise RootUnavailable(f"seeds folder {root!r}: {reason}") from None
                if not isinstance(exc, FileNotFoundError):
                    log.warning("cannot list %s: %s", folder, exc.strerror or exc)
        return found

    def reconcile(self, under: str = "") -> Outcome:
        """Full scan: every file on disk, and every indexed path that may be gone."""
        on_disk = self.scan(under)
        prefix = f"{under.rstrip('/')}/" if under else ""
        known = {p for p in self.index.paths() if p.startswith(prefix)}
        return self.process(on_disk.keys() | known, on_disk)

    def process(self, paths: Iterable[str], stats: dict[str, Stat] | None = None) -> Outcome:
        """Bring each path's index row in line with the file, a transaction per chunk of files.

        Chunks keep memory flat on a cold start of 100,000 files; each chunk is atomic, and a
        process killed between two chunks converges on the next start.
        """
        outcome = Outcome()
        ordered = sorted(set(paths))
        root_checked = False
        # Parser processes pay off only on a bulk load: starting them costs about a second.
        bulk = len(ordered) >= POOL_MIN and len(os.sched_getaffinity(0)) > 1
        previous: Callable[[], None] | None = None
        for start in range(0, len(ordered), CHUNK):
            rows: list[Row] = []
            removed: list[str] = []
            touched: list[tuple[str, int, int]] = []
            reads: list[_Read] = []
            for rel in ordered[start:start + CHUNK]:
                if rel in self.busy:
                    continue  # its close event will bring it in
                result = self._one(rel, stats.get(rel) if stats else None)
                known = self.index.state(rel)
                if isinstance(result, Row) and known is not None and \
                        (known.reason, known.hash) == (result.state.reason, result.state.hash):
                    # Rejected again for the same reason (a file still unreadable): say it once.
                    result = _Same(result.state.size, result.state.mtime_ns)
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
                elif isinstance(result, _Read):
                    reads.append(result)
                elif isinstance(result, _Same):
                    if known and (known.size, known.mtime_ns) != (result.size, result.mtime_ns):
                        touched.append((rel, result.size, result.mtime_ns))
                        outcome.touched += 1
                else:
                    rows.append(result)
            parsed = self._parse_all(reads, bulk)
            # Parser processes work on this chunk while the previous one is written.
            if previous is not None:
                previous()
            previous = functools.partial(self._finish, rows, parsed, removed, touched, outcome)
        if previous is not None:
            previous()
        if bulk:
            self.close_pool()
        return outcome

    def _finish(self, rows: list[Row], parsed: Callable[[], list[Row]], removed: list[str],
                touched: list[tuple[str, int, int]], outcome: Outcome) -> None:
        """Write one chunk once its documents are parsed."""
        rows = rows + parsed()
        for row in rows:
            self._log_row(row, self.index.state(row.path), outcome)
        self.index.write(rows, removed, touched)

    @staticmethod
    def _log_row(row: Row, known: FileState | None, outcome: Outcome) -> None:
        rel = row.path
        if row.state.reason is not None:
            outcome.rejected.append((rel, row.state.reason))
            log.warning("document rejected: %s: %s", rel, row.state.reason)
        elif known is None or known.reason is not None:
            outcome.added.append(rel)
            log.info("document accepted: %s (%s)", rel, ",".join(row.state.langs))
        else:
            outcome.changed.append(rel)
            log.info("document changed: %s", rel)

    def _one(self, rel: str, before: Stat | os.stat_result | None = None) -> Row | _Read | _Same | _Unsettled | None:
        """What one path needs: its bytes to parse (_Read), a rejected Row, _Same when its bytes did
        not change, _Unsettled when it changed while read, None when it is not a document."""
        reason = classify(rel, self.pattern)
        if reason is not None:
            log.debug("ignored %s: %s", rel, reason)
            return None
        full = os.path.join(self.root, rel)
        if before is None:
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
            return self._rejected(rel, before, b"", SYMLINK)
        if not stat.S_ISREG(before.st_mode):
            return self._rejected(rel, before, b"", "not a regular file")
        try:
            data, after = read_bounded(full, self.max_bytes)
        except FileNotFoundError:
            return None
        except Rejected as exc:  # swapped for a FIFO or the like since the lstat
            return self._rejected(rel, before, b"", exc.reason)
        except OSError as exc:
            return self._rejected(rel, before, b"", f"{_READ_ERROR} {exc.strerror or exc}")
        if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns) or \
                (len(data) != after.st_size and len(data) <= self.max_bytes):
            return _Unsettled()
        digest = hashlib.sha256(data).hexdigest()
        if known is not None and known.hash == digest:
            return _Same(after.st_size, after.st_mtime_ns)
        return _Read(rel, after, digest, data)

    def _parse_all(self, reads: list[_Read], bulk: bool) -> Callable[[], list[Row]]:
        """Start parsing what was read, across processes on a bulk load, else here; the returned
        call gives the rows."""
        jobs = [(r.data, r.rel, self.max_bytes) for r in reads]
        results: Iterable[Document | str]
        if bulk and jobs:
            if self._pool is None:
                context = multiprocessing.get_context("forkserver")
                # Workers fork from a server that has imported the parser already.
                context.set_forkserver_preload(["feedsvc.reader"])
                self._pool = ProcessPoolExecutor(len(os.sched_getaffinity(0)), mp_context=context,
                                                 initializer=warm_up)
            results = self._pool.map(parse_job, jobs, chunksize=64)  # submitted now, collected later
        else:
            results = [parse_job(job) for job in jobs]

        def rows() -> list[Row]:
            return [self._accepted(r.rel, r.st, r.digest, result) if isinstance(result, Document)
                    else self._rejected(r.rel, r.st, r.data, result) for r, result in zip(reads, results)]
        return rows

    def close_pool(self) -> None:
        """Let the parser processes go once a bulk load is over; they cost memory."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def _first_seen(self, rel: str, mtime_ns: int) -> int:
        known = self.index.state(rel)
        return known.first_seen_ns if known is not None else mtime_ns

    def _accepted(self, rel: str, st: os.stat_result, digest: str, document: Document) -> Row:
        first_seen = self._first_seen(rel, st.st_mtime_ns)
        published = _date_ns(document.date) if document.date else first_seen
        state = FileState(document.id, digest, st.st_size, st.st_mtime_ns, first_seen, document.languages, None)
        return Row(rel, state, document, published, st.st_mtime_ns)

    def _rejected(self, rel: str, st: Stat | os.stat_result, data: bytes, reason: str) -> Row:
        digest = hashlib.sha256(data + reason.encode()).hexdigest()
        state = FileState(document_id(rel), digest, st.st_size, st.st_mtime_ns,
                          self._first_seen(rel, st.st_mtime_ns), (), reason)
        return Row(rel, state, None, 0, st.st_mtime_ns)


def parse_job(job: tuple[bytes, str, int]) -> Document | str:
    """A document or the reason it is rejected; runs in a parser process, so it never raises."""
    data, rel, max_bytes = job
    try:
        return parse_document(data, rel, max_bytes=max_bytes)
    except DocumentError as exc:
        return exc.reason
    except Exception as exc:  # noqa: BLE001 - a parser bug rejects one file, never the batch
        return f"parser error: {type(exc).__name__}: {exc}"


@dataclass(frozen=True, slots=True)
class _Read:
    rel: str
    st: os.stat_result
    digest: str
    data: bytes


@dataclass(frozen=True, slots=True)
class _Same:
    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class _Unsettled:
    pass
