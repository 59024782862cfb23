"""The SQLite index on its own: rows written and read back, generations, and surviving a broken state folder."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from feedsvc.documents.model import Bilingual, Document, Lang, Reason, ReasonKind, document_id
from feedsvc.documents.publications import Topic
from feedsvc.documents.words import query
from feedsvc.store import db as db_module
from feedsvc.store import writes as writes_module
from feedsvc.store.index import NO_VERSIONS, SCHEMA_VERSION, FileState, Index, Row, Versions, ns_to_datetime

SECOND = 1_000_000_000
DAY = 86_400 * SECOND
BASE_NS = 1_700_000_000 * SECOND


def document(path: str, langs: tuple[Lang, ...]) -> Document:
    title = Bilingual(en=f"English title of {path}" if "en" in langs else None,
                      uk=f"Український заголовок {path}" if "uk" in langs else None)
    return Document(id=document_id(path), path=path, source="Reuters", date=None, authors=("Jane Doe",),
                    link=f"https://example.com/{path}", title=title, summary=Bilingual(en="Summary.", uk="Підсумок."))


def accepted(path: str, langs: tuple[Lang, ...] = ("en", "uk"), *, published_ns: int = BASE_NS,
             updated_ns: int | None = None, size: int = 100) -> Row:
    """The row of a published document (the one place tests build one, as ingest does)."""
    updated_ns = published_ns if updated_ns is None else updated_ns
    doc = document(path, langs)
    record = json.dumps(doc.to_json(), ensure_ascii=False)
    state = FileState(hashlib.sha256(record.encode()).digest(), size, updated_ns, published_ns, doc.languages, None)
    versions = Versions(updated_ns, updated_ns, updated_ns, doc.digest("en"), doc.digest("uk"))
    return Row(path, state, record, versions)


def rejected(path: str, reason: Reason, *, mtime_ns: int = BASE_NS) -> Row:
    digest = hashlib.sha256(path.encode() + str(reason).encode()).digest()
    return Row(path, FileState(digest, 7, mtime_ns, 0, (), reason), None, NO_VERSIONS)


NO_TITLE = Reason(ReasonKind.NO_TITLE, "no title line", line=3)
EMPTY = Reason(ReasonKind.EMPTY, "empty file")


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def index(state_dir: Path) -> Iterator[Index]:
    opened = Index(state_dir)
    yield opened
    opened.close()


@pytest.fixture
def short_busy_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite waits 5 s for a lock by default; a held lock is a held lock after 50 ms too."""
    assert db_module.sqlite3 is sqlite3  # type: ignore[attr-defined]
    monkeypatch.setattr(sqlite3, "connect", functools.partial(sqlite3.connect, timeout=0.05))


def broken_files(state_dir: Path) -> list[Path]:
    return sorted(state_dir.glob("index.sqlite3.broken-*"))


def fill(state_dir: Path) -> None:
    """An index file with two documents and a rejection, closed cleanly."""
    first = Index(state_dir)
    first.write([accepted("a.txt", ("en",)), accepted("b.txt"), rejected("bad.txt", NO_TITLE)])
    first.close()


# -- a fresh index ----------------------------------------------------------------------------


def test_a_fresh_index_is_empty_and_on_disk(index: Index, state_dir: Path) -> None:
    assert index.total(None) == 0 and index.total("en") == 0 and index.total("uk") == 0
    assert list(index.paths()) == []
    assert index.summary.rejected == ()
    assert index.generation == 0
    assert index.status.problem is None
    assert Path(index.status.location) == state_dir / "index.sqlite3"
    assert (state_dir / "index.sqlite3").is_file()
    assert index.newest_update(None) is None
    assert index.page(None, 10, 0) == ()


# -- writing and reopening --------------------------------------------------------------------


