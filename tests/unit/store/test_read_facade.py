"""The index's read facade for the HTTP layer (store.queries.Reader): the newsroom's listing and
previews, the directory of topics, a search; and that the HTTP layer reads the index only through it."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from feedsvc.documents.model import Bilingual, Document, Lang, Reason, ReasonKind, document_id
from feedsvc.documents.publications import AUTHOR, PUBLICATION
from feedsvc.documents.words import query
from feedsvc.store.index import NO_VERSIONS, FileState, Index, Reader, Row, Versions, ns_to_datetime

SECOND = 1_000_000_000
BASE_NS = 1_700_000_000 * SECOND
HTTP = Path(__file__).resolve().parents[3] / "feedsvc" / "http"
NO_TITLE = Reason(ReasonKind.NO_TITLE, "no title line", line=3)


def accepted(path: str, langs: tuple[Lang, ...] = ("en", "uk"), *, published_ns: int = BASE_NS,
             words: str = "", warned: bool = False, source: str = "Reuters") -> Row:
    title = Bilingual(en=f"English title of {path}" if "en" in langs else None,
                      uk=f"Український заголовок {path}" if "uk" in langs else None)
    doc = Document(id=document_id(path), path=path, source=source, date=None, authors=("Jane Doe",),
                   link=f"https://example.com/{path}", title=title, summary=Bilingual(en="Summary.", uk="Підсумок."))
    record = json.dumps(doc.to_json(), ensure_ascii=False)
    state = FileState(hashlib.sha256(record.encode()).digest(), 100, published_ns, published_ns, doc.languages, None)
    versions = Versions(published_ns, published_ns, published_ns, doc.digest("en"), doc.digest("uk"))
    slug = source.lower().replace(" ", "-")
    return Row(path, state, record, versions, warned=warned, words=words,
               topics=((PUBLICATION, slug, source), (AUTHOR, "jane-doe", "Jane Doe")))


def rejected(path: str) -> Row:
    return Row(path, FileState(hashlib.sha256(path.encode()).digest(), 7, BASE_NS, 0, (), NO_TITLE), None, NO_VERSIONS)


@pytest.fixture
def index(tmp_path: Path) -> Iterator[Index]:
    opened = Index(tmp_path / "state")
    opened.write([
        accepted("old.txt", ("en",), published_ns=BASE_NS, words="alpha beta"),
        accepted("new.txt", published_ns=BASE_NS + SECOND, words="alpha gamma", source="Kyiv Post"),
        accepted("warned.txt", ("uk",), published_ns=BASE_NS - SECOND, words="delta", warned=True),
        rejected("bad.txt"),
    ])
    yield opened
    opened.close()


def test_the_index_offers_one_reader(index: Index) -> None:
    assert isinstance(index.reader, Reader)
    assert index.reader is index.reader


def test_the_newsroom_lists_warned_first_then_newest(index: Index) -> None:
    reader = index.reader
    assert reader.rejected() == (("bad.txt", NO_TITLE),)
    assert reader.count_files(warned=None, q=None) == 3
    assert reader.count_files(warned=True, q=None) == 1
    assert reader.count_files(warned=None, q="kyiv post") == 1, "q matches the record, whatever its case"
    assert [f.path for f in reader.files(warned=None, q=None, limit=10, offset=0)] == \
        ["warned.txt", "new.txt", "old.txt"]
    assert [f.path for f in reader.files(warned=None, q=None, limit=1, offset=1)] == ["new.txt"]
    assert [f.path for f in reader.files(warned=None, q="%", limit=10, offset=0)] == [], "LIKE's wildcards are text"


def test_a_file_is_found_by_its_document_id(index: Index) -> None:
    found = index.reader.find(document_id("new.txt"))
    assert found is not None and not isinstance(found, tuple)
    assert (found.path, found.warned, found.entry.published) == ("new.txt", False, ns_to_datetime(BASE_NS + SECOND))
    assert index.reader.find(document_id("bad.txt")) == ("bad.txt", NO_TITLE)
    assert index.reader.find("no-such-id") is None


def test_the_directory_lists_publications_and_authors_with_counts_per_view(index: Index) -> None:
    publications, authors = index.reader.directory()
    assert publications == [("reuters", "Reuters", {None: 2, "en": 1, "uk": 1}),
                            ("kyiv-post", "Kyiv Post", {None: 1, "en": 1, "uk": 1})], "most documents first"
    assert authors == [("jane-doe", "Jane Doe", {None: 3, "en": 2, "uk": 2})]


def test_a_search_finds_the_newest_entries_and_counts_every_view(index: Index) -> None:
    found = index.reader.search(query("alpha"), 1)
    assert [e.document.path for e in found.entries] == ["new.txt"], "the newest first, up to the limit"
    assert found.counts == {None: 2, "en": 2, "uk": 1}
    assert list(found.counts) == [None, "en", "uk"], "the bilingual view first, as the search page shows them"
    assert index.reader.search(query("alpha -gamma"), 10).counts == {None: 1, "en": 1, "uk": 0}


def test_the_reader_follows_the_index_to_memory(index: Index) -> None:
    """A full disk moves the index into memory (a new connection): the reader reads that one."""
    index._fall_back_to_memory(OSError("disk full"))
    index.write([accepted("late.txt", published_ns=BASE_NS + 9 * SECOND)])
    assert index.reader.count_files(warned=None, q=None) == 4
    assert index.reader.files(warned=False, q=None, limit=1, offset=0)[0].path == "late.txt"


def test_the_http_layer_reads_the_index_only_through_the_reader() -> None:
    """No SQL, no connection and no Index method in feedsvc/http: only `index.reader`."""
    for module in sorted(HTTP.glob("*.py")):
        text = module.read_text()
        assert not re.search(r"\bexecute\(|\bSELECT\b|\bsqlite3\b|store\.index\b", text), module.name
        assert re.findall(r"\bindex\.(\w+)", text.replace("/index.html", "")) in ([], ["reader"]), module.name
