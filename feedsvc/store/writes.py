"""The index's writes: a batch of files' rows in one transaction, and the memory of every file's
state that each write keeps in step, so the ingest reconciles and the main views count without SQL."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import astuple, dataclass

from feedsvc.documents.model import Lang, Reason, ReasonKind, document_id
from feedsvc.store.db import Database
from feedsvc.store.journal import Journal

log = logging.getLogger("feedsvc.index")


@dataclass(frozen=True, slots=True)
class FileState:
    """What the index remembers of one file, kept in memory to reconcile without SQL.

    One per file, so it is kept small: the id follows from the path, and the hash is the raw digest.
    """

    hash: bytes  # sha256 of the file's bytes (for a rejection, of the bytes and the reason)
    size: int
    mtime_ns: int
    published_ns: int  # when first published (0 for a file never published)
    langs: tuple[Lang, ...]
    reason: Reason | None  # None when the file is a published document


@dataclass(frozen=True, slots=True)
class Versions:
    """When each view's entry of a document last changed, and hashes of what each language shows."""

    updated_ns: int
    updated_en_ns: int
    updated_uk_ns: int
    digest_en: int
    digest_uk: int


NO_VERSIONS = Versions(0, 0, 0, 0, 0)


@dataclass(frozen=True, slots=True)
class Row:
    """One write to the index: the file's state plus its document's JSON record, if accepted."""

    path: str
    state: FileState
    record: str | None
    versions: Versions
    warned: bool = False  # the document carries warnings (the newsroom's status page lists those first)
    words: str = ""  # what search matches (documents.words.document_words)
    topics: tuple[tuple[str, str, str], ...] = ()  # (kind, slug, name): its publication and authors


@dataclass(frozen=True, slots=True)
class Summary:
    """Counts and rejections after the last write, replaced whole: the event loop reads it while
    the worker writes."""

    counts: dict[Lang | None, int]
    rejected: tuple[tuple[str, Reason], ...]


