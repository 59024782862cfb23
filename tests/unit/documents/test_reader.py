"""Tests of reading documents (feedsvc.documents: files, parse): the seed, variant documents, bad input, files on disk, properties."""

from __future__ import annotations

import datetime as dt
import os
import pathlib
import re

import pytest
from helpers import DOCUMENTS, ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedsvc.documents.files import classify, read_document
from feedsvc.documents.model import Document, Ignored, ReasonKind, Rejected
from feedsvc.documents.parse import parse_document

SEED = ROOT / "seeds" / "000_1376dc493dc06474.txt"
DOCS = DOCUMENTS
XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")

UK_TITLE = "## Україна отримала нову допомогу від союзників"
UK_SUMMARY = "Союзники пообіцяли Україні нову допомогу, повідомили посадовці у четвер."
EN_TITLE = "## Ukraine gets new aid from its allies"
EN_BODY = "Allies pledged new aid to Ukraine on Thursday, officials said."


def doc(*parts: str, source: str = "Time.- 13.09.2023", authors: str | None = "Jane Doe") -> bytes:
    """A document: source line, authors, then `parts` separated by blank lines."""
    head = [source] + ([authors] if authors is not None else [])
    return "\n\n".join(head + list(parts)).encode()


def parse(data: bytes, name: str = "variant.txt") -> Document:
    return parse_document(data, name)


# --- the seed -----------------------------------------------------------------


def test_seed_record() -> None:
    d = parse(SEED.read_bytes(), "000_1376dc493dc06474.txt")
    assert (d.id, d.path) == ("000_1376dc493dc06474", "000_1376dc493dc06474.txt")
    assert d.source == "Time" and d.date == dt.date(2023, 9, 13)
    assert d.authors == ("Kim Tong-Hyung", "Dasha Litvinova")
    assert d.link == "https://time.com/6313566/kim-jong-un-tours-russian-rocket-launch-center-with-putin/"
    assert d.title.en == "vladimir putin and Kim Jong Un meet at remote siberian rocket launch facility"
    assert d.title.uk == "володимир путін і Кім Чен Ин зустрілися на віддаленому сибірському ракетному комплексі"
    assert d.summary.uk.startswith("Лідери росії та Північної Кореї")
    assert d.summary.uk.endswith("які росія підтримувала у минулому.")
    assert "http" not in d.summary.uk
    en = d.summary.en
    assert en.startswith("The leaders of Russia and North Korea met at a remote Siberian rocket launch facility")
    assert en.endswith(".") and 400 <= len(en) <= 600
    assert d.languages == ("en", "uk")
    # The one piece of page furniture, left out of the article with a warning on its line.
    assert [(w.line, w.text[:46]) for w in d.warnings] == [(25, "cross-link left out of the article: 'Read More")]
    assert not any(p.startswith("Read More") for p in d.body)
    assert d.body[0].startswith("The leaders") and d.body[-1].startswith("—Litvinova reported")
    assert d.to_json()["body"]["en"] == list(d.body)




# --- variant documents ---------------------------------------------------------------

