"""The index's database: the SQLite file and its one connection, the schema and its migration, the
integrity check, the pragmas, surviving a broken state folder, and the bulk `loading()` mode."""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

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


@dataclass(frozen=True, slots=True)
class IndexStatus:
    """Where the index lives and whether it is healthy; shown on /healthz."""

    location: str
    problem: str | None


class Database:
    """The one connection to the index's file, the base the writes and the queries share (as
    lemon24/reader's storage mixins share theirs): it may be swapped for an in-memory copy
    (`_fall_back_to_memory`), so they always reach it as `self._db`, never keep their own."""

    def __init__(self, state_dir: Path) -> None:
        self._file = state_dir / "index.sqlite3"
        self._problem: str | None = None
        self._db = self._open()
        self._location: str = self._db.execute("PRAGMA database_list").fetchone()[2] or ":memory:"

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

    def _fall_back_to_memory(self, exc: Exception) -> None:
        """Copy what we have into memory so a full disk or read-only folder never stops serving."""
        memory = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self._db.backup(memory)
        self._db.close()
        self._db = memory
        self._location = ":memory:"
        self._problem = f"index not writable ({exc}); serving from memory until restart"
        log.error("%s", self._problem)

    def _empty(self) -> bool:
        """Whether the file holds no documents row (a first start, or a rebuild)."""
        return not self._db.execute("SELECT 1 FROM documents LIMIT 1").fetchone()

    @property
    def status(self) -> IndexStatus:
        """Read without SQL, so the event loop can ask while the worker writes."""
        return IndexStatus(location=self._location, problem=self._problem)

    # -- filling an empty index ------------------------------------------------------------

    def _holds_files(self) -> bool:
        """Whether the index holds any file; the writes answer from memory (Writes._holds_files)."""
        return not self._empty()

    @contextlib.contextmanager
    def loading(self) -> Iterator[None]:
        """Writes that fill an empty index (a cold start, a rebuild) do not wait for the disk at
        each checkpoint: one flush at the end instead (10,000 documents: ~0.3 s less writing).

        Nothing is at risk meanwhile: all of it is read again from the folder if it is lost, and a
        power loss that leaves a damaged file fails the integrity check of the next start, which
        rebuilds it.
        """
        if self._holds_files() or self._location == ":memory:":
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

    # -- closing ---------------------------------------------------------------------------

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