def test_rows_survive_a_close_and_reopen(state_dir: Path) -> None:
    rows = [accepted("a.txt", ("en",)), accepted("sub/b.txt", ("uk",)), accepted("c.txt"),
            rejected("bad.txt", NO_TITLE)]
    first = Index(state_dir)
    first.write(rows)
    counts, summary = {lang: first.total(lang) for lang in (None, "en", "uk")}, first.summary
    first.close()

    again = Index(state_dir)
    try:
        assert again.status.problem is None
        assert {lang: again.total(lang) for lang in (None, "en", "uk")} == counts == {None: 3, "en": 2, "uk": 2}
        assert again.summary == summary
        assert again.summary.counts == counts
        assert again.summary.rejected == (("bad.txt", NO_TITLE),)
        assert set(again.paths()) == {r.path for r in rows}
        for row in rows:
            assert again.state(row.path) == row.state, row.path
        assert {e.document.path for e in again.page(None, 10, 0)} == {"a.txt", "sub/b.txt", "c.txt"}
    finally:
        again.close()


def test_a_page_reads_back_the_documents_written(index: Index) -> None:
    row = accepted("sub/a b.txt", ("en", "uk"), published_ns=BASE_NS, updated_ns=BASE_NS + 5 * SECOND)
    index.write([row])
    (entry,) = index.page(None, 10, 0)
    assert entry.document == Document.from_json(json.loads(row.record or ""))
    assert entry.document.id == document_id("sub/a b.txt")
    assert entry.published == ns_to_datetime(BASE_NS)
    assert entry.updated == ns_to_datetime(BASE_NS + 5 * SECOND)
    assert index.newest_update(None) == ns_to_datetime(BASE_NS + 5 * SECOND)


def test_replacing_a_row_moves_the_counts(index: Index) -> None:
    index.write([accepted("a.txt", ("en", "uk"))])
    assert (index.total(None), index.total("en"), index.total("uk")) == (1, 1, 1)
    index.write([accepted("a.txt", ("uk",))])
    assert (index.total(None), index.total("en"), index.total("uk")) == (1, 0, 1)
    index.write([rejected("a.txt", EMPTY)])
    assert (index.total(None), index.total("en"), index.total("uk")) == (0, 0, 0)
    assert index.summary.rejected == (("a.txt", EMPTY),)
    index.write([accepted("a.txt", ("en",))])
    assert (index.total(None), index.total("en"), index.total("uk")) == (1, 1, 0)
    assert not index.summary.rejected


def test_removal_drops_the_row_and_its_counts(state_dir: Path) -> None:
    fill(state_dir)
    index = Index(state_dir)
    try:
        index.write([], removed=["a.txt", "bad.txt"])
        assert index.state("a.txt") is None and index.state("bad.txt") is None
        assert set(index.paths()) == {"b.txt"}
        assert (index.total(None), index.total("en"), index.total("uk")) == (1, 1, 1)
        assert index.summary.rejected == ()
    finally:
        index.close()
    again = Index(state_dir)
    try:
        assert set(again.paths()) == {"b.txt"}
    finally:
        again.close()


def test_rejected_rows_are_in_summary_rejected_and_not_in_counts(index: Index) -> None:
    index.write([accepted("good.txt", ("en",)), rejected("z.txt", EMPTY), rejected("a-bad.txt", NO_TITLE)])
    assert index.total(None) == 1 and index.total("en") == 1 and index.total("uk") == 0
    assert index.summary.counts == {None: 1, "en": 1, "uk": 0}
    assert index.summary.rejected == (("a-bad.txt", NO_TITLE), ("z.txt", EMPTY))  # sorted by path
    assert [e.document.path for e in index.page(None, 10, 0)] == ["good.txt"]
    assert index.page("uk", 10, 0) == ()
    assert index.state("z.txt") is not None and index.state("z.txt").reason == EMPTY  # type: ignore[union-attr]