VARIANTS: list[tuple[str, bytes, dict[str, object]]] = [
    ("titles in either order", doc(UK_TITLE, EN_TITLE, UK_SUMMARY, EN_BODY),
     {"title.en": EN_TITLE[3:], "title.uk": UK_TITLE[3:], "summary.uk": UK_SUMMARY}),
    ("no Ukrainian part", doc(EN_TITLE, EN_BODY),
     {"title.uk": None, "summary.uk": None, "summary.en": EN_BODY, "languages": ("en",)}),
    ("Ukrainian only, no English article", doc(EN_TITLE, UK_TITLE, UK_SUMMARY + " https://x.org/a"),
     {"summary.en": None, "body": (), "link": "https://x.org/a", "summary.uk": UK_SUMMARY}),
    ("Ukrainian title only", doc(UK_TITLE, UK_SUMMARY),
     {"title.en": None, "languages": ("uk",), "summary.en": None}),
    ("Ukrainian summary of several paragraphs", doc(EN_TITLE, UK_TITLE, UK_SUMMARY, "Друга частина резюме про війну.", EN_BODY),
     {"summary.uk": UK_SUMMARY + "\n\nДруга частина резюме про війну."}),
    ("Ukrainian title with NATO", doc(EN_TITLE, "## NATO посилить присутність у Балтії", UK_SUMMARY),
     {"title.uk": "NATO посилить присутність у Балтії"}),
    ("Ukrainian title with Kim Jong Un", doc("## Kim Jong Un прибув до росії", EN_TITLE),
     {"title.uk": "Kim Jong Un прибув до росії", "title.en": EN_TITLE[3:]}),
    ("Russian title dropped", doc(EN_TITLE, "## Ким Чен Ын прибыл в Россию", EN_BODY),
     {"title.uk": None, "warnings~": "Russian title dropped"}),
    ("Russian summary dropped", doc(EN_TITLE, UK_TITLE, "Лидеры России и Северной Кореи встретились на отдаленном ракетном комплексе. https://x.org/r", EN_BODY),
     {"summary.uk": None, "link": "https://x.org/r", "warnings~": "Russian paragraph dropped"}),
    ("single #", doc("# " + EN_TITLE[3:]), {"title.en": EN_TITLE[3:]}),
    ("### and trailing spaces", doc("###   " + EN_TITLE[3:] + "   "), {"title.en": EN_TITLE[3:]}),
    ("source Time.-", doc(EN_TITLE, source="Time.- 13.09.2023"), {"source": "Time", "date": dt.date(2023, 9, 13)}),
    ("source Reuters.-", doc(EN_TITLE, source="Reuters.- 02.03.2024"), {"source": "Reuters", "date": dt.date(2024, 3, 2)}),
    ("source BBC News -", doc(EN_TITLE, source="BBC News - 2023-05-01"), {"source": "BBC News", "date": dt.date(2023, 5, 1)}),
    ("source The Guardian,", doc(EN_TITLE, source="The Guardian, 1 May 2023"), {"source": "The Guardian", "date": dt.date(2023, 5, 1)}),
    ("date 13.9.2023", doc(EN_TITLE, source="Time.- 13.9.2023"), {"date": dt.date(2023, 9, 13)}),
    ("date ISO", doc(EN_TITLE, source="Time.- 2023-09-13"), {"date": dt.date(2023, 9, 13)}),
    ("date 13 September 2023", doc(EN_TITLE, source="Time.- 13 September 2023"), {"date": dt.date(2023, 9, 13)}),
    ("date Sept. 13, 2023", doc(EN_TITLE, source="Time - Sept. 13, 2023"), {"source": "Time", "date": dt.date(2023, 9, 13)}),
    ("date Sept. 13, 2023 after comma", doc(EN_TITLE, source="Time, Sept. 13, 2023"), {"source": "Time", "date": dt.date(2023, 9, 13)}),
    ("date garbage", doc(EN_TITLE, source="Time.- soon"), {"source": "Time", "date": None, "warnings~": "unparseable date"}),
    ("date impossible", doc(EN_TITLE, source="Time.- 31.02.2023"), {"date": None, "warnings~": "unparseable date"}),
    ("date without year", doc(EN_TITLE, source="Time.- 13.09"), {"date": None, "warnings~": "unparseable date"}),
    ("date without day", doc(EN_TITLE, source="Time.- September 2023"), {"date": None}),
    ("no date at all", doc(EN_TITLE, source="Time"), {"source": "Time", "date": None, "warnings~": "no date"}),
    ("By and and", doc(EN_TITLE, authors="By Kim Tong-Hyung and Dasha Litvinova"), {"authors": ("Kim Tong-Hyung", "Dasha Litvinova")}),
    ("Oxford comma", doc(EN_TITLE, authors="Ann Lee, Bo Kim, and Cy Park"), {"authors": ("Ann Lee", "Bo Kim", "Cy Park")}),
    ("no author line", doc(EN_TITLE, EN_BODY, authors=None), {"authors": (), "source": "Time"}),
    ("URL on its own line", doc(EN_TITLE, UK_TITLE, UK_SUMMARY + "\nhttps://x.org/a"), {"link": "https://x.org/a", "summary.uk": UK_SUMMARY}),
    ("URL as its own paragraph", doc(EN_TITLE, UK_TITLE, UK_SUMMARY, "https://x.org/a", EN_BODY), {"link": "https://x.org/a", "summary.uk": UK_SUMMARY}),
    ("two URLs", doc(EN_TITLE, UK_TITLE, UK_SUMMARY + " https://x.org/a https://y.org/b"),
     {"link": "https://x.org/a", "summary.uk": UK_SUMMARY, "warnings~": "extra source URL"}),
    ("URL inside a sentence stays", doc(EN_TITLE, UK_TITLE, "Дивіться https://x.org/in на сайті. https://x.org/a"),
     {"link": "https://x.org/a", "summary.uk": "Дивіться https://x.org/in на сайті."}),
    ("no-break spaces", doc(EN_TITLE.replace(" ", "\u00a0"), EN_BODY.replace(" ", "\u00a0")), {"title.en": EN_TITLE[3:], "summary.en": EN_BODY}),
    ("tabs and trailing whitespace", doc(EN_TITLE + " \t ", "Allies\tpledged new aid.   "), {"title.en": EN_TITLE[3:], "body": ("Allies pledged new aid.",)}),
    ("runs of blank lines", doc(EN_TITLE, "\n\n\n", UK_TITLE, "\n\n", EN_BODY), {"title.uk": UK_TITLE[3:], "body": (EN_BODY,)}),
    ("CRLF", doc(EN_TITLE, UK_TITLE, UK_SUMMARY, EN_BODY).replace(b"\n", b"\r\n"), {"title.uk": UK_TITLE[3:], "body": (EN_BODY,)}),
    ("BOM", b"\xef\xbb\xbf" + doc(EN_TITLE), {"source": "Time"}),
    ("Read More lines leave the body", doc(EN_TITLE, EN_BODY, "Read More: Another story", "read more: Yet another", "Second paragraph here."),
     {"body": (EN_BODY, "Second paragraph here.")}),
    ("credit paragraph not in summary", doc(EN_TITLE, EN_BODY, "—Doe reported from Kyiv."), {"summary.en": EN_BODY}),
    ("-- credit paragraph", doc(EN_TITLE, EN_BODY, "-- Doe reported from Kyiv."), {"summary.en": EN_BODY}),
    ("agency credit paragraph", doc(EN_TITLE, EN_BODY, "Associated Press journalists Jim Heintz in Tallinn contributed."), {"summary.en": EN_BODY}),
    ("dateline stripped from summary, kept in body", doc(EN_TITLE, "KYIV, Ukraine (AP) — " + EN_BODY),
     {"summary.en": EN_BODY, "body": ("KYIV, Ukraine (AP) — " + EN_BODY,)}),
    ("non-English article dropped", doc(EN_TITLE, "Die Verbündeten haben der Ukraine am Donnerstag neue Hilfe zugesagt, teilten Beamte mit. Die Lieferungen sollen im Frühjahr beginnen, hieß es aus Berlin."),
     {"body": (), "summary.en": None, "warnings~": "not in English"}),
]


