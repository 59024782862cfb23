"""Ingest against a fake parser: real files and a real index, but the fake decides what each file parses to.

As in lemon24/reader's tests, the parser is swapped for a fake that records its calls, so the tests
can say how often a file was read and what it parsed to, without the real parser's rules.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import write

from feedsvc.documents.model import Bilingual, Document, Reason, ReasonKind, document_id
from feedsvc.ingest.ingest import Ingest, Loaded, Parsed, Read, ReadJob, Same, Unsettled
from feedsvc.store.index import Index

MIB = 1024 * 1024
NO_TITLE = Reason(ReasonKind.NO_TITLE, "no title line", line=1)
UNREADABLE = Reason(ReasonKind.UNREADABLE, "cannot read: Permission denied")


class FakeParser:
    """Reads the real bytes (so digests follow the file) but decides the parse itself.

    A file's first line is its English title, the rest its English summary. Paths in `reject`
    parse to that Reason, paths in `unsettled` are reported as changing while read.
    """

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.jobs: list[ReadJob] = []
        self.reject: dict[str, Reason] = {}
        self.unsettled: set[str] = set()

    def __call__(self, job: ReadJob) -> Loaded:
        self.calls[job.rel] += 1
        self.jobs.append(job)
        if job.rel in self.unsettled:
            return Unsettled()
        try:
            data = Path(job.full).read_bytes()
        except FileNotFoundError:
            return None
        reason = self.reject.get(job.rel)
        if reason is not None:
            return Read(job.size, job.mtime_ns, hashlib.sha256(data + str(reason).encode()).digest(), reason)
        digest = hashlib.sha256(data).digest()
        if digest == job.known_hash:
            return Same(job.size, job.mtime_ns)
        title, _, summary = data.decode().partition("\n")
        doc = Document(id=document_id(job.rel), path=job.rel, source=None, date=None, authors=(), link=None,
                       title=Bilingual(en=title), summary=Bilingual(en=summary.strip() or "Summary."))
        record = json.dumps(doc.to_json(), ensure_ascii=False)
        return Read(job.size, job.mtime_ns, digest,
                    Parsed(record, doc.languages, (doc.digest("en"), doc.digest("uk")), doc.warned, "", ()))


@pytest.fixture
def fake() -> FakeParser:
    return FakeParser()


@pytest.fixture
def index(tmp_path: Path) -> Iterator[Index]:
    opened = Index(tmp_path / "state")
    yield opened
    opened.close()


@pytest.fixture
def ingest(seeds: Path, index: Index, fake: FakeParser) -> Ingest:
    return Ingest(seeds, index, pattern="*.txt", max_bytes=MIB, loader=fake)


def titles(index: Index) -> dict[str, str | None]:
    return {e.document.path: e.document.title.en for e in index.page(None, 100, 0)}


def bump_mtime(path: Path, seconds: int = 10) -> None:
    """A new mtime, same bytes (a touch, or a copy of identical content)."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + seconds * 1_000_000_000))


# -- new, unchanged, changed ------------------------------------------------------------------


def test_a_new_file_is_added_with_a_row(seeds: Path, ingest: Ingest, index: Index, fake: FakeParser) -> None:
    path = write(seeds, "a.txt", "First title\nSome summary.\n")
    outcome = ingest.reconcile()
    assert outcome.added == ["a.txt"]
    assert not outcome.changed and not outcome.rejected and not outcome.removed and outcome.visible
    assert fake.calls == {"a.txt": 1}
    (job,) = fake.jobs
    st = path.stat()
    assert (job.full, job.size, job.mtime_ns, job.known_hash) == (str(path), st.st_size, st.st_mtime_ns, None)
    state = index.state("a.txt")
    assert state is not None and state.reason is None
    assert state.hash == hashlib.sha256(path.read_bytes()).digest()
    assert (state.size, state.mtime_ns) == (st.st_size, st.st_mtime_ns)
    assert index.total(None) == 1 and index.total("en") == 1
    assert titles(index) == {"a.txt": "First title"}
    assert [e.document.id for e in index.page(None, 10, 0)] == ["a"]


