"""The index: one SQLite row per file seen in the seeds folder, accepted or rejected."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import astuple, dataclass
from pathlib import Path

from feedsvc.documents.model import LANGS, Document, Entry, Lang, Reason, ReasonKind, document_id
from feedsvc.documents.publications import Topic
from feedsvc.documents.words import Match
from feedsvc.store.journal import Journal

log = logging.getLogger("feedsvc.index")

# Bump when the table layout or the parser's output changes: every row is then re-read from its file.
SCHEMA_VERSION = 7

# published_ns: when the document was first published here (see ingest); updated_*: when what the
# bilingual, English or Ukrainian entry shows last changed; digest_*: a hash of what each language's
# entry shows, so an edit moves only the views whose content it changes.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    path TEXT PRIMARY KEY,
    id TEXT NOT NULL,
    hash TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    record TEXT,
    reason TEXT,
    published_ns INTEGER NOT NULL,
    updated_ns INTEGER NOT NULL,
    updated_en_ns INTEGER NOT NULL,
    updated_uk_ns INTEGER NOT NULL,
    digest_en INTEGER NOT NULL,
    digest_uk INTEGER NOT NULL,
    has_en INTEGER NOT NULL,
    has_uk INTEGER NOT NULL,
    warned INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS by_warned ON documents (warned, published_ns DESC) WHERE record IS NOT NULL;
-- Publications and authors of each published document, for their feeds.
CREATE TABLE IF NOT EXISTS topics (path TEXT NOT NULL, kind TEXT NOT NULL, slug TEXT NOT NULL, name TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS topics_by_slug ON topics (kind, slug);
CREATE INDEX IF NOT EXISTS topics_by_path ON topics (path);
-- Each published document's words in their dictionary forms (documents.words), keyed by the
-- documents row: no positions are kept, since queries are sets of words, not phrases.
CREATE VIRTUAL TABLE IF NOT EXISTS search USING fts5(words, detail=none, columnsize=0,
    tokenize='unicode61 remove_diacritics 0');
CREATE INDEX IF NOT EXISTS by_date ON documents (published_ns DESC, id) WHERE record IS NOT NULL;
CREATE INDEX IF NOT EXISTS by_date_en ON documents (published_ns DESC, id) WHERE record IS NOT NULL AND has_en = 1;
CREATE INDEX IF NOT EXISTS by_date_uk ON documents (published_ns DESC, id) WHERE record IS NOT NULL AND has_uk = 1;
CREATE INDEX IF NOT EXISTS by_updated ON documents (updated_ns) WHERE record IS NOT NULL;
CREATE INDEX IF NOT EXISTS by_updated_en ON documents (updated_en_ns) WHERE record IS NOT NULL AND has_en = 1;
CREATE INDEX IF NOT EXISTS by_updated_uk ON documents (updated_uk_ns) WHERE record IS NOT NULL AND has_uk = 1;
"""

_FILTER = {
    None: "record IS NOT NULL",
    "en": "record IS NOT NULL AND has_en = 1",
    "uk": "record IS NOT NULL AND has_uk = 1",
}
_UPDATED = {None: "updated_ns", "en": "updated_en_ns", "uk": "updated_uk_ns"}


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


@dataclass(frozen=True, slots=True)
class IndexStatus:
    """Where the index lives and whether it is healthy; shown on /healthz."""

    location: str
    problem: str | None