def test_summary_is_replaced_whole_not_changed_in_place(index: Index) -> None:
    index.write([accepted("a.txt")])
    before = index.summary
    index.write([accepted("b.txt"), rejected("c.txt", EMPTY)])
    assert before.counts == {None: 1, "en": 1, "uk": 1}
    assert before.rejected == ()
    assert index.summary.counts == {None: 2, "en": 2, "uk": 2}


# -- generations ------------------------------------------------------------------------------


def test_generation_moves_on_rows_and_removals_but_not_on_touched_only(index: Index) -> None:
    assert index.generation == 0
    index.write([accepted("a.txt"), accepted("b.txt")])
    assert index.generation == 1
    index.write([rejected("c.txt", EMPTY)])
    assert index.generation == 2
    index.write([], removed=["b.txt"])
    assert index.generation == 3
    summary = index.summary

    index.write([], touched=[("a.txt", 123, BASE_NS + DAY)])
    assert index.generation == 3, "a stat that moved without its bytes changes no feed"
    assert index.summary is summary
    state = index.state("a.txt")
    assert state is not None and (state.size, state.mtime_ns) == (123, BASE_NS + DAY)

    index.write([])
    assert index.generation == 3, "an empty write is no write"


def test_touched_stat_survives_a_reopen(state_dir: Path) -> None:
    fill(state_dir)
    index = Index(state_dir)
    before = index.state("a.txt")
    index.write([], touched=[("a.txt", 4321, BASE_NS + 7 * DAY)])
    index.close()
    again = Index(state_dir)
    try:
        after = again.state("a.txt")
        assert before is not None and after is not None
        assert (after.size, after.mtime_ns) == (4321, BASE_NS + 7 * DAY)
        assert (after.hash, after.published_ns, after.langs, after.reason) == \
            (before.hash, before.published_ns, before.langs, before.reason)
    finally:
        again.close()


def test_a_batch_larger_than_one_statement_is_written_whole(state_dir: Path) -> None:
    """Each statement of a batch writes many rows at once, in statements of at most _MAX_ROWS: a
    batch of several (rows, their words and topics, touches, removals) loses none of them, and
    reads back the same after a reopen."""
    many = writes_module._MAX_ROWS * 2 + 7
    rows = [dataclasses.replace(accepted(f"d{n:05}.txt", published_ns=BASE_NS + n * SECOND),
                                words=f"alpha w{n}", topics=tuple(("author", f"a{k}", f"A {k}") for k in range(3)))
            for n in range(many)]
    index = Index(state_dir)
    index.write(rows)
    assert index.total(None) == many
    index.write([], removed=[f"d{n:05}.txt" for n in range(0, many, 2)],
                touched=[(f"d{n:05}.txt", 999, BASE_NS) for n in range(1, many, 2)])
    index.close()
    again = Index(state_dir)
    try:
        kept = many // 2
        assert again.total(None) == kept
        assert again.total(None, topic=Topic("author", "a2")) == kept
        assert again.total(None, match=query("alpha")) == kept
        assert again.total(None, match=query(f"w{many - 2}")) == 1
        assert again.total(None, match=query(f"w{many - 1}")) == 0, "a removed row leaves the search table"
        state = again.state(f"d{many - 2:05}.txt")
        assert state is not None and (state.size, state.mtime_ns) == (999, BASE_NS)
        newest = again.page(None, 1, 0)[0]
        assert newest.document.path == f"d{many - 2:05}.txt"
    finally:
        again.close()


def test_filling_an_empty_index_waits_for_the_disk_once_at_the_end(state_dir: Path) -> None:
    """A cold load writes unsynced (all of it is in the folder), then goes back to synchronous=NORMAL,
    with the rows on disk; loading into an index that holds rows keeps every checkpoint's sync."""
    def synchronous(index: Index) -> int:
        return int(index._db.execute("PRAGMA synchronous").fetchone()[0])

    first = Index(state_dir)
    assert synchronous(first) == 1  # NORMAL
    with first.loading():
        assert synchronous(first) == 0  # OFF
        first.write([accepted(f"d{n}.txt") for n in range(50)])
    assert synchronous(first) == 1
    with first.loading():
        assert synchronous(first) == 1
        first.write([accepted("late.txt")])
    first.close()
    reopened = Index(state_dir)
    assert reopened.total(None) == 51
    reopened.close()