def test_an_unchanged_file_is_not_read_again(seeds: Path, ingest: Ingest, index: Index, fake: FakeParser) -> None:
    write(seeds, "a.txt", "Title\nSummary.\n")
    ingest.reconcile()
    generation = index.generation
    outcome = ingest.reconcile()
    assert fake.calls == {"a.txt": 1}
    assert not outcome.visible and outcome.touched == 0
    assert index.generation == generation


def test_same_bytes_with_a_new_stat_write_no_row(seeds: Path, ingest: Ingest, index: Index,
                                                 fake: FakeParser) -> None:
    path = write(seeds, "a.txt", "Title\nSummary.\n")
    ingest.reconcile()
    stored = index.state("a.txt")
    generation = index.generation
    bump_mtime(path)

    outcome = ingest.reconcile()
    assert fake.calls == {"a.txt": 2}, "a moved stat is read again"
    assert stored is not None and fake.jobs[-1].known_hash == stored.hash
    assert not outcome.added and not outcome.changed and not outcome.visible
    assert outcome.touched == 1
    assert index.generation == generation, "no row written: no feed changes"
    after = index.state("a.txt")
    assert after is not None
    assert after.mtime_ns == path.stat().st_mtime_ns != stored.mtime_ns
    assert after.hash == stored.hash

    ingest.reconcile()
    assert fake.calls == {"a.txt": 2}, "the new stat was recorded"


def test_new_bytes_are_a_change(seeds: Path, ingest: Ingest, index: Index) -> None:
    write(seeds, "a.txt", "Old title\nSummary.\n")
    ingest.reconcile()
    write(seeds, "a.txt", "New longer title\nSummary.\n")
    outcome = ingest.reconcile()
    assert outcome.changed == ["a.txt"] and not outcome.added
    assert titles(index) == {"a.txt": "New longer title"}
    assert index.total(None) == 1


def test_names_that_are_not_documents_never_reach_the_parser(seeds: Path, ingest: Ingest, index: Index,
                                                             fake: FakeParser) -> None:
    for name in ("notes.md", ".hidden.txt", "a.txt~", "#a.txt#", ".git/config.txt", "a.txt.swp"):
        write(seeds, name, "Title\nSummary.\n")
    write(seeds, "real.txt", "Title\nSummary.\n")
    outcome = ingest.reconcile()
    assert outcome.added == ["real.txt"]
    assert set(fake.calls) == {"real.txt"}
    assert set(index.paths()) == {"real.txt"}


# -- rejections, unsettled files, removals ----------------------------------------------------


def test_a_parse_failure_is_rejected_with_its_reason(seeds: Path, ingest: Ingest, index: Index,
                                                     fake: FakeParser) -> None:
    write(seeds, "bad.txt", "not a document\n")
    write(seeds, "good.txt", "Title\nSummary.\n")
    fake.reject["bad.txt"] = NO_TITLE
    outcome = ingest.reconcile()
    assert outcome.rejected == [("bad.txt", NO_TITLE)]
    assert outcome.added == ["good.txt"]
    state = index.state("bad.txt")
    assert state is not None and state.reason == NO_TITLE
    assert index.summary.rejected == (("bad.txt", NO_TITLE),)
    assert index.total(None) == 1 and set(titles(index)) == {"good.txt"}


def test_a_rejected_file_that_is_fixed_is_added(seeds: Path, ingest: Ingest, index: Index,
                                                fake: FakeParser) -> None:
    write(seeds, "a.txt", "broken\n")
    fake.reject["a.txt"] = NO_TITLE
    ingest.reconcile()
    del fake.reject["a.txt"]
    write(seeds, "a.txt", "Fixed title\nSummary.\n")
    outcome = ingest.reconcile()
    assert outcome.added == ["a.txt"] and not outcome.rejected
    assert index.summary.rejected == ()
    assert titles(index) == {"a.txt": "Fixed title"}


