"""The index: one SQLite row per file seen in the seeds folder, accepted or rejected.

`Index` composes the store's parts as lemon24/reader's storage composes its mixins over one
connection: the database (db.py), the writes and their memory (writes.py), the reads (queries.py).
The types the rest of feedsvc imports from here are re-exported, so callers need not know the split.
"""

from __future__ import annotations

import logging
from pathlib import Path

from feedsvc.documents.model import Lang
from feedsvc.documents.publications import Topic
from feedsvc.documents.words import Match
from feedsvc.store.db import SCHEMA_VERSION, IndexStatus
from feedsvc.store.journal import Journal
from feedsvc.store.queries import SEARCH_COUNT_CAP, Filed, Found, Queries, Reader, Stored, entries, ns_to_datetime
from feedsvc.store.writes import NO_VERSIONS, FileState, Row, Summary, Versions, Writes

__all__ = ["NO_VERSIONS", "SCHEMA_VERSION", "SEARCH_COUNT_CAP", "FileState", "Filed", "Found", "Index",
           "IndexStatus", "Reader", "Row", "Stored", "Summary", "Versions", "entries", "ns_to_datetime"]

log = logging.getLogger("feedsvc.index")


class Index(Writes, Queries):
    """SQLite storage of documents; called from one worker thread only, never the event loop.

    `reader` is the read API for the HTTP layer (queries.Reader), under the same thread rule."""

    def __init__(self, state_dir: Path) -> None:
        super().__init__(state_dir)  # Database: the connection, its schema and checks
        # In memory, the journal is another process's (or unwritable): read it, never write it.
        journal_file = state_dir / "published.jsonl"
        journal = Journal(journal_file if self._location != ":memory:" else None)
        self._recovered: dict[str, int] = {}
        if self._empty():
            # An empty index: a first start, or a rebuild that must keep publication times.
            self._recovered = Journal(journal_file).read()
            if self._recovered:
                log.info("index rebuilt: %d publication times recovered from %s", len(self._recovered),
                         journal_file.name)
        self._remember(self._file_states(), journal)
        self._first_start = not self._states and not self._recovered
        self.reader = Reader(self)

    @property
    def first_start(self) -> bool:
        """Whether this index started empty with no publication times to recover."""
        return self._first_start

    def recovered(self, path: str) -> int | None:
        """The publication time the journal kept for `path`, when the index was rebuilt."""
        return self._recovered.get(path)

    def total(self, lang: Lang | None, topic: Topic | None = None, match: Match | None = None) -> int:
        """Documents in a view; a topic's or a search's by SQL (a search's counted up to
        SEARCH_COUNT_CAP), the main views' from memory."""
        if topic is None and match is None:
            return self._totals[lang]
        return super().total(lang, topic, match)