def field(d: Document, name: str) -> object:
    value: object = d
    for part in name.split("."):
        value = getattr(value, part)
    return value


@pytest.mark.parametrize(("data", "expected"), [v[1:] for v in VARIANTS], ids=[v[0] for v in VARIANTS])
def test_variant(data: bytes, expected: dict[str, object]) -> None:
    d = parse(data)
    for name, value in expected.items():
        if name == "warnings~":
            assert any(str(value) in w.text for w in d.warnings), d.warnings
        else:
            assert field(d, name) == value, name


def test_fixture_hard_wrapped() -> None:
    d = parse((DOCS / "hard_wrapped.txt").read_bytes())
    assert d.authors == ("Tom Balmforth", "Olena Harmash")
    assert d.summary.uk == (
        "Україна заявила, що її сили протиповітряної оборони збили більшість дронів, запущених "
        "росією вночі. Посадовці кажуть, що жертв немає."
    )
    assert d.link == "https://www.reuters.com/world/europe/ukraine-drones-2024-03-02/"
    assert len(d.body) == 2 and d.body[0].startswith("KYIV (Reuters) - Ukraine's air defences shot down most of the drones launched")
    assert d.summary.en.startswith("Ukraine's air defences")
    assert "1:30 a.m. Saturday. Debris" in d.summary.en