def test_an_unsettled_file_is_reported_and_nothing_written(seeds: Path, ingest: Ingest, index: Index,
                                                           fake: FakeParser) -> None:
    write(seeds, "a.txt", "Title\nSummary.\n")
    fake.unsettled.add("a.txt")
    outcome = ingest.reconcile()
    assert outcome.unsettled == ["a.txt"]
    assert not outcome.added and not outcome.rejected and not outcome.visible
    assert index.state("a.txt") is None and index.total(None) == 0
    assert index.generation == 0

    fake.unsettled.clear()
    outcome = ingest.reconcile()
    assert outcome.added == ["a.txt"] and outcome.unsettled == []
    assert fake.calls == {"a.txt": 2}


def test_a_file_removed_from_disk_is_removed(seeds: Path, ingest: Ingest, index: Index,
                                             fake: FakeParser) -> None:
    write(seeds, "a.txt", "A\nSummary.\n")
    write(seeds, "sub/b.txt", "B\nSummary.\n")
    ingest.reconcile()
    (seeds / "sub" / "b.txt").unlink()
    outcome = ingest.reconcile()
    assert outcome.removed == ["sub/b.txt"] and outcome.visible
    assert not outcome.added and not outcome.changed
    assert index.state("sub/b.txt") is None
    assert set(index.paths()) == {"a.txt"} and index.total(None) == 1
    assert fake.calls == {"a.txt": 1, "sub/b.txt": 1}, "a vanished file is not read"


def test_a_removed_rejection_leaves_the_summary(seeds: Path, ingest: Ingest, index: Index,
                                                fake: FakeParser) -> None:
    write(seeds, "bad.txt", "x\n")
    fake.reject["bad.txt"] = NO_TITLE
    ingest.reconcile()
    (seeds / "bad.txt").unlink()
    outcome = ingest.reconcile()
    assert outcome.removed == ["bad.txt"]
    assert index.summary.rejected == ()


def test_the_same_rejection_twice_is_reported_once(seeds: Path, ingest: Ingest, index: Index,
                                                   fake: FakeParser) -> None:
    path = write(seeds, "bad.txt", "not a document\n")
    fake.reject["bad.txt"] = NO_TITLE
    assert ingest.reconcile().rejected == [("bad.txt", NO_TITLE)]
    generation = index.generation

    bump_mtime(path)  # read again: the stat moved
    outcome = ingest.reconcile()
    assert fake.calls["bad.txt"] == 2
    assert outcome.rejected == [] and not outcome.visible
    assert index.generation == generation
    assert index.summary.rejected == (("bad.txt", NO_TITLE),)

    write(seeds, "bad.txt", "other bytes, same reason\n")  # new bytes are news, even for the same reason
    assert ingest.reconcile().rejected == [("bad.txt", NO_TITLE)]

    other = Reason(ReasonKind.EMPTY, "empty file")
    fake.reject["bad.txt"] = other
    bump_mtime(path)
    assert ingest.reconcile().rejected == [("bad.txt", other)], "a new reason is news"


def test_unreadable_is_retried_with_an_unchanged_stat_and_other_rejections_are_not(
        seeds: Path, ingest: Ingest, index: Index, fake: FakeParser) -> None:
    locked = write(seeds, "locked.txt", "Locked title\nSummary.\n")
    write(seeds, "no-title.txt", "x\n")
    fake.reject.update({"locked.txt": UNREADABLE, "no-title.txt": NO_TITLE})
    before = locked.stat()

    first = ingest.reconcile()
    assert sorted(first.rejected) == [("locked.txt", UNREADABLE), ("no-title.txt", NO_TITLE)]
    for expected in (2, 3):
        outcome = ingest.reconcile()
        assert fake.calls == {"locked.txt": expected, "no-title.txt": 1}
        assert outcome.rejected == [], "still unreadable: said once"
    assert (locked.stat().st_size, locked.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)

    del fake.reject["locked.txt"]  # a chmod moves only the ctime
    outcome = ingest.reconcile()
    assert outcome.added == ["locked.txt"]
    assert titles(index) == {"locked.txt": "Locked title"}
    ingest.reconcile()
    assert fake.calls == {"locked.txt": 4, "no-title.txt": 1}, "a readable file is not retried"


