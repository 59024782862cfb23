"""Tests of feedsvc.render: every format parsed back with real parsers."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import feedparser
import lxml.html
import pytest
from helpers import CONFORMANCE, SEED
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from feedsvc.documents.model import Bilingual, Document, Entry
from feedsvc.feeds import VIEWS, FeedMeta, Page, View, render, render_home
from feedsvc.feeds.entries import texts
from feedsvc.feeds.views import EPOCH, entry_id, page_url
from feedsvc.settings import Settings

ATOM_RNG = CONFORMANCE / "atom.rng"
BASE = "http://127.0.0.1:8080"
UTC = dt.UTC
T0 = dt.datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
ATOM = "{http://www.w3.org/2005/Atom}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
HOSTILE = "]]> </summary><script>alert(1)</script> & <b>x</b> \"q\" 'a'"
META = FeedMeta(title="feedsvc: digest", subtitle="Foreign press", author="Editors",
                tag_authority="feedsvc.localhost,2026", language="uk")


def seed_document(doc_id: str = "000_1376dc493dc06474") -> Document:
    """The real seed, split by hand (the parser is someone else's module)."""
    paras = [p.strip() for p in SEED.read_text(encoding="utf-8").split("\n\n") if p.strip()]
    summary_uk, link = paras[4].rsplit(" ", 1)
    return Document(
        id=doc_id, path=doc_id + ".txt", source="Time", date=dt.date(2023, 9, 13),
        authors=tuple(a.strip() for a in paras[1].split(",")), link=link,
        title=Bilingual(en=paras[2].removeprefix("## "), uk=paras[3].removeprefix("## ")),
        summary=Bilingual(en="The leaders of Russia and North Korea met in Siberia.", uk=summary_uk),
        body=tuple(paras[5:]),
    )


def entries(n: int, doc: Document | None = None) -> tuple[Entry, ...]:
    """n entries, newest first, with microseconds in `updated`."""
    doc = doc or seed_document()
    return tuple(
        Entry(dataclasses.replace(doc, id=f"doc-{i:03d}"), T0 - dt.timedelta(hours=i),
              T0 - dt.timedelta(hours=i) + dt.timedelta(minutes=5, microseconds=123456))
        for i in range(n))


def page_of(items: tuple[Entry, ...], number: int = 1, limit: int = 50, total: int | None = None,
            default_limit: int = 50) -> Page:
    return Page(entries=items, number=number, limit=limit, total=len(items) if total is None else total,
                updated=max((e.updated for e in items), default=None), default_limit=default_limit)


def hostile_document() -> Document:
    return Document(
        id="hostile", path="hostile.txt", source="Src " + HOSTILE, date=None,
        authors=("A " + HOSTILE + "\x07",), link=None,
        title=Bilingual(en="T " + HOSTILE + "\x00\x0b", uk="Т " + HOSTILE + "\ud800"),
        summary=Bilingual(en="S " + HOSTILE + "\ufffe", uk="С " + HOSTILE + "\x1b"),
        body=("B " + HOSTILE, "second ]]> paragraph\x0c"),
    )


@pytest.fixture(scope="module")
def atom_schema() -> etree.RelaxNG:
    return etree.RelaxNG(etree.parse(str(ATOM_RNG)))


def xml_views() -> list[View]:
    return [v for v in VIEWS if v.fmt != "json"]


def ids(view: View) -> str:
    return view.path


# --- API shape -------------------------------------------------------------------------

def test_views_paths_and_media_types() -> None:
    assert len(VIEWS) == 9 and len({v.path for v in VIEWS}) == 9
    assert View(None, "atom").path == "/feed.atom"
    assert View("en", "rss").path == "/en/feed.rss"
    assert View("uk", "json").path == "/uk/feed.json"
    assert View(None, "atom").media_type == "application/atom+xml; charset=utf-8"
    assert View("en", "rss").media_type == "application/rss+xml; charset=utf-8"
    assert View("uk", "json").media_type == "application/feed+json; charset=utf-8"


def test_meta_from_settings() -> None:
    s = Settings.build({}, env={}, check_dirs=False)
    meta = FeedMeta.from_settings(s)
    assert (meta.title, meta.author, meta.tag_authority, meta.language) == (
        s.title, s.author, s.tag_authority, s.language)


def test_page_url_is_canonical() -> None:
    v = View("en", "atom")
    assert page_url(BASE, v, 1, 50, 50) == BASE + "/en/feed.atom"
    assert page_url(BASE, v, 2, 50, 50) == BASE + "/en/feed.atom?page=2"
    assert page_url(BASE, v, 1, 10, 50) == BASE + "/en/feed.atom?limit=10"
    assert page_url(BASE, v, 3, 10, 50) == BASE + "/en/feed.atom?limit=10&page=3"


def test_entry_id_scheme() -> None:
    assert entry_id(META, "2023/x_1", None) == "tag:feedsvc.localhost,2026:2023/x_1"
    assert entry_id(META, "2023/x_1", "en") == "tag:feedsvc.localhost,2026:2023/x_1:en"
    assert entry_id(META, "2023/x_1", "uk") == "tag:feedsvc.localhost,2026:2023/x_1:uk"
    assert entry_id(META, "a%20b", None).endswith(":a%20b")  # already-quoted ids stay as they are


# --- Atom schema -------------------------------------------------------------------------

@pytest.mark.parametrize("view", [v for v in VIEWS if v.fmt == "atom"], ids=ids)
@pytest.mark.parametrize("kind", ["seed", "hostile", "empty"])
def test_atom_valid_against_rfc4287_schema(atom_schema: etree.RelaxNG, view: View, kind: str) -> None:
    items = {"seed": entries(3), "hostile": entries(1, hostile_document()), "empty": ()}[kind]
    root = etree.fromstring(render(META, view, page_of(items), BASE))
    assert atom_schema.validate(root), atom_schema.error_log
    assert root.find(f"{ATOM}author/{ATOM}name").text == "Editors"  # RFC 4287: author on the feed
    for entry in root.iter(f"{ATOM}entry"):  # content or an alternate link, as the schema's rule says
        assert entry.find(f"{ATOM}content") is not None or entry.find(f"{ATOM}link") is not None


# --- feedparser, every XML view -----------------------------------------------------------

@pytest.mark.parametrize("view", xml_views(), ids=ids)
def test_feedparser_reads_entries(view: View) -> None:
    items = entries(3)
    d = feedparser.parse(render(META, view, page_of(items), BASE))
    assert d.bozo == 0, d.get("bozo_exception")
    assert len(d.entries) == 3
    doc = items[0].document
    want_title = {None: f"{doc.title.uk} / {doc.title.en}", "uk": doc.title.uk, "en": doc.title.en}[view.lang]
    for e, src in zip(d.entries, items):
        assert e.id == entry_id(META, src.document.id, view.lang)
        assert e.title == want_title
        assert e.link == doc.link
        assert e.published_parsed[:6] == src.published.timetuple()[:6]
    self_links = [ln.href for ln in d.feed.links if ln.rel == "self"]
    assert self_links == [BASE + view.path]
    assert d.feed.language == (view.lang or META.language)
    if view.fmt == "rss":
        assert d.entries[0].guidislink is False
        assert [a.name for a in d.entries[0].authors] == ["Kim Tong-Hyung", "Dasha Litvinova"]
        want_lang = 'lang="uk"' if view.lang == "uk" else 'lang="en"'
        assert "content" in d.entries[0] and want_lang in d.entries[0].content[0].value
    else:
        assert d.entries[0].updated_parsed[:6] == items[0].updated.timetuple()[:6]
        assert d.feed.updated_parsed[:6] == items[0].updated.timetuple()[:6]


@pytest.mark.parametrize("lang", [None, "en", "uk"])
def test_atom_languages_per_element(lang: str | None) -> None:
    view = View(lang, "atom")
    d = feedparser.parse(render(META, view, page_of(entries(1)), BASE))
    e = d.entries[0]
    expect = lang or META.language
    assert e.title_detail.language == expect
    assert e.summary_detail.language == expect
    root = etree.fromstring(render(META, view, page_of(entries(1)), BASE))
    assert root.get(XML_LANG) == expect
    html = lxml.html.fragment_fromstring(root.find(f"{ATOM}entry/{ATOM}content").text, create_parent="div")
    langs = [el.get("lang") for el in html.iter() if el.get("lang")]
    doc = seed_document()
    if lang is None:
        assert langs == ["uk", "en"]  # the Ukrainian section, then the English one with the article
        heads = [h.text for h in html.iter("h2")]
        assert heads == [doc.title.uk, doc.title.en]
        labels = [el.text_content() for el in html.iter("strong")]
        assert labels == ["Українською", "In English"]  # visible words, not only lang attributes
        assert doc.summary.uk in html.text_content() and doc.body[-1] in html.text_content()
        assert "Time · 2023-09-13 · Kim Tong-Hyung, Dasha Litvinova" in html.text_content()
    elif lang == "en":
        assert langs == ["en"]
        assert doc.body[0] in html.text_content() and doc.body[-1] in html.text_content()
        assert doc.summary.uk not in html.text_content()
    else:
        assert langs == ["uk"]  # the Ukrainian summary only
        assert seed_document().body[0] not in html.text_content()


def test_bilingual_falls_back_to_other_language() -> None:
    doc = dataclasses.replace(seed_document(), title=Bilingual(en="Only English", uk=None),
                              summary=Bilingual(en="English summary", uk=None))
    root = etree.fromstring(render(META, View(None, "atom"), page_of(entries(1, doc)), BASE))
    entry = root.find(f"{ATOM}entry")
    assert entry.find(f"{ATOM}title").get(XML_LANG) == "en"
    assert entry.find(f"{ATOM}summary").get(XML_LANG) == "en"
    item = json.loads(render(META, View(None, "json"), page_of(entries(1, doc)), BASE))["items"][0]
    assert item["language"] == "en" and item["title"] == "Only English"


# --- JSON Feed -----------------------------------------------------------------------------

@pytest.mark.parametrize("view", [v for v in VIEWS if v.fmt == "json"], ids=ids)
def test_json_feed(view: View) -> None:
    items = entries(2)
    feed = json.loads(render(META, view, page_of(items), BASE))
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert feed["title"] and feed["home_page_url"] == BASE + "/"
    assert feed["feed_url"] == BASE + view.path
    assert feed["language"] == (view.lang or META.language)
    assert "next_url" not in feed
    doc = items[0].document
    for item, src in zip(feed["items"], items):
        assert item["id"] == entry_id(META, src.document.id, view.lang)
        assert isinstance(item["content_html"], str) and item["content_html"]
        assert dt.datetime.fromisoformat(item["date_published"]) == src.published
        assert dt.datetime.fromisoformat(item["date_modified"]) == src.updated
        assert item["url"] == doc.link
        assert item["language"] == (view.lang or META.language)
    first = feed["items"][0]
    ext = first["_feedsvc"]
    assert ext["source"] == "Time" and ext["publication"] == "Time" and ext["date"] == "2023-09-13"
    assert ext["authors"] == list(doc.authors)
    assert first["authors"] == [{"name": a} for a in doc.authors]
    assert first["author"] == {"name": "Kim Tong-Hyung, Dasha Litvinova"}  # JSON Feed 1.0 clients
    if view.lang is None:
        assert ext["title"] == {"en": doc.title.en, "uk": doc.title.uk}
        assert ext["summary"] == {"en": doc.summary.en, "uk": doc.summary.uk}
        assert ext["languages"] == ["en", "uk"]
        assert first["title"] == f"{doc.title.uk} / {doc.title.en}"
        assert first["summary"] == f"Українською: {doc.summary.uk}\n\nIn English: {doc.summary.en}"
    else:
        assert "title" not in ext
        assert first["title"] == doc.title.get(view.lang)
        assert first["summary"] == doc.summary.get(view.lang)


# --- determinism, ids, dates ----------------------------------------------------------------

@pytest.mark.parametrize("view", VIEWS, ids=ids)
def test_deterministic(view: View) -> None:
    first = render(META, view, page_of(entries(3)), BASE)
    texts.cache_clear()  # equal but distinct inputs, no cache: still the same bytes
    assert render(META, view, page_of(entries(3)), BASE) == first
    assert render(META, view, page_of(entries(3)), BASE) == first


def test_ids_stable_when_content_changes() -> None:
    view = View("en", "atom")
    before = feedparser.parse(render(META, view, page_of(entries(2)), BASE))
    edited = dataclasses.replace(seed_document(), title=Bilingual(en="Edited title", uk="Нова назва"))
    after = feedparser.parse(render(META, view, page_of(entries(2, edited)), BASE))
    assert [e.id for e in before.entries] == [e.id for e in after.entries]
    assert after.entries[0].title == "Edited title"


def test_dates_keep_microseconds_and_zones() -> None:
    items = entries(1)
    atom = render(META, View(None, "atom"), page_of(items), BASE).decode()
    assert "<updated>2024-05-01T09:05:00.123456+00:00</updated>" in atom
    assert "<published>2024-05-01T09:00:00+00:00</published>" in atom
    rss = render(META, View(None, "rss"), page_of(items), BASE).decode()
    assert "<pubDate>Wed, 01 May 2024 09:00:00 +0000</pubDate>" in rss
    assert "<lastBuildDate>Wed, 01 May 2024 09:05:00 +0000</lastBuildDate>" in rss


def test_non_utc_and_naive_dates_do_not_crash() -> None:
    kyiv = dt.timezone(dt.timedelta(hours=3))
    e = Entry(seed_document(), dt.datetime(2024, 5, 1, 12, tzinfo=kyiv), dt.datetime(2024, 5, 1, 12))
    atom = render(META, View(None, "atom"), page_of((e,)), BASE).decode()
    assert "<published>2024-05-01T09:00:00+00:00</published>" in atom
    assert "<updated>2024-05-01T12:00:00+00:00</updated>" in atom


def test_newest_first_order_kept() -> None:
    items = entries(5)
    for view in VIEWS:
        body = render(META, view, page_of(items), BASE)
        if view.fmt == "json":
            got = [i["id"] for i in json.loads(body)["items"]]
        else:
            got = [e.id for e in feedparser.parse(body).entries]
        assert got == [entry_id(META, e.document.id, view.lang) for e in items]


# --- paging and URLs ------------------------------------------------------------------------

def links(body: bytes) -> dict[str, str]:
    root = etree.fromstring(body)
    return {ln.get("rel"): ln.get("href") for ln in root.iter(f"{ATOM}link") if ln.get("rel") != "alternate"}


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_paging_links_middle_page(fmt: str) -> None:
    view = View("uk", fmt)
    page = page_of(entries(2), number=2, limit=2, total=5, default_limit=50)
    url = BASE + view.path + "?limit=2"
    assert links(render(META, view, page, BASE)) == {
        "self": url + "&page=2", "first": url, "previous": url, "next": url + "&page=3", "last": url + "&page=3"}


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_paging_links_single_page(fmt: str) -> None:
    view = View(None, fmt)
    url = BASE + view.path
    assert links(render(META, view, page_of(entries(2)), BASE)) == {"self": url, "first": url, "last": url}


def test_paging_json_and_feedparser() -> None:
    page = page_of(entries(2), number=1, limit=2, total=3, default_limit=2)
    feed = json.loads(render(META, View("en", "json"), page, BASE))
    assert feed["next_url"] == BASE + "/en/feed.json?page=2"
    assert feed["feed_url"] == BASE + "/en/feed.json"
    last = page_of(entries(1), number=2, limit=2, total=3, default_limit=2)
    assert "next_url" not in json.loads(render(META, View("en", "json"), last, BASE))
    d = feedparser.parse(render(META, View("en", "atom"), page, BASE))
    assert {ln.rel: ln.href for ln in d.feed.links}["next"] == BASE + "/en/feed.atom?page=2"


def test_absolute_urls_and_trailing_slash() -> None:
    body = render(META, View(None, "atom"), page_of(entries(1)), BASE + "/")
    for ln in etree.fromstring(body).iter(f"{ATOM}link"):
        assert ln.get("href").startswith(("http://", "https://")), ln.get("href")
    assert f'href="{BASE}/"' in body.decode() and f"{BASE}//" not in body.decode()


# --- empty and missing-language feeds -------------------------------------------------------

@pytest.mark.parametrize("view", VIEWS, ids=ids)
def test_empty_feed(view: View) -> None:
    body = render(META, view, page_of(()), BASE)
    if view.fmt == "json":
        feed = json.loads(body)
        assert feed["items"] == [] and feed["title"]
        return
    d = feedparser.parse(body)
    assert d.bozo == 0 and d.entries == []
    assert d.feed.updated_parsed[:6] == EPOCH.timetuple()[:6]  # never "now"


def test_missing_language_documents() -> None:
    only_en = dataclasses.replace(seed_document("only-en"), title=Bilingual(en="English only", uk="  "),
                                  summary=Bilingual(en="En summary", uk="Укр без назви"))
    only_uk = dataclasses.replace(seed_document("only-uk"), title=Bilingual(en=None, uk="Лише українською"),
                                  summary=Bilingual(en=None, uk=None), body=())
    items = (Entry(only_en, T0, T0), Entry(only_uk, T0, T0))
    for view in VIEWS:
        body = render(META, view, page_of(items), BASE)
        if view.fmt == "json":
            got = {i["id"]: i for i in json.loads(body)["items"]}
            titles = [i["title"] for i in got.values()]
        else:
            d = feedparser.parse(body)
            assert d.bozo == 0
            got = {e.id: e for e in d.entries}
            titles = [e.title for e in d.entries]
        want = {None: ["only-en", "only-uk"], "en": ["only-en"], "uk": ["only-uk"]}[view.lang]
        assert sorted(got) == sorted(entry_id(META, i, view.lang) for i in want), view
        assert all(t.strip() for t in titles)
    # the Ukrainian feed never labels English text as Ukrainian, nor shows an empty entry
    root = etree.fromstring(render(META, View("uk", "atom"), page_of(items), BASE))
    (entry,) = root.iter(f"{ATOM}entry")
    assert entry.find(f"{ATOM}title").text == "Лише українською"
    assert entry.find(f"{ATOM}summary") is None
    assert "Лише українською" in entry.find(f"{ATOM}content").text


# --- hostile text ---------------------------------------------------------------------------

def no_script(html_text: str) -> str:
    """The visible text of an HTML fragment, asserting it holds no script element."""
    tree = lxml.html.fragment_fromstring(html_text, create_parent="div")
    assert not list(tree.iter("script")), html_text
    return tree.text_content()


@pytest.mark.parametrize("view", VIEWS, ids=ids)
def test_hostile_strings_are_escaped_text(view: View) -> None:
    body = render(META, view, page_of(entries(1, hostile_document())), BASE)
    assert b"<script" not in body and b"CDATA" not in body
    for bad in (b"\x00", b"\x0b", b"\x07", b"\x1b", b"\x0c", "\ufffe".encode()):
        assert bad not in body
    uk_title, en_title, uk_summary, en_summary = "Т " + HOSTILE, "T " + HOSTILE, "С " + HOSTILE, "S " + HOSTILE
    title = {None: f"{uk_title} / {en_title}", "uk": uk_title, "en": en_title}[view.lang]
    summary = {None: f"Українською: {uk_summary}\n\nIn English: {en_summary}", "uk": uk_summary,
               "en": en_summary}[view.lang]
    if view.fmt == "json":
        item = json.loads(body)["items"][0]
        assert item["title"] == title and item["summary"] == summary
        content = no_script(item["content_html"])
    else:
        root = etree.fromstring(body)
        assert not [el for el in root.iter() if isinstance(el.tag, str) and el.tag.endswith("script")]
        d = feedparser.parse(body)
        assert d.bozo == 0
        e = d.entries[0]
        assert e.title == title
        if view.fmt == "atom":
            assert e.summary == summary
        else:  # RSS description is HTML: escaped once, shown as the text, both parts labelled
            shown = no_script(e.summary)
            assert shown == summary.replace(": ", "", 2).replace("\n\n", "") if view.lang is None else summary
        tag = f"{ATOM}content" if view.fmt == "atom" else "{http://purl.org/rss/1.0/modules/content/}encoded"
        content = no_script(next(root.iter(tag)).text)
    if view.lang != "en":
        assert uk_summary in content
    if view.lang != "uk":
        assert "B " + HOSTILE in content


# --- HTML page ------------------------------------------------------------------------------

def test_home_page() -> None:
    items = entries(2) + entries(1, hostile_document())
    page = render_home(META, page_of(items, limit=20), BASE).decode()
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page and "src=" not in page and 'rel="stylesheet"' not in page
    root = lxml.html.document_fromstring(page)
    assert root.get("lang") == "uk"
    alternates = root.xpath("//head/link[@rel='alternate']")
    assert {(ln.get("type"), ln.get("href")) for ln in alternates} == {
        (v.media_type.split(";")[0], BASE + v.path) for v in VIEWS}
    assert all(ln.get("title") for ln in alternates)
    body_links = {a.get("href") for a in root.xpath("//body//a")}
    assert {BASE + v.path for v in VIEWS} <= body_links
    doc = seed_document()
    assert root.xpath("//*[@lang='uk']//h3/a")[0].text_content() == doc.title.uk
    assert root.xpath("//*[@lang='en']//h3/a")[0].text_content() == doc.title.en
    assert "T " + HOSTILE in root.text_content()  # visible as text, control characters gone
    assert root.xpath("//title")[0].text == META.title
    # Subscribe links come before the entries; one page, so no paging links.
    text = root.text_content()
    assert text.index("Підписатися") < text.index("Останні статті") and not root.xpath("//nav")


def test_home_page_links_older_pages() -> None:
    items = entries(20)
    root = lxml.html.document_fromstring(render_home(META, page_of(items, number=2, limit=20, total=45), BASE))
    nav = {a.get("rel"): a.get("href") for a in root.xpath("//nav//a")}
    assert nav == {"prev": "/", "next": "/?page=3"}
    last = lxml.html.document_fromstring(render_home(META, page_of(items[:5], number=3, limit=20, total=45), BASE))
    assert {a.get("rel"): a.get("href") for a in last.xpath("//nav//a")} == {"prev": "/?page=2"}


def test_only_http_links_published() -> None:
    doc = dataclasses.replace(seed_document("x/y"), link="javascript:alert(1)")
    for view in VIEWS:
        assert b"javascript:" not in render(META, view, page_of(entries(1, doc)), BASE)
    page = render_home(META, page_of((Entry(doc, T0, T0),), limit=20), BASE).decode()
    assert "javascript:" not in page and f'href="{BASE}/#x/y"' in page and 'id="x/y"' in page


def test_home_page_empty_and_english_primary() -> None:
    meta = dataclasses.replace(META, language="en")
    root = lxml.html.document_fromstring(render_home(meta, page_of((), limit=20), BASE))
    assert root.get("lang") == "en" and "No articles yet." in root.text_content()


# --- robustness and speed -------------------------------------------------------------------

text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=()), max_size=40) | st.none()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title_en=text, title_uk=text, summary_en=text, summary_uk=text,
       body=st.lists(st.text(max_size=40), max_size=3), source=text, author=st.text(max_size=20))
def test_any_text_renders_valid_output(title_en, title_uk, summary_en, summary_uk, body, source, author) -> None:
    doc = Document(id="x", path="x.txt", source=source, date=None, authors=(author,), link=None,
                   title=Bilingual(title_en, title_uk), summary=Bilingual(summary_en, summary_uk),
                   body=tuple(body))
    page = page_of((Entry(doc, T0, T0),))
    for view in VIEWS:
        out = render(META, view, page, BASE)
        if view.fmt == "json":
            json.loads(out)
        else:
            assert feedparser.parse(out).bozo == 0
    lxml.html.document_fromstring(render_home(META, page, BASE))