def test_fixture_no_blank_lines() -> None:
    d = parse((DOCS / "no_blank_lines.txt").read_bytes())
    assert (d.source, d.date, d.authors) == ("BBC News", dt.date(2023, 5, 1), ("Jane Doe",))
    assert d.title.en == "Ukraine war: talks resume in Istanbul"
    assert d.summary.uk == "Українська делегація прибула до Стамбулу для нового раунду переговорів."
    assert d.link == "https://www.bbc.com/news/world-123"
    assert d.body == (
        "The Ukrainian delegation arrived in Istanbul for a new round of talks.",
        "Officials said the talks would last two days.",
    )


def test_fixture_crlf_bom_tabs_nbsp() -> None:
    d = parse((DOCS / "crlf_bom_tabs.txt").read_bytes())
    assert (d.source, d.date) == ("The Guardian", dt.date(2023, 5, 1))
    assert d.title.en == "Talks resume in Istanbul" and d.title.uk == "Переговори відновилися в Стамбулі"
    assert d.summary.uk == "Українська делегація прибула до Стамбулу."
    assert d.link == "https://www.theguardian.com/world/1"
    assert d.body == ("The Ukrainian delegation arrived in Istanbul.",)
    assert d.warnings == ()


def test_fixture_uk_only() -> None:
    d = parse((DOCS / "uk_only.txt").read_bytes())
    assert d.summary.en is None and d.body == () and d.to_json()["body"]["en"] is None
    assert d.summary.uk.count("\n\n") == 1 and d.link == "https://time.com/6313000/kim-jong-un-train/"


def test_fixture_russian_summary_not_ukrainian() -> None:
    d = parse((DOCS / "russian_summary.txt").read_bytes())
    assert d.summary.uk is None and d.title.uk == "Кім Чен Ин зустрівся з путіним у Сибіру"
    assert d.link == "https://time.com/1/"
    assert any("Russian" in w.text for w in d.warnings)


# --- bad input -----------------------------------------------------------------------

UKRAINIAN_DOC = doc(EN_TITLE, UK_TITLE, UK_SUMMARY, EN_BODY).decode()

BAD: list[tuple[str, bytes, str]] = [
    ("empty", b"", "empty file"),
    ("whitespace only", b" \n\t\r\n  \n", "empty file"),
    ("NUL bytes", b"## Title\x00\x00 text", "NUL"),
    ("control characters", bytes(range(1, 9)) * 20 + b"## Title", "binary data"),
    ("invalid UTF-8", "## Caf\xe9 au lait\n".encode("latin-1") * 3, "invalid UTF-8"),
    ("cp1252 English", "## He said \u201chello\u201d and left.\n".encode("cp1252"), "invalid UTF-8"),
    ("mixed encodings", UKRAINIAN_DOC[:150].encode() + UKRAINIAN_DOC[150:].encode("cp1251"), "invalid UTF-8"),
    ("UTF-16", UKRAINIAN_DOC.encode("utf-16"), "UTF-16"),
    ("too large", doc(EN_TITLE, "x" * 2000), "limit"),
    ("absurd line", doc(EN_TITLE, "word " * 5000), "characters long"),
    ("no heading", b"Time.- 13.09.2023\n\nJane Doe\n\nJust text.\n", "no title"),
    ("empty heading", doc("##", "Some text."), "no title"),
    ("Russian title only", doc("## Ким Чен Ын прибыл в Россию"), "Russian"),
]


