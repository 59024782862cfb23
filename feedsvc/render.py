"""Feeds: one page of entries rendered as Atom 1.0, RSS 2.0 (feedgen) or JSON Feed 1.1 bytes.

Entry ids (RFC 4151 tag: URIs, never derived from titles or content, so they never change):

* bilingual feeds: ``tag:<authority>:<doc id>``
* language feeds:  ``tag:<authority>:<doc id>:en`` / ``tag:<authority>:<doc id>:uk``

Atom ``id``, RSS ``guid isPermaLink="false"`` and JSON ``id`` carry the same string. The
language feeds get their own ids because their entries are different texts; the ``:en``
suffix cannot clash with a document id, whose ``:`` would be percent-encoded. Feed ids are
``tag:<authority>:/feed`` and ``tag:<authority>:/en/feed`` (a document id never starts with
``/``), shared by every page and format of one feed.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, Sequence
from urllib.parse import quote

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from feedsvc.model import LANGS, Document, Entry, Lang
from feedsvc.settings import Settings

Format = Literal["atom", "rss", "json"]

ATOM_NS = "http://www.w3.org/2005/Atom"
DC_NS = "http://purl.org/dc/elements/1.1/"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
JSONFEED_VERSION = "https://jsonfeed.org/version/1.1"
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
LANG_NAMES: dict[Lang, str] = {"en": "English", "uk": "українська"}
MEDIA_TYPES: dict[Format, str] = {
    "atom": "application/atom+xml",
    "rss": "application/rss+xml",
    "json": "application/feed+json",
}
FORMAT_NAMES: dict[Format, str] = {"atom": "Atom", "rss": "RSS", "json": "JSON Feed"}
# Everything XML 1.0 forbids, lone surrogates (unencodable) included.
_FORBIDDEN = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def clean(text: str | None) -> str:
    """`text` without the characters XML 1.0 forbids; '' for None."""
    if not text:
        return ""
    return _FORBIDDEN.sub("", text)


@dataclass(frozen=True, slots=True)
class FeedMeta:
    """Feed identity, from settings."""

    title: str
    subtitle: str
    author: str
    tag_authority: str
    language: Lang

    @classmethod
    def from_settings(cls, s: Settings) -> FeedMeta:
        return cls(title=s.title, subtitle=s.subtitle, author=s.author,
                   tag_authority=s.tag_authority, language=s.language)

    @property
    def other_language(self) -> Lang:
        return "en" if self.language == "uk" else "uk"

    def feed_title(self, lang: Lang | None) -> str:
        return clean(self.title) if lang is None else f"{clean(self.title)} ({LANG_NAMES[lang]})"


@dataclass(frozen=True, slots=True)
class View:
    """One of the nine feeds: a language (None = bilingual) in a format."""

    lang: Lang | None
    fmt: Format

    @property
    def path(self) -> str:
        return f"/feed.{self.fmt}" if self.lang is None else f"/{self.lang}/feed.{self.fmt}"

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.fmt] + "; charset=utf-8"


VIEWS: tuple[View, ...] = tuple(View(lang, fmt) for lang in (None, *LANGS) for fmt in ("atom", "rss", "json"))


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a view, newest first, with what paging links need."""

    entries: tuple[Entry, ...]
    number: int
    limit: int
    total: int
    updated: dt.datetime | None
    default_limit: int

    @property
    def last(self) -> int:
        return max(1, -(-self.total // max(1, self.limit)))


def entry_id(meta: FeedMeta, doc_id: str, lang: Lang | None) -> str:
    """The permanent tag: URI of a document in the bilingual (None) or a language feed."""
    base = f"tag:{meta.tag_authority}:{quote(doc_id, safe='/-_.~%')}"
    return base if lang is None else f"{base}:{lang}"


def feed_id(meta: FeedMeta, lang: Lang | None) -> str:
    """The tag: URI of a whole feed (all pages, all formats)."""
    return f"tag:{meta.tag_authority}:/feed" if lang is None else f"tag:{meta.tag_authority}:/{lang}/feed"


def page_url(base_url: str, view: View, number: int, limit: int, default_limit: int) -> str:
    """Canonical URL of a page: ?limit= only if not the default, then &page= only if not 1."""
    query = []
    if limit != default_limit:
        query.append(f"limit={limit}")
    if number != 1:
        query.append(f"page={number}")
    return base_url + view.path + ("?" + "&".join(query) if query else "")


def paging_links(base_url: str, view: View, page: Page) -> dict[str, str]:
    """RFC 5005 links of this page by relation, in a fixed order."""
    def url(n: int) -> str:
        return page_url(base_url, view, n, page.limit, page.default_limit)
    last = page.last
    links = {"first": url(1)}
    if page.number > 1:
        links["previous"] = url(min(page.number - 1, last))
    if page.number < last:
        links["next"] = url(page.number + 1)
    links["last"] = url(last)
    return links


def utc(value: dt.datetime | None) -> dt.datetime:
    """An aware UTC datetime; naive values are taken as UTC rather than crash feedgen."""
    if value is None:
        return EPOCH
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


def _paragraphs(text: str) -> str:
    """Plain text as escaped HTML paragraphs, one per non-blank line."""
    return "".join(f"<p>{html.escape(line.strip(), quote=False)}</p>" for line in text.splitlines() if line.strip())


@dataclass(frozen=True, slots=True)
class Texts:
    """A document's strings made XML-safe, with its HTML fragments built once."""

    title: dict[Lang, str]  # only languages with a non-blank title
    summary: dict[Lang, str]
    summary_html: dict[Lang, str]  # escaped <p>s, no wrapper
    article_html: str  # '<article lang="en">…</article>' or ''
    authors: tuple[str, ...]
    source: str
    link: str


@lru_cache(maxsize=2048)
def texts(doc: Document, base_url: str) -> Texts:
    """Cleaned text of `doc`; cached because every view of every page re-renders it."""
    title = {lang: t for lang in LANGS if (t := clean(doc.title.get(lang)).strip())}
    summary = {lang: s for lang in LANGS if (s := clean(doc.summary.get(lang)).strip())}
    body = "".join(f"<p>{html.escape(p, quote=False)}</p>" for p in map(str.strip, map(clean, doc.body)) if p)
    # Readers want a link per entry; without an http(s) source URL (never javascript: and
    # the like, which the home page would make clickable), point at the home page.
    link = clean(doc.link).strip()
    if not link.lower().startswith(("https://", "http://")):
        link = f"{base_url}/#{quote(doc.id, safe='/-_.~%')}"
    return Texts(
        title=title,
        summary=summary,
        summary_html={lang: _paragraphs(s) for lang, s in summary.items()},
        article_html=f'<article lang="en">{body}</article>' if body else "",
        authors=tuple(a for a in map(str.strip, map(clean, doc.authors)) if a),
        source=clean(doc.source).strip(),
        link=link,
    )


@dataclass(frozen=True, slots=True)
class Item:
    """What one entry shows in one view, format-neutral; `*_lang` say which language each text is in."""

    id: str
    title: str
    title_lang: Lang
    summary: str | None
    summary_lang: Lang | None
    content_html: str
    content_lang: Lang | None  # None: mixed, marked inside the HTML
    texts: Texts
    published: dt.datetime
    updated: dt.datetime


def _pick(values: dict[Lang, str], first: Lang, second: Lang) -> Lang | None:
    return first if first in values else second if second in values else None


def item(meta: FeedMeta, lang: Lang | None, entry: Entry, base_url: str) -> Item | None:
    """The entry as `lang`'s feed shows it; None if it has no title in that language."""
    t = texts(entry.document, base_url)
    if lang is None:
        title_lang = _pick(t.title, meta.language, meta.other_language)
        summary_lang = _pick(t.summary, meta.language, meta.other_language)
        sections = "".join(
            f'<section lang="{lg}">'
            + (f"<h2>{html.escape(t.title[lg], quote=False)}</h2>" if lg in t.title else "")
            + t.summary_html.get(lg, "") + "</section>"
            for lg in (meta.language, meta.other_language) if lg in t.title or lg in t.summary)
        content, content_lang = sections + t.article_html, None
    else:
        title_lang = lang if lang in t.title else None
        summary_lang = lang if lang in t.summary else None
        summary_html = f'<section lang="{lang}">{t.summary_html[lang]}</section>' if summary_lang else ""
        content = summary_html + (t.article_html if lang == "en" else "")
        content_lang = lang
    if title_lang is None:
        return None
    if not content:  # Atom and JSON Feed need some content; the title is all there is
        content = f'<p lang="{title_lang}">{html.escape(t.title[title_lang], quote=False)}</p>'
    return Item(
        id=entry_id(meta, entry.document.id, lang),
        title=t.title[title_lang], title_lang=title_lang,
        summary=t.summary[summary_lang] if summary_lang else None, summary_lang=summary_lang,
        content_html=content, content_lang=content_lang, texts=t,
        published=utc(entry.published), updated=utc(entry.updated),
    )


class _FeedExt(BaseExtension):
    """Feed-level additions feedgen lacks: RFC 5005 paging links in RSS, dc: namespace."""

    paging: dict[str, str]
    fmt: Format

    def extend_ns(self) -> dict[str, str]:
        return {"dc": DC_NS} if self.fmt == "rss" else {}

    def extend_rss(self, feed: etree._Element) -> etree._Element:
        channel = feed[0]
        anchor = channel.find(f"{{{ATOM_NS}}}link")  # rel=self; elements without children are falsy
        if anchor is None:
            anchor = channel.find("description")
        for rel, href in reversed(self.paging.items()):
            anchor.addnext(etree.Element(f"{{{ATOM_NS}}}link", rel=rel, href=href, type=MEDIA_TYPES["rss"]))
        return feed


class _EntryExt(BaseEntryExtension):
    """Per-entry additions feedgen lacks: xml:lang per element, link attributes, dc:creator."""

    item: Item

    def extend_atom(self, entry: etree._Element) -> etree._Element:
        it = self.item
        for el in entry:
            tag = el.tag
            if tag == "title":
                el.set(XML_LANG, it.title_lang)
            elif tag == "summary" and it.summary_lang:
                el.set(XML_LANG, it.summary_lang)
            elif tag == "content" and it.content_lang:
                el.set(XML_LANG, it.content_lang)
            elif tag == "link":  # feedgen 1.0 drops every attribute but href on entry links
                el.set("rel", "alternate")
                el.set("type", "text/html")
                if it.texts.source:
                    el.set("title", it.texts.source)
        return entry

    def extend_rss(self, entry: etree._Element) -> etree._Element:
        # RSS <author> must be an e-mail address; dc:creator is the usual home for names.
        for name in self.item.texts.authors:
            etree.SubElement(entry, f"{{{DC_NS}}}creator", nsmap={"dc": DC_NS}).text = name
        return entry


def _xml(meta: FeedMeta, view: View, page: Page, base_url: str, items: list[Item]) -> bytes:
    fg = FeedGenerator()
    fg.register_extension("feedsvc", _FeedExt, _EntryExt, atom=view.fmt == "atom", rss=view.fmt == "rss")
    paging = paging_links(base_url, view, page)
    fg.feedsvc.paging, fg.feedsvc.fmt = paging, view.fmt
    fg.id(feed_id(meta, view.lang))
    fg.title(meta.feed_title(view.lang))
    fg.subtitle(clean(meta.subtitle) or meta.feed_title(view.lang))  # also the RSS description
    fg.author(name=clean(meta.author) or meta.feed_title(view.lang))
    fg.language(view.lang or meta.language)
    fg.generator("feedsvc")
    fg.updated(utc(page.updated))
    self_type = MEDIA_TYPES[view.fmt]
    fg.link(href=page_url(base_url, view, page.number, page.limit, page.default_limit), rel="self", type=self_type)
    if view.fmt == "atom":
        fg.link([{"href": href, "rel": rel, "type": self_type} for rel, href in paging.items()])
    fg.link(href=base_url + "/", rel="alternate", type="text/html")  # last: it becomes the RSS <link>
    for it in items:
        fe = fg.add_entry(order="append")
        fe.feedsvc.item = it
        fe.id(it.id)
        fe.title(it.title)
        fe.link(href=it.texts.link, rel="alternate")
        fe.content(it.content_html, type="html")
        if view.fmt == "atom":
            fe.updated(it.updated)
            if it.summary:
                fe.summary(it.summary, type="text")
            if it.texts.authors:
                fe.author([{"name": a} for a in it.texts.authors])
        elif it.summary:
            fe.description(html.escape(it.summary, quote=False), isSummary=True)  # RSS description is HTML
        fe.published(it.published)
        if it.texts.source:
            fe.category(term=it.texts.source)
    return fg.atom_str() if view.fmt == "atom" else fg.rss_str()


def _json(meta: FeedMeta, view: View, page: Page, base_url: str, items: list[Item]) -> bytes:
    paging = paging_links(base_url, view, page)
    feed: dict[str, object] = {
        "version": JSONFEED_VERSION,
        "title": meta.feed_title(view.lang),
        "home_page_url": base_url + "/",
        "feed_url": page_url(base_url, view, page.number, page.limit, page.default_limit),
        "description": clean(meta.subtitle),
        "language": view.lang or meta.language,
        "authors": [{"name": clean(meta.author)}],
    }
    if "next" in paging:
        feed["next_url"] = paging["next"]
    feed["_feedsvc"] = {"updated": utc(page.updated).isoformat(), "page": page.number,
                        "total": page.total, **{f"{rel}_url": href for rel, href in paging.items()}}
    out = []
    for it in items:
        t = it.texts
        obj: dict[str, object] = {"id": it.id, "url": t.link, "title": it.title}
        if it.summary:
            obj["summary"] = it.summary
        obj["content_html"] = it.content_html
        obj["date_published"] = it.published.isoformat()
        obj["date_modified"] = it.updated.isoformat()
        obj["language"] = it.title_lang
        if t.authors:
            obj["authors"] = [{"name": a} for a in t.authors]
        if t.source:
            obj["tags"] = [t.source]
        if view.lang is None:
            obj["_feedsvc"] = {
                "title": {lg: t.title.get(lg) for lg in LANGS},
                "summary": {lg: t.summary.get(lg) for lg in LANGS},
                "languages": [lg for lg in LANGS if lg in t.title],
                "source": t.source or None,
                "authors": list(t.authors),
            }
        out.append(obj)
    feed["items"] = out
    text = json.dumps(feed, ensure_ascii=False, separators=(",", ":"))
    # "<" as \u003c: same JSON, but no tag can open if someone inlines it into HTML.
    return text.replace("<", "\\u003c").encode()


def render(meta: FeedMeta, view: View, page: Page, base_url: str) -> bytes:
    """The bytes of one page of `view`; same inputs, same bytes."""
    base_url = clean(base_url).rstrip("/")
    items = [it for e in page.entries if (it := item(meta, view.lang, e, base_url)) is not None]
    if view.fmt == "json":
        return _json(meta, view, page, base_url, items)
    return _xml(meta, view, page, base_url, items)


def render_home(meta: FeedMeta, latest: Sequence[Entry], base_url: str) -> bytes:
    """The "/" HTML page: latest entries in both languages and links to all nine feeds."""
    from feedsvc.home import home_page  # home imports this module's helpers

    return home_page(meta, latest, clean(base_url).rstrip("/"))
