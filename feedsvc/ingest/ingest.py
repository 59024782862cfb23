"""Ingest: bring the index in line with files on disk, reading only what changed."""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import json
import logging
import os
import stat
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from feedsvc.documents.files import (
    NOT_REGULAR,
    SYMLINK,
    classify,
    name_problem,
    read_bounded,
    shown,
    skipped_folder,
)
from feedsvc.documents.model import Lang, Note, Reason, ReasonKind, Rejected
from feedsvc.documents.parse import parse_document
from feedsvc.documents.publications import topics_of
from feedsvc.documents.words import document_words
from feedsvc.ingest import pool
from feedsvc.store.index import NO_VERSIONS, FileState, Index, Row, Versions

log = logging.getLogger("feedsvc.ingest")

# Files per index transaction.
CHUNK = 500
# A file whose mtime is this recent when seen is dated by its mtime (replicas then agree to the
# nanosecond); an older one was copied in with its time preserved, and is dated when seen.
GRACE_NS = 300 * 1_000_000_000
# Clock differences below this between a writer and us are not worth a warning.
FUTURE_SLACK_NS = 2 * 1_000_000_000


class Stat(NamedTuple):
    """The three fields of an lstat a scan keeps: a full os.stat_result costs ~800 bytes a file."""

    st_mode: int
    st_size: int
    st_mtime_ns: int


class RootUnavailable(Exception):
    """The seeds folder itself is missing or unreadable; nothing is removed meanwhile."""