def ns_to_datetime(ns: int) -> dt.datetime:
    """Nanoseconds since the epoch as an aware UTC datetime, keeping microseconds."""
    return dt.datetime.fromtimestamp(ns // 1000 / 1_000_000, dt.UTC)


class Index:
    """SQLite storage of documents; called from one worker thread only, never the event loop."""

    def __init__(self, state_dir: Path) -> None:
        self._file = state_dir / "index.sqlite3"
        self._problem: str | None = None
        self._lock = threading.Lock()
        self._db = self._open()
        self._location = self._db.execute("PRAGMA database_list").fetchone()[2] or ":memory:"
        # In memory, the journal is another process's (or unwritable): read it, never write it.
        journal_file = state_dir / "published.jsonl"
        self._journal = Journal(journal_file if self._location != ":memory:" else None)
        self._recovered: dict[str, int] = {}
        if not self._db.execute("SELECT 1 FROM documents LIMIT 1").fetchone():
            # An empty index: a first start, or a rebuild that must keep publication times.
            self._recovered = Journal(journal_file).read()
            if self._recovered:
                log.info("index rebuilt: %d publication times recovered from %s", len(self._recovered),
                         journal_file.name)
        self._states: dict[str, FileState] = {}
        self._totals: dict[Lang | None, int] = {None: 0, "en": 0, "uk": 0}
        self._rejected: dict[str, Reason] = {}
        for path, state in self._load_states().items():
            self._set_state(path, state)
        self._first_start = not self._states and not self._recovered
        # Bumped by every write: bytes rendered at one generation show one state of the folder.
        self.generation = 0
        self.summary = self._summarise()

    # -- opening, and surviving a broken state folder --------------------------------------

    def _open(self) -> sqlite3.Connection:
        try:
            return self._open_file()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc):
                first = f"{type(exc).__name__}: {exc}"
            else:  # another process owns this index: never move its file away
                self._problem = f"index {self._file} is in use by another process; running from memory"
                log.error("%s", self._problem)
                return self._connect(":memory:")
        except (sqlite3.DatabaseError, OSError) as exc:
            first = f"{type(exc).__name__}: {exc}"
        # The folder is the source of truth: move the broken file aside and start over.
        try:
            broken = self._file.with_name(f"{self._file.name}.broken-{time.time_ns()}")
            if self._file.exists():
                self._file.rename(broken)
            for suffix in ("-wal", "-shm"):
                self._file.with_name(self._file.name + suffix).unlink(missing_ok=True)
            db = self._open_file()
            self._problem = f"index was unreadable ({first}); moved aside to {broken.name} and rebuilt"
            log.warning("%s", self._problem)
            return db
        except (sqlite3.DatabaseError, OSError) as exc:
            self._problem = f"index file unusable ({first}; {exc}); running from memory"
            log.error("%s", self._problem)
            return self._connect(":memory:")

    def _open_file(self) -> sqlite3.Connection:
        self._file.parent.mkdir(parents=True, exist_ok=True)
        clean = self._take_clean_mark()
        db = self._connect(str(self._file))
        try:
            # Exclusive locking keeps WAL's index in heap memory instead of an mmapped -shm file:
            # a state folder that turns read-only (or a full disk) then fails a write with an
            # error we fall back from, not SIGBUS. One process per state folder, as documented.
            db.execute("PRAGMA locking_mode=EXCLUSIVE")
            # Only now the first statement that reads the file: before the locking mode, it would
            # open the WAL with a shared-memory -shm file and take no exclusive lock.
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                with db:
                    for table in ("documents", "topics", "search"):
                        db.execute(f"DROP TABLE IF EXISTS {table}")
                    db.executescript(_SCHEMA)
                    db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            # A truncated or overwritten file fails here rather than mid-serve. The full check reads
            # the whole file (0.3 s at 100,000 documents), so it is skipped when the file is exactly
            # as a clean shutdown left it.
            db.execute("SELECT count(*) FROM documents").fetchone()
            if not clean:
                ok = db.execute("PRAGMA quick_check(1)").fetchone()[0]
                if ok != "ok":
                    raise sqlite3.DatabaseError(f"integrity check failed: {ok}")
        except BaseException:
            db.close()
            raise
        return db

    @staticmethod
    def _connect(target: str) -> sqlite3.Connection:
        db = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        if target == ":memory:":
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
        return db

    def _load_states(self) -> dict[str, FileState]:
        rows = self._db.execute(
            "SELECT path, hash, size, mtime_ns, published_ns, has_en, has_uk, reason FROM documents")
        # published usually equals mtime: sharing the int object saves 32 bytes a file.
        return {
            path: FileState(bytes.fromhex(digest), size, mtime, mtime if published == mtime else published,
                            _langs(en, uk), Reason.from_json(json.loads(reason)) if reason else None)
            for path, digest, size, mtime, published, en, uk, reason in rows
        }

    def _fall_back_to_memory(self, exc: Exception) -> None:
        """Copy what we have into memory so a full disk or read-only folder never stops serving."""
        memory = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self._db.backup(memory)
        self._db.close()
        self._db = memory
        self._location = ":memory:"
        self._problem = f"index not writable ({exc}); serving from memory until restart"
        log.error("%s", self._problem)

    @property
    def status(self) -> IndexStatus:
        """Read without SQL, so the event loop can ask while the worker writes."""
        return IndexStatus(location=self._location, problem=self._problem)

    # -- reading ---------------------------------------------------------------------------

    def state(self, path: str) -> FileState | None:
        return self._states.get(path)

    @property
    def first_start(self) -> bool:
        """Whether this index started empty with no publication times to recover."""
        return self._first_start

    def recovered(self, path: str) -> int | None:
        """The publication time the journal kept for `path`, when the index was rebuilt."""
        return self._recovered.get(path)

    def versions(self, path: str) -> Versions:
        """The view dates and content hashes of a published document (NO_VERSIONS if none)."""
        row = self._db.execute("SELECT updated_ns, updated_en_ns, updated_uk_ns, digest_en, digest_uk "
                               "FROM documents WHERE path = ? AND record IS NOT NULL", (path,)).fetchone()
        return Versions(*row) if row else NO_VERSIONS

    def paths(self) -> Iterable[str]:
        return self._states.keys()

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

    def files(self, *, warned: bool | None, q: str | None, limit: int, offset: int) -> tuple[list[Filed], int]:
        """Published documents for the newsroom: those with warnings first, then newest first;
        `q` a case-insensitive substring of the path or the record (titles, source, authors)."""
        where: list[str] = ["record IS NOT NULL"]
        params: list[object] = []
        if warned is not None:
            where.append("warned = ?")
            params.append(int(warned))
        if q:
            like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            where.append("(path LIKE ? ESCAPE '\\' OR record LIKE ? ESCAPE '\\')")
            params += [like, like]
        condition = " AND ".join(where)
        total = self._db.execute(f"SELECT count(*) FROM documents WHERE {condition}", params).fetchone()[0]
        rows = self._db.execute(
            f"SELECT path, record, published_ns, updated_ns, warned FROM documents WHERE {condition} "
            "ORDER BY warned DESC, published_ns DESC, id LIMIT ? OFFSET ?", [*params, limit, offset])
        return [_filed(*row) for row in rows], total

    def find(self, doc_id: str) -> Filed | tuple[str, Reason] | None:
        """The file whose document id is `doc_id`: its published document, or its rejection."""
        row = self._db.execute("SELECT path, record, published_ns, updated_ns, warned, reason FROM documents "
                               "WHERE id = ? ORDER BY path LIMIT 1", (doc_id,)).fetchone()
        if row is None:
            return None
        if row[1] is None:
            return row[0], Reason.from_json(json.loads(row[5]))
        return _filed(*row[:5])

    def newest_update(self, lang: Lang | None, topic: Topic | None = None) -> dt.datetime | None:
        """The newest `updated` of a view (a search's comes from its rows: Publisher._draft)."""
        where, params = _where(lang, topic, None)
        row = self._db.execute(f"SELECT max({_UPDATED[lang]}) FROM documents WHERE {where}", params).fetchone()
        return ns_to_datetime(row[0]) if row and row[0] is not None else None

    def total(self, lang: Lang | None, topic: Topic | None = None, match: Match | None = None) -> int:
        """Documents in a view; a topic's or a search's by SQL (a search's counted up to
        SEARCH_COUNT_CAP), the main views' from memory."""
        if topic is None and match is None:
            return self._totals[lang]
        if match is not None and match.include:
            where, params = _where(lang, topic, None)
            return int(self._db.execute(
                f"SELECT count(*) FROM (SELECT 1 FROM search s JOIN documents d ON d.rowid = s.rowid "
                f"WHERE search MATCH ? AND {where} LIMIT ?)", (_fts(match), *params, SEARCH_COUNT_CAP)).fetchone()[0])
        where, params = _where(lang, topic, match)
        return int(self._db.execute(f"SELECT count(*) FROM documents WHERE {where}", params).fetchone()[0])

    def topic_name(self, topic: Topic) -> str | None:
        """The name of a publication or author with published documents, or None if there is none."""
        row = self._db.execute("SELECT t.name FROM topics t JOIN documents d ON d.path = t.path "
                               "WHERE t.kind = ? AND t.slug = ? AND d.record IS NOT NULL LIMIT 1",
                               (topic.kind, topic.slug)).fetchone()
        return row[0] if row else None

    def topics(self, kind: str) -> list[tuple[str, str, dict[Lang | None, int]]]:
        """Every publication (or author) with published documents: slug, name and counts per view."""
        rows = self._db.execute(
            "SELECT t.slug, min(t.name), count(*), sum(d.has_en), sum(d.has_uk) FROM topics t "
            "JOIN documents d ON d.path = t.path WHERE t.kind = ? AND d.record IS NOT NULL "
            "GROUP BY t.slug ORDER BY count(*) DESC, t.slug", (kind,))
        return [(slug, name, {None: total, "en": en, "uk": uk}) for slug, name, total, en, uk in rows]

    def page(self, lang: Lang | None, limit: int, offset: int, topic: Topic | None = None,
             match: Match | None = None) -> tuple[Entry, ...]:
        """Entries newest first by when they were published here, then by id (see rows)."""
        return entries(self.rows(lang, limit, offset, topic, match))

    def rows(self, lang: Lang | None, limit: int, offset: int, topic: Topic | None = None,
             match: Match | None = None) -> tuple[Stored, ...]:
        """A page's documents as stored, newest first by when they were published here, then by id:
        an edit never moves one. Decoding them (entries) can then happen elsewhere.

        A search is read from the search table newest row first (rows are added in the order
        documents are first published, see Ingest.process), so a common word costs its first page,
        not every match sorted."""
        if match is not None and match.include:
            where, params = _where(lang, topic, None)
            return tuple(self._db.execute(
                f"SELECT d.record, d.published_ns, d.{_UPDATED[lang]} FROM search s JOIN documents d "
                f"ON d.rowid = s.rowid WHERE search MATCH ? AND {where} ORDER BY s.rowid DESC LIMIT ? OFFSET ?",
                (_fts(match), *params, limit, offset)))
        where, params = _where(lang, topic, match)
        return tuple(self._db.execute(
            f"SELECT record, published_ns, {_UPDATED[lang]} FROM documents WHERE {where} "
            "ORDER BY published_ns DESC, id LIMIT ? OFFSET ?", (*params, limit, offset)))

    # -- writing ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def loading(self) -> Iterator[None]:
        """Writes that fill an empty index (a cold start, a rebuild) do not wait for the disk at
        each checkpoint: one flush at the end instead (10,000 documents: ~0.3 s less writing).

        Nothing is at risk meanwhile: all of it is read again from the folder if it is lost, and a
        power loss that leaves a damaged file fails the integrity check of the next start, which
        rebuilds it.
        """
        if self._states or self._location == ":memory:":
            yield
            return
        self._db.execute("PRAGMA synchronous=OFF")
        try:
            yield
        finally:
            self._db.execute("PRAGMA synchronous=NORMAL")
            for name in (self._file, self._file.with_name(self._file.name + "-wal")):
                with contextlib.suppress(OSError):  # gone, or unwritable: the next checkpoint syncs
                    fd = os.open(name, os.O_RDONLY)
                    try:
                        os.fsync(fd)
                    finally:
                        os.close(fd)

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

    def close(self) -> None:
        try:
            self._db.close()
        except sqlite3.Error:
            return
        if self._location != ":memory:":
            try:  # the file as this clean shutdown leaves it; any other state gets the full check
                st = self._file.stat()
                self._mark.write_text(f"{st.st_size} {st.st_mtime_ns}")
            except OSError:
                pass

    @property
    def _mark(self) -> Path:
        return self._file.with_name(self._file.name + ".clean")

    def _take_clean_mark(self) -> bool:
        """Whether the file is as a clean shutdown left it; the mark is used up either way."""
        try:
            size, mtime_ns = map(int, self._mark.read_text().split())
            self._mark.unlink()
            st = self._file.stat()
        except (OSError, ValueError):
            return False
        return (st.st_size, st.st_mtime_ns) == (size, mtime_ns)


