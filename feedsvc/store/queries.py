"""The index's reads: pages of a view, totals, search, topics, the newsroom's listing; and `Reader`,
the small read API the HTTP layer uses, so that it never touches the connection or writes SQL."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from feedsvc.documents.model import LANGS, Document, Entry, Lang, Reason
from feedsvc.documents.publications import AUTHOR, PUBLICATION, Topic
from feedsvc.documents.words import Match
from feedsvc.store.db import Database
from feedsvc.store.writes import NO_VERSIONS, FileState, Versions

if TYPE_CHECKING:  # Index composes this module's Queries: only its type is needed here
    from feedsvc.store.index import Index

_FILTER = {
    None: "record IS NOT NULL",
    "en": "record IS NOT NULL AND has_en = 1",
    "uk": "record IS NOT NULL AND has_uk = 1",
}
_UPDATED = {None: "updated_ns", "en": "updated_en_ns", "uk": "updated_uk_ns"}

SEARCH_COUNT_CAP = 10_000  # a search's total is counted this far: pages past it are not linked

# A published document as a page reads it: its JSON record, published_ns and the view's updated_ns.
Stored = tuple[str, int, int]

# A publication or author with published documents: slug, name, and documents per view.
TopicCount = tuple[str, str, dict[Lang | None, int]]


def ns_to_datetime(ns: int) -> dt.datetime:
    """Nanoseconds since the epoch as an aware UTC datetime, keeping microseconds."""
    return dt.datetime.fromtimestamp(ns // 1000 / 1_000_000, dt.UTC)


@dataclass(frozen=True, slots=True)
class Filed:
    """A published document as the newsroom sees it: where it came from and how it is dated."""

    path: str
    entry: Entry
    warned: bool


class Queries(Database):
    """The reads over the shared connection (a mixin of Index), each one SQL query or two."""

    def _file_states(self) -> dict[str, FileState]:
        """Every file's state as stored, read once at opening into the writes' memory."""
        rows = self._db.execute(
            "SELECT path, hash, size, mtime_ns, published_ns, has_en, has_uk, reason FROM documents")
        # published usually equals mtime: sharing the int object saves 32 bytes a file.
        return {
            path: FileState(bytes.fromhex(digest), size, mtime, mtime if published == mtime else published,
                            _langs(en, uk), Reason.from_json(json.loads(reason)) if reason else None)
            for path, digest, size, mtime, published, en, uk, reason in rows
        }

    def versions(self, path: str) -> Versions:
        """The view dates and content hashes of a published document (NO_VERSIONS if none)."""
        row = self._db.execute("SELECT updated_ns, updated_en_ns, updated_uk_ns, digest_en, digest_uk "
                               "FROM documents WHERE path = ? AND record IS NOT NULL", (path,)).fetchone()
        return Versions(*row) if row else NO_VERSIONS

    # -- the newsroom ----------------------------------------------------------------------

    def files(self, *, warned: bool | None, q: str | None, limit: int, offset: int) -> tuple[list[Filed], int]:
        """Published documents for the newsroom: those with warnings first, then newest first;
        `q` a case-insensitive substring of the path or the record (titles, source, authors)."""
        condition, params = _newsroom_where(warned, q)
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

    # -- views: dates, totals, topics, pages -----------------------------------------------

    def newest_update(self, lang: Lang | None, topic: Topic | None = None) -> dt.datetime | None:
        """The newest `updated` of a view (a search's comes from its rows: Publisher._draft)."""
        where, params = _where(lang, topic, None)
        row = self._db.execute(f"SELECT max({_UPDATED[lang]}) FROM documents WHERE {where}", params).fetchone()
        return ns_to_datetime(row[0]) if row and row[0] is not None else None

    def total(self, lang: Lang | None, topic: Topic | None = None, match: Match | None = None) -> int:
        """Documents in a view, by SQL; a search's counted up to SEARCH_COUNT_CAP. (Index answers
        the main views' from the writes' memory instead.)"""
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

    def topics(self, kind: str) -> list[TopicCount]:
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


# -- the HTTP layer's read facade -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Found:
    """A search's first entries in the bilingual view, and its total in each view."""

    entries: tuple[Entry, ...]
    counts: dict[Lang | None, int]  # per view: bilingual (None), then each language


class Reader:
    """What the HTTP layer reads from the index: the newsroom's listing and previews, the directory
    of topics, a search. It never writes, and keeps no state of its own.

    Every method but `rejected` runs SQL: call it on the worker thread (Worker.run), the one thread
    that touches the index, like every other read; `rejected` reads memory (any thread)."""

    def __init__(self, index: Index) -> None:
        self._index = index

    def rejected(self) -> tuple[tuple[str, Reason], ...]:
        """Every rejected file and why, by path, as of the last write."""
        return self._index.summary.rejected

    def count_files(self, *, warned: bool | None, q: str | None) -> int:
        """How many published documents the newsroom lists (see `files`)."""
        return self._index.files(warned=warned, q=q, limit=0, offset=0)[1]

    def files(self, *, warned: bool | None, q: str | None, limit: int, offset: int) -> list[Filed]:
        """Published documents for the newsroom, warned first, then newest first (Queries.files)."""
        return self._index.files(warned=warned, q=q, limit=limit, offset=offset)[0]

    def find(self, doc_id: str) -> Filed | tuple[str, Reason] | None:
        """The file whose document id is `doc_id`: its published document, or its rejection."""
        return self._index.find(doc_id)

    def directory(self) -> tuple[list[TopicCount], list[TopicCount]]:
        """Every publication and every author with published documents, most documents first."""
        return self._index.topics(PUBLICATION), self._index.topics(AUTHOR)

    def search(self, match: Match, limit: int) -> Found:
        """The newest `limit` bilingual entries a search finds, and its total in every view."""
        return Found(self._index.page(None, limit, 0, None, match),
                     {lang: self._index.total(lang, None, match) for lang in (None, *LANGS)})


# -- decoding rows and building conditions ------------------------------------------------------


def _filed(path: str, record: str, published_ns: int, updated_ns: int, warned: int) -> Filed:
    return Filed(path, _entry(record, published_ns, updated_ns), bool(warned))


def entries(rows: Iterable[Stored]) -> tuple[Entry, ...]:
    """Stored rows as the entries feeds show (any thread or process: it reads nothing else)."""
    return tuple(_entry(*row) for row in rows)


def _entry(record: str, published_ns: int, updated_ns: int) -> Entry:
    return Entry(Document.from_json(json.loads(record)), ns_to_datetime(published_ns), ns_to_datetime(updated_ns))


def _newsroom_where(warned: bool | None, q: str | None) -> tuple[str, list[object]]:
    """The newsroom listing's condition: published, perhaps warned only, perhaps matching `q`."""
    where: list[str] = ["record IS NOT NULL"]
    params: list[object] = []
    if warned is not None:
        where.append("warned = ?")
        params.append(int(warned))
    if q:
        like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append("(path LIKE ? ESCAPE '\\' OR record LIKE ? ESCAPE '\\')")
        params += [like, like]
    return " AND ".join(where), params


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


_LANGS_BY_FLAGS: dict[tuple[int, int], tuple[Lang, ...]] = {
    (en, uk): tuple(lang for lang, has in zip(LANGS, (en, uk)) if has) for en in (0, 1) for uk in (0, 1)}


def _langs(en: int, uk: int) -> tuple[Lang, ...]:
    return _LANGS_BY_FLAGS[en, uk]