@dataclass(slots=True)
class BatchOutcome:
    """What one batch did; `unsettled` files changed while being read and must be tried again."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    rejected: list[tuple[str, Reason]] = field(default_factory=list)
    touched: int = 0
    unsettled: list[str] = field(default_factory=list)
    views: set[Lang | None] = field(default_factory=set)  # whose entries changed: None is the bilingual one

    @property
    def visible(self) -> bool:
        """Whether any feed can differ after this batch."""
        return bool(self.added or self.changed or self.removed or self.rejected)

    def merge(self, other: BatchOutcome) -> None:
        for name in ("added", "changed", "removed", "rejected", "unsettled"):
            getattr(self, name).extend(getattr(other, name))
        self.touched += other.touched
        self.views |= other.views


class Ingest:
    """Reads files under `root` into the index; runs on the worker thread only."""

    def __init__(self, root: Path, index: Index, *, pattern: str, max_bytes: int,
                 parsers: pool.Parsers | None = None, loader: Callable[[ReadJob], Loaded] | None = None,
                 clock: Callable[[], int] = time.time_ns) -> None:
        self.root = root
        self.index = index
        self.pattern = pattern
        self.max_bytes = max_bytes
        # Without parser processes (tests, tools), files are parsed on the calling thread; a
        # `loader` (a fake parser in tests) replaces reading and parsing, and runs here too.
        self.parsers = None if loader is not None else parsers
        self._load = loader or load
        self._clock = clock
        # Until the first full scan is done on an index that started empty with nothing to recover,
        # files are dated by their mtime: the corpus keeps its order, and replicas agree.
        self._first_scan = index.first_start
        self._root_checked = False
        # Files a writer still holds (set by the loop before each batch): a scan must not read them.
        self.busy: frozenset[str] = frozenset()

    def check_root(self) -> None:
        try:
            with os.scandir(self.root):
                pass
        except OSError as exc:
            raise RootUnavailable(f"seeds folder {str(self.root)!r}: {exc.strerror or exc}") from None

    def scan(self, under: str = "") -> Iterator[tuple[str, Stat]]:
        """Every file below `under` with its lstat, symlinks included, never followed."""
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
                            if not skipped_folder(item.name):  # hidden, or drafts: never published
                                stack.append((item.path, f"{prefix}{item.name}/"))
                        else:
                            yield prefix + item.name, Stat(st.st_mode, st.st_size, _ns(st.st_mtime_ns))
            except OSError as exc:
                if folder == root:
                    reason = "does not exist" if isinstance(exc, FileNotFoundError) else exc.strerror or str(exc)
                    raise RootUnavailable(f"seeds folder {root!r}: {reason}") from None
                if not isinstance(exc, FileNotFoundError):
                    log.warning("cannot list %s: %s", folder, exc.strerror or exc)

    def reconcile(self, under: str = "") -> BatchOutcome:
        """Full scan: every file on disk, and every indexed path that may be gone.

        Files whose stat matches the index are set aside as the scan meets them, so a warm
        start of 100,000 files holds only what changed, not a stat of every file.
        """
        todo: dict[str, Stat] = {}
        present: set[str] = set()
        for rel, st in self.scan(under):
            known = self.index.state(rel)
            if known is not None:
                present.add(rel)
                if _unchanged(known, st) and classify(rel, self.pattern) is None:
                    continue  # what process() would find: nothing to do
            todo[rel] = st
        prefix = f"{under.rstrip('/')}/" if under else ""
        gone = [p for p in self.index.paths() if p.startswith(prefix) and p not in present]
        del present
        outcome = self.process(todo.keys() | gone, todo)
        if not under:
            self._first_scan = False
        return outcome

    def process(self, paths: Iterable[str], stats: dict[str, Stat] | None = None) -> BatchOutcome:
        """Bring each path's index row in line with the file, a transaction per chunk of files.

        `stats` (a scan's lstat per path) is used up as its paths are processed.

        Chunks keep memory flat on a cold start of 100,000 files; each chunk is atomic, and a
        process killed between two chunks converges on the next start.
        """
        outcome = BatchOutcome()
        # Oldest first: rows are then added in the order documents are published, which is the
        # order the search table is read in (Index.page).
        ordered = sorted(set(paths), key=lambda p: (stats[p].st_mtime_ns if stats and p in stats else 0, p))
        self._root_checked = False
        started = time.perf_counter()
        bulk = len(ordered) >= pool.POOL_MIN
        # A line per file is noise on a bulk load: those go to DEBUG, and one line sums them up.
        # Rejections are always logged one by one: each needs somebody's attention.
        level = logging.DEBUG if bulk else logging.INFO
        with self.index.loading() if bulk else contextlib.nullcontext():
            self._chunks(ordered, stats, outcome, level, bulk)
        if bulk:
            if self.parsers is not None:
                self.parsers.end_bulk()
            log.info("bulk load of %d files in %.1f s: %d added, %d changed, %d removed, %d rejected",
                     len(ordered), time.perf_counter() - started, len(outcome.added), len(outcome.changed),
                     len(outcome.removed), len(outcome.rejected))
        return outcome

    def _chunks(self, ordered: list[str], stats: dict[str, Stat] | None, outcome: BatchOutcome, level: int,
                bulk: bool) -> None:
        """Read, parse and write `ordered` a chunk at a time (see process)."""
        previous: Callable[[], None] | None = None
        for start in range(0, len(ordered), CHUNK):
            chunk = _Chunk(outcome, level)
            jobs: list[ReadJob] = []
            for rel in ordered[start:start + CHUNK]:
                if rel in self.busy:
                    continue  # its close event will bring it in
                # Popped, not read: on a cold start of 100,000 files the stats then shrink as the
                # index grows, instead of both peaking together.
                try:
                    result = self._examine(rel, stats.pop(rel, None) if stats else None)
                except RootUnavailable:
                    raise
                except Exception as exc:  # a bug meeting one file rejects that file, never the batch
                    result = self._failed(rel, exc)
                if isinstance(result, ReadJob):
                    jobs.append(result)
                else:
                    self._settle(chunk, rel, result)
            loaded = self._load_all(jobs, bulk)
            # Parser processes work on this chunk while the previous one is written.
            if previous is not None:
                previous()
            previous = functools.partial(self._finish, chunk, jobs, loaded)
        if previous is not None:
            previous()

    def _examine(self, rel: str, before: Stat | None) -> ReadJob | RowChange | Same | None:
        """What one path needs, from its stat alone: a ReadJob to read it, a rejected Row, Same when
        its stat did not move, None when it is not a document."""
        reason = classify(rel, self.pattern)
        if reason is not None:
            log.debug("ignored %s: %s", shown(rel), reason)
            return None
        full = os.path.join(self.root, rel)
        if before is None:
            try:
                st = os.lstat(full)
            except OSError:
                return None
            before = Stat(st.st_mode, st.st_size, _ns(st.st_mtime_ns))
        if stat.S_ISDIR(before.st_mode):
            return None
        known = self.index.state(rel)
        if known is not None and _unchanged(known, before):
            return Same(before.st_size, before.st_mtime_ns)
        if (bad_name := name_problem(rel)) is not None:
            return self._rejected(rel, before.st_size, before.st_mtime_ns, _digest(b"", bad_name), bad_name)
        if not stat.S_ISREG(before.st_mode):
            why = SYMLINK if stat.S_ISLNK(before.st_mode) else NOT_REGULAR
            return self._rejected(rel, before.st_size, before.st_mtime_ns, _digest(b"", why), why)
        return ReadJob(rel, full, before.st_size, before.st_mtime_ns, known.hash if known else None, self.max_bytes)

    def _load_all(self, jobs: list[ReadJob], bulk: bool) -> Callable[[], Iterable[Loaded]]:
        """Start reading and parsing `jobs` in the parser processes (here without them); the
        returned call gives the results in order."""
        # Asked for only when there is work: a warm start that finds nothing to read must not
        # wait for the fork server to load the language models (~1.3 s; Service.start has the
        # first process forked meanwhile, on another thread).
        executor = self.parsers.executor() if self.parsers is not None and jobs else None
        if executor is not None:
            try:
                # A bulk load spreads over the processes in tasks of 64 files; anything else is one
                # task, so it never forks a second process that would then idle.
                chunksize = 64 if bulk else len(jobs)
                results = executor.map(load, jobs, chunksize=chunksize)  # runs while we go on
                return lambda: results
            except (BrokenProcessPool, OSError) as exc:
                done = self._load_here(jobs, f"parser processes unavailable ({exc})")
                return lambda: done
        done = [self._load(job) for job in jobs]
        return lambda: done

    def _load_here(self, jobs: list[ReadJob], why: str) -> list[Loaded]:
        """Parse `jobs` on this thread after the parser processes failed; the next batch gets new ones."""
        log.warning("%s; parsing %d files here", why, len(jobs))
        if self.parsers is not None:
            self.parsers.close()
        return [self._load(job) for job in jobs]

    def _finish(self, chunk: _Chunk, jobs: list[ReadJob], loaded: Callable[[], Iterable[Loaded]]) -> None:
        """Write one chunk once its files are read and parsed."""
        try:
            results = list(loaded())
        except BrokenProcessPool:
            results = self._load_here(jobs, "a parser process died")
        for job, result in zip(jobs, results):
            if isinstance(result, Read):
                try:
                    change = self._row(job.rel, result)
                except Exception as exc:  # one file's bug is that file's rejection
                    change = self._failed(job.rel, exc)
                self._settle(chunk, job.rel, change)
            else:
                self._settle(chunk, job.rel, result)
        for row in chunk.rows:
            self._log_row(row, self.index.state(row.path), chunk.outcome, chunk.level)
        self.index.write(chunk.rows, chunk.removed, chunk.touched)

    def _settle(self, chunk: _Chunk, rel: str, result: RowChange | Same | Unsettled | None) -> None:
        """File one path's result under the chunk's writes."""
        known = self.index.state(rel)
        if isinstance(result, RowChange) and known is not None and \
                (known.reason, known.hash) == (result.row.state.reason, result.row.state.hash):
            # Rejected again for the same reason (a file still unreadable): say it once.
            result = Same(result.row.state.size, result.row.state.mtime_ns)
        if result is None:
            if known is not None:
                if not self._root_checked:
                    self.check_root()  # a vanished folder must not empty the feeds
                    self._root_checked = True
                chunk.removed.append(rel)
                chunk.outcome.removed.append(rel)
                if known.reason is None:
                    chunk.outcome.views |= {None, *known.langs}
                log.log(chunk.level, "document removed: %s", shown(rel))
        elif isinstance(result, Unsettled):
            chunk.outcome.unsettled.append(rel)
        elif isinstance(result, Same):
            if known and (known.size, known.mtime_ns) != (result.size, result.mtime_ns):
                chunk.touched.append((rel, result.size, result.mtime_ns))
                chunk.outcome.touched += 1
        else:
            chunk.rows.append(result.row)
            chunk.outcome.views |= result.views

    @staticmethod
    def _log_row(row: Row, known: FileState | None, outcome: BatchOutcome, level: int) -> None:
        rel = row.path
        if row.state.reason is not None:
            outcome.rejected.append((rel, row.state.reason))
            log.warning("document rejected: %s: %s", shown(rel), row.state.reason)
        elif known is None or known.reason is not None:
            outcome.added.append(rel)
            if row.warned and row.record is not None and log.isEnabledFor(level):
                # The record is read again only here: a line that says "accepted" and nothing else
                # hid that a Russian summary cost the /uk/ feeds; the count and the first warning
                # send the reader to `feedsvc check` or /status for the rest.
                warnings = [Note.from_json(w) for w in json.loads(row.record)["warnings"]]
                warned = [w for w in warnings if not w.info]
                log.log(level, "document accepted with %d warning%s: %s (%s): %s", len(warned),
                        "" if len(warned) == 1 else "s", shown(rel), ",".join(row.state.langs),
                        shown(str(warned[0])) if warned else "")
            else:
                log.log(level, "document accepted: %s (%s)", shown(rel), ",".join(row.state.langs))
        else:
            outcome.changed.append(rel)
            log.log(level, "document changed: %s", shown(rel))

    def _seen(self, rel: str, mtime_ns: int, ctime_ns: int) -> int:
        """When the service saw this version of the file: its mtime when that is believable (just
        written, or the first scan of a new index); else, for a copy that kept an old mtime
        (cp -p, rsync -a), its recent ctime, the moment it was copied in, which every replica
        reading the same folder sees alike; else now. Never later than now."""
        now = self._clock()
        if mtime_ns > now + FUTURE_SLACK_NS:
            log.warning("file time of %s is %.0f s in the future; dated now instead", shown(rel),
                        (mtime_ns - now) / 1e9)
        if self._first_scan or now - GRACE_NS <= mtime_ns <= now:
            return min(mtime_ns, now)
        if now - GRACE_NS <= ctime_ns <= now:
            return ctime_ns
        return now  # edited while the service was stopped, long ago

    def _row(self, rel: str, loaded: Read) -> RowChange:
        if isinstance(loaded.parsed, Reason):
            return self._rejected(rel, loaded.size, loaded.mtime_ns, loaded.digest, loaded.parsed)
        parsed = loaded.parsed
        known = self.index.state(rel)
        seen = self._seen(rel, loaded.mtime_ns, loaded.ctime_ns)
        was_published = known is not None and known.reason is None
        if was_published:
            assert known is not None
            published, old = known.published_ns, self.index.versions(rel)
        else:
            published, old = self.index.recovered(rel) or seen, NO_VERSIONS
        en, uk = parsed.digests
        pairs: tuple[tuple[Lang, int, int], ...] = (("en", en, old.digest_en), ("uk", uk, old.digest_uk))
        changed: set[Lang] = {lang for lang, new, before in pairs if new != before or not was_published}
        languages: set[Lang] = set(parsed.languages)
        old_langs: set[Lang] = set(known.langs) if was_published and known is not None else set()
        views: set[Lang | None] = {*(languages ^ old_langs), *(changed & (languages | old_langs))}
        # An entry is never updated before it was published (a file copied in with an old mtime).
        versions = Versions(
            updated_ns=max(published, seen) if changed or not was_published else old.updated_ns,
            updated_en_ns=max(published, seen) if "en" in changed else old.updated_en_ns,
            updated_uk_ns=max(published, seen) if "uk" in changed else old.updated_uk_ns,
            digest_en=en, digest_uk=uk)
        state = FileState(loaded.digest, loaded.size, loaded.mtime_ns, published, parsed.languages, None)
        if changed or not was_published:
            views.add(None)
        return RowChange(Row(rel, state, parsed.record, versions, parsed.warned, parsed.words, parsed.topics),
                      frozenset(views))

    def _failed(self, rel: str, exc: Exception) -> RowChange:
        log.error("handling %s failed; it is rejected, the rest of the batch goes on", shown(rel), exc_info=exc)
        reason = Reason(ReasonKind.INTERNAL, f"internal error handling this file: {type(exc).__name__}: {exc}")
        known = self.index.state(rel)
        size, mtime = (known.size, known.mtime_ns) if known is not None else (0, 0)
        return self._rejected(rel, size, mtime, _digest(b"", reason), reason)

    def _rejected(self, rel: str, size: int, mtime_ns: int, digest: bytes, reason: Reason) -> RowChange:
        known = self.index.state(rel)
        # A published document that is now rejected leaves its views.
        views = frozenset((None, *known.langs)) if known is not None and known.reason is None else frozenset()
        return RowChange(Row(rel, FileState(digest, size, mtime_ns, 0, (), reason), None, NO_VERSIONS), views)


class ReadJob(NamedTuple):
    """One file to read and parse, perhaps in a parser process: tuples pickle fastest."""

    rel: str
    full: str
    size: int  # the stat the scan saw; a file that moved since is read again later
    mtime_ns: int
    known_hash: bytes | None
    max_bytes: int


class RowChange(NamedTuple):
    """One row to write, and the views (None: the bilingual one) whose entries it changes."""

    row: Row
    views: frozenset[Lang | None]


class Parsed(NamedTuple):
    """What the index keeps of an accepted document: its JSON record and what the feeds sort by."""

    record: str
    languages: tuple[Lang, ...]
    digests: tuple[int, int]  # what the English and the Ukrainian entry show (Document.digest)
    warned: bool
    words: str  # what search matches
    topics: tuple[tuple[str, str, str], ...]  # (kind, slug, name) of its publication and authors


class Read(NamedTuple):
    """A file as read: its stat, its digest, and its parse, or the reason it is rejected."""

    size: int
    mtime_ns: int
    digest: bytes
    parsed: Parsed | Reason
    ctime_ns: int = 0  # when the file got its name or its times here (a copy's rename, utime)


def _ns(value: int) -> int:
    """A file time as SQLite can store it: ext4 allows years past 2262, which overflow int64 ns."""
    return max(-(1 << 63), min(value, (1 << 63) - 1))


def _unchanged(known: FileState, st: Stat) -> bool:
    """Whether a file's stat is the one the index has; a read error is retried all the same."""
    return (known.size, known.mtime_ns) == (st.st_size, st.st_mtime_ns) and \
        not (known.reason is not None and known.reason.retried)


def _digest(data: bytes, reason: Reason | None = None) -> bytes:
    """The hash a file's row keeps; a rejection's includes its reason, so a new reason is news."""
    return hashlib.sha256(data if reason is None else data + str(reason).encode()).digest()


def load(job: ReadJob) -> Loaded:
    """Read, digest and parse one file (see Loaded); runs in a parser process, so it never raises."""
    try:
        data, after = read_bounded(job.full, job.max_bytes)
    except FileNotFoundError:
        return None
    except Rejected as exc:  # swapped for a FIFO or the like since the lstat
        return Read(job.size, job.mtime_ns, _digest(b"", exc.reason), exc.reason)
    except OSError as exc:
        if exc.errno in (errno.EMFILE, errno.ENFILE):  # our limit, not the file's fault: read it again later
            return Unsettled()
        reason = Reason(ReasonKind.UNREADABLE, f"cannot read: {exc.strerror or exc}")
        return Read(job.size, job.mtime_ns, _digest(b"", reason), reason)
    mtime_ns = _ns(after.st_mtime_ns)
    if (after.st_size, mtime_ns) != (job.size, job.mtime_ns) or \
            (len(data) != after.st_size and len(data) <= job.max_bytes):
        return Unsettled()
    digest = _digest(data)
    if digest == job.known_hash:
        return Same(after.st_size, mtime_ns)
    try:
        document = parse_document(data, job.rel, max_bytes=job.max_bytes)
    except Rejected as exc:
        return Read(after.st_size, mtime_ns, _digest(data, exc.reason), exc.reason)
    except Exception as exc:
        reason = Reason(ReasonKind.PARSER_ERROR, f"parser error: {type(exc).__name__}: {exc}")
        return Read(after.st_size, mtime_ns, _digest(data, reason), reason)
    record = json.dumps(document.to_json(), ensure_ascii=False, separators=(",", ":"))
    digests = (document.digest("en"), document.digest("uk"))
    parsed = Parsed(record, document.languages, digests, document.warned, document_words(document),
                    topics_of(document))
    return Read(after.st_size, mtime_ns, digest, parsed, _ns(after.st_ctime_ns))


@dataclass(slots=True)
class _Chunk:
    """The writes one transaction will make, gathered as the chunk's files are settled."""

    outcome: BatchOutcome
    level: int
    rows: list[Row] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    touched: list[tuple[str, int, int]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Same:
    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class Unsettled:
    pass


# What reading one file gives: its parse, Same when its bytes are what the index has,
# Unsettled when it changed while read, None when it is gone.
Loaded = Read | Same | Unsettled | None