# -- page order -------------------------------------------------------------------------------


def test_page_is_newest_first_then_by_id(index: Index) -> None:
    index.write([
        accepted("old.txt", published_ns=BASE_NS),
        accepted("new.txt", published_ns=BASE_NS + 2 * DAY),
        accepted("mid-b.txt", published_ns=BASE_NS + DAY),
        accepted("mid-c.txt", published_ns=BASE_NS + DAY),
        accepted("mid-a.txt", published_ns=BASE_NS + DAY),
        rejected("rejected.txt", EMPTY, mtime_ns=BASE_NS + 9 * DAY),
    ])
    order = ["new", "mid-a", "mid-b", "mid-c", "old"]
    assert [e.document.id for e in index.page(None, 10, 0)] == order
    assert [e.document.id for e in index.page(None, 2, 0)] == order[:2]
    assert [e.document.id for e in index.page(None, 2, 2)] == order[2:4]
    assert [e.document.id for e in index.page(None, 2, 4)] == order[4:]
    assert index.page(None, 2, 6) == ()
    entries = index.page(None, 10, 0)
    assert [e.published for e in entries] == sorted((e.published for e in entries), reverse=True)


def test_page_and_count_per_language(index: Index) -> None:
    index.write([accepted("en-only.txt", ("en",), published_ns=BASE_NS + DAY),
                 accepted("uk-only.txt", ("uk",), published_ns=BASE_NS + 2 * DAY),
                 accepted("both.txt", ("en", "uk"), published_ns=BASE_NS)])
    assert [e.document.id for e in index.page("en", 10, 0)] == ["en-only", "both"]
    assert [e.document.id for e in index.page("uk", 10, 0)] == ["uk-only", "both"]
    assert (index.total("en"), index.total("uk"), index.total(None)) == (2, 2, 3)
    assert index.newest_update("en") == ns_to_datetime(BASE_NS + DAY)
    assert index.newest_update("uk") == ns_to_datetime(BASE_NS + 2 * DAY)


