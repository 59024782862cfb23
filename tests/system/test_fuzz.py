"""Fuzzing: random Unicode and random structure through parse, index and every renderer.

Bounded in `make test` (FEEDSVC_FUZZ_EXAMPLES unset: 60 in-process examples, 8 end to end);
`make fuzz` sets FEEDSVC_FUZZ_EXAMPLES=5000 (end to end: a hundredth of it, at least 8).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import feedparser
from helpers import poll_until
from helpers.feeds import FEEDS, doc_id
from helpers.servers import Server
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from feedsvc.documents.files import classify
from feedsvc.documents.model import ReasonKind, Rejected, document_id
from feedsvc.documents.parse import parse_document
from feedsvc.feeds import VIEWS, FeedMeta, Page, render, render_home
from feedsvc.ingest.ingest import Ingest
from feedsvc.store.index import Index

FAST = int(os.environ.get("FEEDSVC_FUZZ_EXAMPLES", "60"))
END_TO_END = max(8, FAST // 100) if "FEEDSVC_FUZZ_EXAMPLES" in os.environ else 8
COMMON = dict(deadline=None, derandomize=False, print_blob=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.function_scoped_fixture])
META = FeedMeta(title="fuzz <&> ]]> feed", subtitle="sub", author="a & b", tag_authority="feeds.test,2026",
                language="uk")
BASE = "http://feeds.test"
MIB = 1 << 20

NASTY = [
    "\u0301", "e\u0301\u0302\u0303", "\u202e", "\u202d", "\u200f", "\u200e", "שלום עולם", "مرحبا بالعالم",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "😀👩‍👩‍👧", "\U0010fffd", "\x01", "\x08", "\x0b", "\x0c", "\x1b[31m", "\x7f", "\x85",
    "\x9f", "\u2028", "\u2029", "\ufeff", "\ufffe", "\uffff", "\ud800", "\udfff", "]]>", "<![CDATA[", "<script>",
    "</summary>", "&amp;", "&#0;", "&nbsp;", "\"'", "\t", "\u00a0", "\u3000", "  ", "Україна", "війна",
    "Ukraine", "war", "talks", "officials", "сказав", "Росія", "россия", "ї", "Ґ", "%00", "%2e%2e/",
    "javascript:alert(1)", "{{x}}", "${x}", "\\", "/../../etc/passwd",
]
WORDS = ["The", "talks", "would", "go", "on.", "Officials", "said", "Analysts", "were", "cautious.",
         "Автори", "статті", "розповідають", "про", "події", "тижня", "та", "наслідки", "для", "України."]

# Surrogates (Cs) come in rarely (they become invalid UTF-8 such as b"\xed\xa0\x80", rejecting the file).
any_char = st.one_of(st.characters(blacklist_categories=("Cs", "Cc")), st.characters(categories=("Cc",), exclude_characters="\x00"),
                     st.characters(min_codepoint=0x10000), st.characters(categories=("Mn", "Me", "Cf")))
word = st.one_of(st.sampled_from(WORDS), st.sampled_from(NASTY), st.text(any_char, min_size=1, max_size=10))
text = st.lists(word, min_size=1, max_size=14).map(" ".join)
url = st.builds(lambda scheme, tail: f"{scheme}://example.com/{tail}",
                st.sampled_from(["https", "http", "javascript", "ftp", "HTTPS"]),
                st.text(any_char, max_size=20))
source = st.one_of(
    st.sampled_from(["Reuters.- 13.09.2023", "BBC News - 2023-05-01", "The Guardian, 1 May 2023", "Time.- 31.02.2023",
                     "Le Monde.- 99.99.9999", "By Jane Doe", ""]),
    st.builds(lambda a, b: f"{a}.- {b}", text, text))
line = st.one_of(
    st.builds(lambda h, t: f"{h}{t}", st.sampled_from(["#", "## ", "### ", "#### ", "##", "# "]), text),
    text, url, st.builds(lambda t, u: f"{t} {u}", text, url), st.just(""), st.just("Read More: " + "x"),
    st.builds(lambda t: "—" + t, text))


EN = ["Officials", "said", "the", "talks", "about", "the", "war", "in", "Ukraine", "would", "go", "on"]
UK = ["Автори", "статті", "розповідають", "про", "події", "тижня", "та", "наслідки", "для", "України"]


def spiced(words: list[str]) -> Any:
    """Mostly real words of one language with nasty pieces mixed in: detected as that language."""
    return st.lists(st.one_of(st.sampled_from(words), st.sampled_from(words), st.sampled_from(words),
                              st.sampled_from(NASTY), st.text(any_char, min_size=1, max_size=4)),
                    min_size=4, max_size=14).map(" ".join)


@st.composite
def documents(draw: Any) -> bytes:
    if draw(st.integers(0, 4)):  # mostly the digest's shape, with random content
        lines = [draw(source), "", draw(text), ""]
        heads = [draw(st.sampled_from(["## ", "# ", "### ", "##"])) + draw(spiced(EN)),
                 draw(st.sampled_from(["## ", "# ", "### "])) + draw(spiced(UK))]
        lines += draw(st.permutations(heads)) if draw(st.booleans()) else heads[:draw(st.integers(1, 2))]
        lines += ["", draw(spiced(UK)) + " " + draw(url), ""]
        for _ in range(draw(st.integers(0, 4))):
            lines += [draw(st.one_of(spiced(EN), line)), draw(st.sampled_from(["", "", "\n"]))]
    else:
        lines = [draw(source), "", draw(text)] if draw(st.booleans()) else []
        lines += draw(st.lists(line, max_size=16))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r", "\n\n"]))
    body = newline.join(lines)
    encoding = draw(st.sampled_from(["utf-8"] * 8 + ["utf-8-sig", "cp1251", "utf-16"]))
    if encoding == "cp1251":
        data = body.encode("cp1251", errors="replace")
    elif encoding == "utf-16":
        data = body.encode("utf-16", errors="surrogatepass")
    else:
        data = body.encode(encoding, errors="surrogatepass")
    if not draw(st.integers(0, 3)):
        at = draw(st.integers(0, len(data)))
        junk = draw(st.sampled_from([b"\xed\xa0\x80", b"\xff", b"\xc0\xaf", b"\xe2\x82", b"\xf4\x90\x80\x80",
                                     b"\x00", b"\xd0", b"\xa5\xaa\xaf"]))
        data = data[:at] + junk + data[at:]
    return data


def check_render(entries: list[Any]) -> int:
    """Render all nine feeds and the home page of `entries`; assert they are well-formed and ids unique."""
    updated = max((e.updated for e in entries), default=None)
    page = Page(entries=tuple(entries), number=1, limit=50, total=len(entries), updated=updated, default_limit=50)
    checked = 0
    for view in VIEWS:
        body = render(META, view, page, BASE)
        check_feed_bytes(view.fmt, body)
        checked += 1
    home = render_home(META, page, BASE)
    home.decode("utf-8")
    assert b"<script" not in home.lower(), "input reached the HTML page unescaped"
    return checked


def check_feed_bytes(fmt: str, body: bytes) -> None:
    if fmt == "json":
        feed = json.loads(body)
        found = [item["id"] for item in feed["items"]]
    else:
        etree.fromstring(body, etree.XMLParser(resolve_entities=False))  # strict XML 1.0
        parsed = feedparser.parse(body)
        assert not parsed.bozo, f"bozo: {parsed.get('bozo_exception')}"
        found = [e.id for e in parsed.entries]
    assert len(found) == len(set(found)), f"duplicate ids: {found}"


def to_entry(document: Any, n: int) -> Any:
    from feedsvc.documents.model import Entry
    day = dt.datetime(2023, 1, 1, tzinfo=dt.UTC) + dt.timedelta(hours=n)
    return Entry(document, day, day + dt.timedelta(minutes=1))


@settings(max_examples=FAST, **COMMON)
@given(st.lists(documents(), min_size=1, max_size=4))
def test_parse_and_render_everything(files: list[bytes]) -> None:
    entries = []
    for n, data in enumerate(files):
        try:
            document = parse_document(data, f"fuzz-{n}.txt", max_bytes=MIB)
        except Rejected as rejected:
            assert str(rejected.reason) and "\n" not in str(rejected.reason)
            assert rejected.reason.kind is not ReasonKind.PARSER_ERROR, rejected.reason
            continue
        assert document.title.en or document.title.uk
        entries.append(to_entry(document, n))
    check_render(entries)


@settings(max_examples=max(20, FAST // 3), **COMMON)
@given(st.lists(documents(), min_size=1, max_size=3), st.data())
def test_through_the_index(tmp_path_factory: Any, files: list[bytes], data: Any) -> None:
    """Files on disk through Ingest and the SQLite index (JSON round trip), then every renderer."""
    root = tmp_path_factory.mktemp("fuzz")
    seeds = root / "seeds"
    seeds.mkdir()
    names = data.draw(st.lists(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00"),
                                       min_size=1, max_size=20), min_size=len(files), max_size=len(files),
                               unique_by=lambda s: s.encode("utf-8", "surrogateescape")))
    written = []
    for name, payload in zip(names, files):
        rel = name + ".txt"
        if len(rel.encode()) > 200 or classify(rel, "*.txt"):
            continue
        (seeds / rel).write_bytes(payload)
        written.append(rel)
    index = Index(root / "state")
    try:
        outcome = Ingest(seeds, index, pattern="*.txt", max_bytes=MIB).reconcile()
        assert len(outcome.added) + len(outcome.rejected) == len(written)
        for path, reason in outcome.rejected:
            assert reason.kind is not ReasonKind.PARSER_ERROR, (path, reason)
        for lang in (None, "en", "uk"):
            entries = index.page(lang, 50, 0)
            assert len({e.document.id for e in entries}) == len(entries)
        check_render(list(index.page(None, 50, 0)))
    finally:
        index.close()
        shutil.rmtree(root, ignore_errors=True)


@settings(max_examples=FAST, **COMMON)
@given(st.lists(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1,
                        max_size=30), min_size=2, max_size=6, unique=True))
def test_document_ids_unique_per_path(stems: list[str]) -> None:
    paths = [s + ".txt" for s in stems]
    found = {document_id(p) for p in paths}
    assert len(found) == len(paths)
    for i in found:
        assert i.isascii() and " " not in i and "\n" not in i


# -- end to end: files into a watched folder, nine feeds out of a real server ------------------

def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_end_to_end_over_a_running_server(tmp_path: Path) -> None:
    seeds, state = tmp_path / "seeds", tmp_path / "state"
    seeds.mkdir()
    server = Server(seeds, state, "--debounce", "0.01", "--rescan-interval", "0")
    tried = {"examples": 0}
    try:
        server.wait_ready()

        @settings(max_examples=END_TO_END, **COMMON)
        @given(st.lists(documents(), min_size=1, max_size=5))
        def one(files: list[bytes]) -> None:
            tried["examples"] += 1
            for old in seeds.iterdir():
                old.unlink()
            expected: set[str] = set()
            for n, data in enumerate(files):
                rel = f"e2e-{tried['examples']}-{n}.txt"
                try:
                    expected.add(parse_document(data, rel, max_bytes=MIB).id)
                except Rejected:
                    pass
                tmp = seeds / f".{rel}.part"
                tmp.write_bytes(data)
                tmp.rename(seeds / rel)
            got: set[str] = set()

            def shows_expected() -> bool:
                nonlocal got
                status, body = _get(server.url + "/feed.json?limit=500")
                assert status == 200, body[:300]
                got = {doc_id(item["id"]) for item in json.loads(body)["items"]}
                return got == expected

            poll_until(shows_expected, f"the feeds to show {expected}", 15, interval=0.05,
                       detail=lambda: f"feeds never showed {expected}, last {got}")
            for path in FEEDS:
                status, body = _get(server.url + path + "?limit=500")
                assert status == 200, (path, status)
                check_feed_bytes(path.rsplit(".", 1)[1], body)
            status, body = _get(server.url + "/")
            assert status == 200 and b"<script" not in body.lower()
            status, body = _get(server.url + "/healthz")
            assert status == 200, body

        one()
    finally:
        server.stop()
    log = server.log.read_text(errors="replace")
    assert "Traceback" not in log and "unexpected parser error" not in log, log[-3000:]
    print(f"end-to-end fuzz: {tried['examples']} examples")