@pytest.mark.parametrize(("data", "reason"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_rejected(data: bytes, reason: str) -> None:
    with pytest.raises(Rejected) as info:
        parse_document(data, "bad.txt", max_bytes=1000 if reason == "limit" else 1 << 20)
    assert reason in str(info.value.reason)
    assert "\n" not in str(info.value.reason)


def test_cp1251_accepted_with_warning() -> None:
    d = parse(UKRAINIAN_DOC.encode("cp1251"))
    assert d.title.uk == UK_TITLE[3:] and d.summary.uk == UK_SUMMARY
    assert any("cp1251" in w.text for w in d.warnings)


def test_forbidden_characters_stripped_with_warning() -> None:
    d = parse(doc(EN_TITLE + "\x01\ufffe", EN_BODY.replace("new", "n\x0bew\uffff")))
    assert d.title.en == EN_TITLE[3:] and d.body == (EN_BODY,)
    assert any("removed 4" in w.text for w in d.warnings)


# --- classify and read_document ------------------------------------------------------------


@pytest.mark.parametrize(
    ("relpath", "reason"),
    [
        ("a.txt", None),
        ("sub/dir/a.txt", None),
        (".hidden.txt", "hidden file"),
        (".git/a.txt", "hidden folder"),
        ("sub/.cache/a.txt", "hidden folder"),
        (".a.txt.swp", "hidden file"),
        ("a.txt.swp", "swap"),
        ("a.txt~", "backup"),
        ("#a.txt#", "auto-save"),
        (".~lock.a.txt#", "LibreOffice"),
        ("a.md", "does not match"),
        ("A.TXT", "does not match"),
    ],
)
def test_classify(relpath: str, reason: str | None) -> None:
    got = classify(relpath)
    assert got is None if reason is None else reason in got


def test_classify_pattern() -> None:
    assert classify("a.md", "*.md") is None and classify("a.txt", "*.md") is not None


def test_read_document(tmp_path: pathlib.Path) -> None:
    (tmp_path / "sub").mkdir()
    target = tmp_path / "sub" / "x y.txt"
    target.write_bytes(SEED.read_bytes())
    d = read_document(target, tmp_path)
    assert (d.id, d.path, d.source) == ("sub/x%20y", "sub/x y.txt", "Time")


def test_read_document_refusals(tmp_path: pathlib.Path) -> None:
    good = tmp_path / "good.txt"
    good.write_bytes(SEED.read_bytes())
    (tmp_path / "link.txt").symlink_to(good)
    (tmp_path / "dir.txt").mkdir()
    (tmp_path / "linked").symlink_to(tmp_path)
    os.mkfifo(tmp_path / "fifo.txt")
    (tmp_path / "big.txt").write_bytes(b"x" * 5000)
    cases = {
        "link.txt": "symbolic link",
        "dir.txt": "not a regular file",
        "fifo.txt": "not a regular file",
        "missing.txt": "cannot read",
        "linked/good.txt": "symbolically linked folder",
    }
    for name, reason in cases.items():
        with pytest.raises(Rejected) as info:
            read_document(tmp_path / name, tmp_path)
        assert reason in str(info.value.reason), name
    with pytest.raises(Rejected, match="limit"):
        read_document(tmp_path / "big.txt", tmp_path, max_bytes=1000)
    with pytest.raises(Ignored, match="hidden"):
        read_document(tmp_path / ".good.txt", tmp_path)
    with pytest.raises(Ignored, match="does not match"):
        read_document(tmp_path / "good.txt", tmp_path, pattern="*.md")


# --- properties ----------------------------------------------------------------------------

FRAGMENTS = st.sampled_from(
    ["## ", "# ", "#### ", "Time.- ", "13.09.2023", "Sept. 13, 2023", ", ", " and ", "By ",
     "https://x.org/a", " ", "\n", "\n\n", "\r\n", "\t", "\u00a0", "\ufeff", "\ufffe", "\x0b", "\x85",
     "Привіт, світ. ", "Привет, мир. ", "іїєґ", "ыэъё", "Hello world. ", "U.S. ", "a.m. ", "—", "--",
     "Read More: ", "KYIV (AP) — ", "contributed.", "NATO"]
)


def check(data: bytes) -> None:
    try:
        d = parse_document(data, "prop.txt")
    except Rejected as error:
        assert str(error.reason) and "\n" not in str(error.reason)
        assert error.reason.kind is not ReasonKind.PARSER_ERROR, error.reason
        return
    assert d.title.en or d.title.uk
    strings = [d.source, d.link, d.title.en, d.title.uk, d.summary.en, d.summary.uk, *d.authors, *d.body, *(w.text for w in d.warnings)]
    for s in strings:
        assert s is None or not XML_FORBIDDEN.search(s), s


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
def test_any_bytes(data: bytes) -> None:
    check(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400))
def test_any_text(text: str) -> None:
    check(text.encode("utf-8", "surrogatepass"))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(FRAGMENTS, st.text(max_size=8)), max_size=40))
def test_document_like_text(parts: list[str]) -> None:
    text = "".join(parts)
    check(text.encode("utf-8", "surrogatepass"))
    check(text.encode("cp1251", "replace"))