# -- recovery ---------------------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_an_unreadable_file_is_moved_aside_and_rebuilt(state_dir: Path, damage: str) -> None:
    file = state_dir / "index.sqlite3"
    if damage == "garbage":
        state_dir.mkdir(parents=True)
        file.write_bytes(b"this is not an SQLite database\n" * 200)
    else:
        first = Index(state_dir)
        first.write([accepted(f"doc-{i:04}.txt", published_ns=BASE_NS + i) for i in range(1500)])
        first.close()
        data = file.read_bytes()
        file.write_bytes(data[:len(data) // 2])
    damaged = file.read_bytes()

    index = Index(state_dir)
    try:
        (aside,) = broken_files(state_dir)
        assert aside.read_bytes() == damaged, "the broken file is kept for inspection, byte for byte"
        problem = index.status.problem
        assert problem is not None and "unreadable" in problem and aside.name in problem
        assert Path(index.status.location) == file, "rebuilt on disk, not in memory"
        assert index.total(None) == 0 and list(index.paths()) == []
        index.write([accepted("fresh.txt")])
    finally:
        index.close()
    again = Index(state_dir)
    try:
        assert again.status.problem is None
        assert set(again.paths()) == {"fresh.txt"}
        assert len(broken_files(state_dir)) == 1
    finally:
        again.close()


def hold_exclusive_lock(state_dir: Path) -> sqlite3.Connection:
    """Another connection (as another process would) holding the index file with an exclusive lock."""
    other = sqlite3.connect(state_dir / "index.sqlite3", isolation_level=None)
    other.execute("PRAGMA locking_mode=EXCLUSIVE")
    other.execute("BEGIN EXCLUSIVE")
    other.execute("UPDATE documents SET size = size")
    other.execute("COMMIT")  # the lock stays held in exclusive locking mode
    return other


@pytest.mark.usefixtures("short_busy_wait")
@pytest.mark.parametrize("holder", ["connection", "index"])
def test_an_index_locked_by_another_process_runs_from_memory(state_dir: Path, holder: str) -> None:
    fill(state_dir)
    file = state_dir / "index.sqlite3"
    if holder == "connection":
        owner: sqlite3.Connection | Index = hold_exclusive_lock(state_dir)
    else:
        owner = Index(state_dir)
        owner.write([accepted("owner.txt")])  # a write takes the exclusive lock, kept while open
    try:
        second = Index(state_dir)
        try:
            problem = second.status.problem
            assert problem is not None and "in use" in problem and "memory" in problem
            assert second.status.location == ":memory:"
            assert broken_files(state_dir) == [], "another process's index is never moved away"
            assert file.is_file()
            second.write([accepted("only-in-memory.txt")])
            assert "only-in-memory.txt" in set(second.paths())
        finally:
            second.close()
    finally:
        owner.close()
    again = Index(state_dir)
    try:
        assert again.status.problem is None
        assert {"a.txt", "b.txt", "bad.txt"} <= set(again.paths()), "the owner's rows are intact"
        assert "only-in-memory.txt" not in set(again.paths())
    finally:
        again.close()


# Bug: Index._connect runs PRAGMA synchronous=NORMAL before _open_file sets locking_mode=EXCLUSIVE.
# That first statement already opens an existing WAL-mode file the shared-memory way, so on every
# restart over an existing index the wal-index is an mmapped -shm file (the SIGBUS risk _open_file's
# comment says exclusive locking avoids), and an index that has only been read holds no lock that
# stops a second process from opening it as if it were its own.


def test_a_reopened_index_keeps_the_wal_index_in_heap_memory(state_dir: Path) -> None:
    fill(state_dir)
    index = Index(state_dir)
    try:
        assert index.status.problem is None
        assert not (state_dir / "index.sqlite3-shm").exists()
    finally:
        index.close()


@pytest.mark.usefixtures("short_busy_wait")
def test_a_second_index_over_one_open_and_only_read_is_told_it_is_in_use(state_dir: Path) -> None:
    fill(state_dir)
    owner = Index(state_dir)  # a warm start with nothing to write
    try:
        second = Index(state_dir)
        try:
            problem = second.status.problem
            assert problem is not None and "in use" in problem
            assert second.status.location == ":memory:"
        finally:
            second.close()
    finally:
        owner.close()


@pytest.mark.parametrize("version", [0, SCHEMA_VERSION - 1, SCHEMA_VERSION + 1])
def test_a_schema_version_mismatch_drops_the_rows(state_dir: Path, version: int) -> None:
    fill(state_dir)
    db = sqlite3.connect(state_dir / "index.sqlite3")
    db.execute(f"PRAGMA user_version={version}")
    db.close()

    index = Index(state_dir)
    try:
        assert index.status.problem is None
        assert list(index.paths()) == []
        assert index.total(None) == 0 and index.summary.rejected == ()
        assert index.page(None, 10, 0) == ()
        assert broken_files(state_dir) == []
        index.write([accepted("new.txt")])
    finally:
        index.close()
    db = sqlite3.connect(state_dir / "index.sqlite3")
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("SELECT path FROM documents").fetchall() == [("new.txt",)]
    finally:
        db.close()


def test_the_same_schema_version_keeps_the_rows(state_dir: Path) -> None:
    fill(state_dir)
    db = sqlite3.connect(state_dir / "index.sqlite3")
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    db.close()
    index = Index(state_dir)
    try:
        assert set(index.paths()) == {"a.txt", "b.txt", "bad.txt"}
    finally:
        index.close()