class Writes(Database):
    """The writes over the shared connection (a mixin of Index), and the in-memory file states they
    keep in step: the states, the main views' totals and the rejections."""

    def _remember(self, states: dict[str, FileState], journal: Journal) -> None:
        """Start the memory from the rows read at opening; `journal` gets every publication's change."""
        self._lock = threading.Lock()
        self._journal = journal
        self._states: dict[str, FileState] = {}
        self._totals: dict[Lang | None, int] = {None: 0, "en": 0, "uk": 0}
        self._rejected: dict[str, Reason] = {}
        for path, state in states.items():
            self._set_state(path, state)
        # Bumped by every write: bytes rendered at one generation show one state of the folder.
        self.generation = 0
        self.summary = self._summarise()

    # -- the memory: read without SQL ------------------------------------------------------

    def state(self, path: str) -> FileState | None:
        return self._states.get(path)

    def paths(self) -> Iterable[str]:
        return self._states.keys()

    def _holds_files(self) -> bool:
        # From memory: a name SQLite cannot hold is a file the index holds too (see write).
        return bool(self._states)

    def _summarise(self) -> Summary:
        return Summary(dict(self._totals), tuple(sorted(self._rejected.items())))

    def _set_state(self, path: str, state: FileState | None) -> None:
        """Replace one file's state, keeping the per-view totals and rejections in step (O(1))."""
        old = self._states.pop(path, None) if state is None else self._states.get(path)
        for sign, s in ((-1, old), (1, state)):
            if s is None:
                continue
            if s.reason is None:
                self._totals[None] += sign
                for lang in s.langs:
                    self._totals[lang] += sign
            elif sign > 0:
                self._rejected[path] = s.reason
            else:
                self._rejected.pop(path, None)
        if state is not None:
            self._states[path] = state

    # -- writing ---------------------------------------------------------------------------

    def write(self, rows: Iterable[Row], removed: Iterable[str] = (),
              touched: Iterable[tuple[str, int, int]] = ()) -> None:
        """Apply a batch in one transaction: a kill at any moment leaves the old or the new state.

        `touched` are (path, size, mtime_ns) of files whose stat moved but whose bytes did not.
        """
        rows, removed, touched = list(rows), list(removed), list(touched)
        if not rows and not removed and not touched:
            return
        # A name SQLite cannot hold (not UTF-8) is only ever a rejection: it is kept in memory and
        # found again by the next start's scan.
        stored = [r for r in rows if _storable(r.path)]
        removed_stored = [p for p in removed if _storable(p)]
        touched_stored = [t for t in touched if _storable(t[0])]
        journal = [(r.path, r.state.published_ns if r.state.reason is None else None) for r in stored
                   if self._published_changes(r.path, r.state)]
        journal += [(path, None) for path in removed_stored if self._published_changes(path, None)]
        try:
            self._execute_batch(stored, removed_stored, touched_stored)
        except sqlite3.Error as exc:
            if self._location == ":memory:":
                raise
            self._fall_back_to_memory(exc)
            self._execute_batch(stored, removed_stored, touched_stored)
        except (OverflowError, ValueError) as exc:
            # One row the database cannot hold must not cost the others their place.
            log.error("a batch could not be written (%s); writing its %d rows one by one", exc, len(stored))
            rows = self._write_one_by_one(rows, stored, removed_stored, touched_stored)
        self._journal.append(journal)
        for path, size, mtime_ns in touched:
            old = self._states[path]
            self._states[path] = FileState(old.hash, size, mtime_ns, old.published_ns, old.langs, old.reason)
        for r in rows:
            self._set_state(r.path, r.state)
        for path in removed:
            self._set_state(path, None)
        if rows or removed:  # a stat that moved without its bytes changes no feed
            self.generation += 1
            self.summary = self._summarise()

    def _write_one_by_one(self, rows: list[Row], stored: list[Row], removed: list[str],
                          touched: list[tuple[str, int, int]]) -> list[Row]:
        """The rows of a failed batch written singly; a row that still fails becomes its file's
        rejection, kept in memory."""
        self._execute_batch([], removed, touched)
        failed: dict[str, Row] = {}
        for row in stored:
            try:
                self._execute_batch([row], [], [])
            except (OverflowError, ValueError) as exc:
                reason = Reason(ReasonKind.INTERNAL, f"cannot be indexed: {type(exc).__name__}: {exc}")
                failed[row.path] = Row(row.path, FileState(row.state.hash, row.state.size, row.state.mtime_ns, 0,
                                                           (), reason), None, row.versions)
        return [failed.get(r.path, r) for r in rows]

    def _published_changes(self, path: str, new: FileState | None) -> bool:
        """Whether a write starts or ends the publication of `path`, or moves its time (journal-worthy)."""
        old = self._states.get(path)
        was = old.published_ns if old is not None and old.reason is None else None
        now = new.published_ns if new is not None and new.reason is None else None
        return was != now

    def _execute_batch(self, rows: Sequence[Row], removed: list[str], touched: list[tuple[str, int, int]]) -> None:
        # Each statement writes many rows in one step (a VALUES list): executemany takes the GIL
        # back for every row, and while another thread of ours computes (a bulk load's result
        # reader), each take waits out the switch interval: 10,000 rows took ~5 s, not 0.4.
        gone = [(p,) for p in (*(r.path for r in rows), *removed)]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                each = functools.partial(_each, self._db)
                each("DELETE FROM search WHERE rowid IN (SELECT rowid FROM documents WHERE path IN ({}))", gone)
                each("DELETE FROM topics WHERE path IN ({})", gone)
                each(_UPSERT, [_params(r) for r in rows])
                each("DELETE FROM documents WHERE path IN ({})", [(p,) for p in removed])
                each("INSERT INTO search (rowid, words) SELECT d.rowid, v.column2 FROM ({}) v "
                     "JOIN documents d ON d.path = v.column1", [(r.path, r.words) for r in rows if r.words])
                each("INSERT INTO topics {}", [(r.path, *topic) for r in rows for topic in r.topics])
                each("UPDATE documents SET size = v.column2, mtime_ns = v.column3 FROM ({}) v WHERE path = v.column1",
                     touched)
                self._db.execute("COMMIT")
            except BaseException:
                # SQLite has often rolled back by itself (a full disk): a failing ROLLBACK must not
                # hide the error that matters ("cannot rollback - no transaction is active").
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
                raise


def _storable(path: str) -> bool:
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_COLUMNS = ("path", "id", "hash", "size", "mtime_ns", "record", "reason", "published_ns", "updated_ns", "updated_en_ns",
            "updated_uk_ns", "digest_en", "digest_uk", "has_en", "has_uk", "warned")
# An upsert, not INSERT OR REPLACE: the row keeps its rowid, which is the search table's key.
_UPSERT = ("INSERT INTO documents {} ON CONFLICT (path) DO UPDATE SET "
           + ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS[1:]))
# Rows per statement, at most; statements of 2**k rows only. The connection keeps its last 128
# statements prepared, and one of 500 rows holds ~0.6 MB: with a statement per row count, that
# cache took ~80 MB at a 100,000-file cold start. Eight sizes per kind of write keep it to a few.
_MAX_ROWS = 128


def _each(db: sqlite3.Connection, template: str, rows: Sequence[Sequence[object]]) -> None:
    """Run `template` with its {} made a VALUES list of `rows`, in a few statements."""
    if not rows:
        return
    width = len(rows[0])
    most = min(_MAX_ROWS, db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // width)
    values = "(" + ", ".join("?" * width) + ")"
    start = 0
    while start < len(rows):
        count = 1 << (min(most, len(rows) - start).bit_length() - 1)
        db.execute(template.format("VALUES " + ", ".join([values] * count)),
                   [value for row in rows[start:start + count] for value in row])
        start += count


def _params(r: Row) -> tuple[object, ...]:
    return (r.path, document_id(r.path), r.state.hash.hex(), r.state.size, r.state.mtime_ns, r.record,
            json.dumps(r.state.reason.to_json()) if r.state.reason else None,
            r.state.published_ns, *astuple(r.versions), int("en" in r.state.langs), int("uk" in r.state.langs),
            int(r.warned))