@dataclass(frozen=True, slots=True)
class Filed:
    """A published document as the newsroom sees it: where it came from and how it is dated."""

    path: str
    entry: Entry
    warned: bool


def _filed(path: str, record: str, published_ns: int, updated_ns: int, warned: int) -> Filed:
    return Filed(path, _entry(record, published_ns, updated_ns), bool(warned))


# A published document as a page reads it: its JSON record, published_ns and the view's updated_ns.
Stored = tuple[str, int, int]


def entries(rows: Iterable[Stored]) -> tuple[Entry, ...]:
    """Stored rows as the entries feeds show (any thread or process: it reads nothing else)."""
    return tuple(_entry(*row) for row in rows)


def _entry(record: str, published_ns: int, updated_ns: int) -> Entry:
    return Entry(Document.from_json(json.loads(record)), ns_to_datetime(published_ns), ns_to_datetime(updated_ns))


SEARCH_COUNT_CAP = 10_000  # a search's total is counted this far: pages past it are not linked


def _fts(match: Match) -> str:
    """The FTS5 query of a search with words to find: all of them, none of the excluded ones."""
    found = " AND ".join(f'"{word}"' for word in match.include)
    if match.exclude:
        found = f"({found}) NOT ({' OR '.join(f'{chr(34)}{word}{chr(34)}' for word in match.exclude)})"
    return found


def _where(lang: Lang | None, topic: Topic | None, match: Match | None) -> tuple[str, tuple[object, ...]]:
    """The condition of a view, narrowed to a topic and a search."""
    parts, params = [_FILTER[lang]], []
    if topic is not None:
        parts.append("path IN (SELECT path FROM topics WHERE kind = ? AND slug = ?)")
        params += [topic.kind, topic.slug]
    if match is not None and match.include:
        parts.append("rowid IN (SELECT rowid FROM search WHERE search MATCH ?)")
        params.append(" AND ".join(f'"{word}"' for word in match.include))
    if match is not None and match.exclude:
        parts.append("rowid NOT IN (SELECT rowid FROM search WHERE search MATCH ?)")
        params.append(" OR ".join(f'"{word}"' for word in match.exclude))
    return " AND ".join(parts), tuple(params)


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


_LANGS_BY_FLAGS: dict[tuple[int, int], tuple[Lang, ...]] = {
    (en, uk): tuple(lang for lang, has in zip(LANGS, (en, uk)) if has) for en in (0, 1) for uk in (0, 1)}


def _langs(en: int, uk: int) -> tuple[Lang, ...]:
    return _LANGS_BY_FLAGS[en, uk]