def test_a_symlink_is_rejected_without_reading_it(seeds: Path, tmp_path: Path, ingest: Ingest,
                                                  fake: FakeParser) -> None:
    target = write(tmp_path, "secret.txt", "Secret\nOutside the folder.\n")
    (seeds / "link.txt").symlink_to(target)
    outcome = ingest.reconcile()
    assert [(path, reason.kind) for path, reason in outcome.rejected] == [("link.txt", ReasonKind.SYMLINK)]
    assert fake.calls == {}


# -- a subfolder, busy files ------------------------------------------------------------------


def test_reconcile_under_a_subfolder_touches_only_that_subfolder(seeds: Path, ingest: Ingest, index: Index,
                                                                 fake: FakeParser) -> None:
    write(seeds, "top.txt", "Top\nSummary.\n")
    write(seeds, "sub/old.txt", "Old\nSummary.\n")
    write(seeds, "subway/s.txt", "Subway\nSummary.\n")
    write(seeds, "sub/gone.txt", "Gone\nSummary.\n")
    ingest.reconcile()
    assert set(index.paths()) == {"top.txt", "sub/old.txt", "subway/s.txt", "sub/gone.txt"}
    calls = Counter(fake.calls)

    (seeds / "top.txt").unlink()
    (seeds / "subway" / "s.txt").unlink()
    (seeds / "sub" / "gone.txt").unlink()
    write(seeds, "new-top.txt", "New top\nSummary.\n")
    write(seeds, "sub/deeper/new.txt", "New\nSummary.\n")
    write(seeds, "sub/old.txt", "Old, edited\nSummary.\n")

    outcome = ingest.reconcile(under="sub")
    assert outcome.added == ["sub/deeper/new.txt"]
    assert outcome.changed == ["sub/old.txt"]
    assert outcome.removed == ["sub/gone.txt"], "a sibling folder sharing the prefix is not under sub"
    assert set(index.paths()) == {"top.txt", "subway/s.txt", "sub/old.txt", "sub/deeper/new.txt"}
    assert set(fake.calls - calls) == {"sub/deeper/new.txt", "sub/old.txt"}

    outcome = ingest.reconcile()
    assert outcome.added == ["new-top.txt"]
    assert sorted(outcome.removed) == ["subway/s.txt", "top.txt"]


def test_busy_paths_are_skipped(seeds: Path, ingest: Ingest, index: Index, fake: FakeParser) -> None:
    write(seeds, "writing.txt", "Half written\n")
    write(seeds, "done.txt", "Done\nSummary.\n")
    ingest.busy = frozenset({"writing.txt"})
    outcome = ingest.reconcile()
    assert outcome.added == ["done.txt"]
    assert "writing.txt" not in fake.calls
    assert index.state("writing.txt") is None

    ingest.busy = frozenset()
    outcome = ingest.reconcile()
    assert outcome.added == ["writing.txt"]
    assert fake.calls == {"done.txt": 1, "writing.txt": 1}


def test_a_busy_path_is_not_removed_either(seeds: Path, ingest: Ingest, index: Index) -> None:
    path = write(seeds, "a.txt", "A\nSummary.\n")
    ingest.reconcile()
    path.unlink()
    ingest.busy = frozenset({"a.txt"})
    assert ingest.reconcile().removed == []
    assert index.state("a.txt") is not None
    ingest.busy = frozenset()
    assert ingest.reconcile().removed == ["a.txt"]


def test_process_takes_named_paths_only(seeds: Path, ingest: Ingest, index: Index, fake: FakeParser) -> None:
    write(seeds, "a.txt", "A\nSummary.\n")
    write(seeds, "b.txt", "B\nSummary.\n")
    outcome = ingest.process({"a.txt", "never-existed.txt"})
    assert outcome.added == ["a.txt"] and not outcome.removed
    assert set(fake.calls) == {"a.txt"}
    assert set(index.paths()) == {"a.txt"}
