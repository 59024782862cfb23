"""Atom 1.0 and RSS 2.0 bytes of one page (feedgen), with the extensions feedgen lacks."""

from __future__ import annotations

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from .entries import Item
from .views import (
    ICON,
    LOGO,
    LOGO_SIZE,
    MEDIA_TYPES,
    FeedMeta,
    Format,
    Page,
    View,
    clean,
    feed_id,
    feed_title,
    paging_links,
    self_url,
    utc,
)

ATOM_NS = "http://www.w3.org/2005/Atom"
DC_NS = "http://purl.org/dc/elements/1.1/"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


class _FeedExt(BaseExtension):  # type: ignore[misc]  # feedgen is untyped
    """Feed-level additions feedgen lacks: RFC 5005 paging links in RSS, WebSub hub links (feedgen
    drops rel=hub), the dc: namespace."""

    paging: dict[str, str]
    hubs: tuple[str, ...]
    fmt: Format

    def extend_atom(self, feed: etree._Element) -> etree._Element:
        # feedgen writes Atom elements unqualified under a default xmlns: so do we.
        anchor = feed.find("link")  # rel=self comes first
        for href in reversed(self.hubs):
            link = etree.SubElement(feed, "link", rel="hub", href=href)
            if anchor is not None:
                anchor.addnext(link)
        return feed

    def extend_ns(self) -> dict[str, str]:
        return {"dc": DC_NS} if self.fmt == "rss" else {}

    def extend_rss(self, feed: etree._Element) -> etree._Element:
        channel = feed[0]
        anchor = channel.find(f"{{{ATOM_NS}}}link")  # rel=self; elements without children are falsy
        if anchor is None:
            anchor = channel.find("description")
        for rel, href in reversed(self.paging.items()):
            anchor.addnext(etree.Element(f"{{{ATOM_NS}}}link", rel=rel, href=href, type=MEDIA_TYPES["rss"]))
        for href in reversed(self.hubs):
            anchor.addnext(etree.Element(f"{{{ATOM_NS}}}link", rel="hub", href=href))
        return feed


class _EntryExt(BaseEntryExtension):  # type: ignore[misc]
    """Per-entry additions feedgen lacks: xml:lang per element, link attributes, dc:creator."""

    item: Item

    def extend_atom(self, entry: etree._Element) -> etree._Element:
        it = self.item
        for el in entry:
            tag = el.tag
            if tag == "title" and it.title_lang:
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


def render_xml(meta: FeedMeta, view: View, page: Page, base_url: str, items: list[Item]) -> bytes:
    """The Atom or RSS document of one page."""
    fg = FeedGenerator()
    fg.register_extension("feedsvc", _FeedExt, _EntryExt, atom=view.fmt == "atom", rss=view.fmt == "rss")
    paging = paging_links(base_url, view, page)
    fg.feedsvc.paging, fg.feedsvc.hubs, fg.feedsvc.fmt = paging, page.hubs, view.fmt
    title = feed_title(meta, view, page)
    fg.id(feed_id(meta, view, page))
    fg.title(title)
    fg.subtitle(clean(meta.subtitle) or title)  # also the RSS description
    fg.author(name=clean(meta.author) or title)
    fg.language(view.lang or meta.language)
    fg.generator("feedsvc")
    fg.updated(utc(page.updated))
    self_type = MEDIA_TYPES[view.fmt]
    fg.link(href=self_url(base_url, view, page), rel="self", type=self_type)
    if view.fmt == "atom":
        fg.link([{"href": href, "rel": rel, "type": self_type} for rel, href in paging.items()])
    fg.link(href=base_url + "/", rel="alternate", type="text/html")  # last: it becomes the RSS <link>
    fg.icon(base_url + ICON)
    if view.fmt == "atom":
        fg.logo(base_url + LOGO)
    else:  # width and height: RSS readers size the image without fetching it first
        fg.image(url=base_url + LOGO, title=title, link=base_url + "/",
                 width=str(LOGO_SIZE[0]), height=str(LOGO_SIZE[1]))
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
        elif it.summary_html:
            fe.description(it.summary_html, isSummary=True)  # RSS description is HTML
        fe.published(it.published)
        if it.texts.publication:
            fe.category(term=it.texts.publication)
    out: bytes = fg.atom_str() if view.fmt == "atom" else fg.rss_str()
    return out
