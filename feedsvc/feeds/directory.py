"""Finding feeds: OPML of every feed, the publications-and-authors page, the search page, OpenSearch."""

from __future__ import annotations

from html import escape
from urllib.parse import quote
from xml.sax.saxutils import quoteattr

from ..documents.model import Entry, Lang
from ..documents.publications import AUTHOR, PUBLICATION, Topic
from .entries import texts
from .html import CSS
from .views import (
    BILINGUAL,
    FORMAT_NAMES,
    LANG_NAMES,
    MEDIA_TYPES,
    VIEW_LANGS,
    VIEWS,
    FeedMeta,
    View,
    clean,
    feed_path,
    quote_id,
)

Counts = dict[Lang | None, int]
TopicRow = tuple[str, str, Counts]  # slug, name, documents per view
_ATOM_VIEWS = [v for v in VIEWS if v.fmt == "atom"]
_LANGUAGE_LABEL: dict[Lang | None, str] = {BILINGUAL: "bilingual", "en": LANG_NAMES["en"], "uk": LANG_NAMES["uk"]}


def opml(meta: FeedMeta, publications: list[TopicRow], base_url: str) -> bytes:
    """OPML 2.0: the main and language feeds, then each publication's, Atom, absolute URLs."""
    def outline(title: str, view: View, topic: Topic | None = None) -> str:
        url = base_url + feed_path(view, topic)
        return (f"<outline type=\"rss\" text={quoteattr(title)} title={quoteattr(title)} "
                f"xmlUrl={quoteattr(url)} htmlUrl={quoteattr(base_url + '/')}/>")

    main = "".join(outline(meta.feed_title(v.lang), v) for v in _ATOM_VIEWS)
    per = "".join(
        f"<outline text={quoteattr(name)}>"
        + "".join(outline(f"{meta.feed_title(v.lang)} — {clean(name)}", v, Topic(PUBLICATION, slug))
                  for v in _ATOM_VIEWS if counts[v.lang])
        + "</outline>" for slug, name, counts in publications)
    title = escape(clean(meta.title))
    return ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\"><head>"
            f"<title>{title}</title><ownerName>{escape(clean(meta.author))}</ownerName></head><body>"
            f"<outline text={quoteattr(clean(meta.title))}>{main}</outline>"
            f"<outline text=\"Publications\">{per}</outline></body></opml>\n").encode()


def opensearch(meta: FeedMeta, base_url: str) -> bytes:
    """The OpenSearch description browsers read to offer the site's search."""
    title = escape(clean(meta.title)[:16] or "feedsvc")
    return ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<OpenSearchDescription xmlns=\"http://a9.com/-/spec/opensearch/1.1/\">"
            f"<ShortName>{title}</ShortName><Description>{escape(clean(meta.subtitle))}</Description>"
            "<InputEncoding>UTF-8</InputEncoding>"
            f"<Url type=\"text/html\" template=\"{escape(base_url)}/search?q={{searchTerms}}\"/>"
            f"<Url type=\"application/atom+xml\" template=\"{escape(base_url)}/feed.atom?q={{searchTerms}}\"/>"
            f"<Url type=\"application/feed+json\" template=\"{escape(base_url)}/feed.json?q={{searchTerms}}\"/>"
            "</OpenSearchDescription>\n").encode()


def _page(meta: FeedMeta, title: str, head: str, body: str) -> bytes:
    return (f'<!DOCTYPE html>\n<html lang="{meta.language}">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{escape(title)}</title>\n"
            '<link rel="search" type="application/opensearchdescription+xml" href="/opensearch.xml" '
            f'title="{escape(clean(meta.title))}">\n{head}<style>{CSS}</style>\n</head>\n<body>\n'
            f'<header><h1>{escape(title)}</h1><p class="sub"><a href="/">{escape(clean(meta.title))}</a></p></header>\n'
            f"<main>\n{body}\n</main>\n</body>\n</html>\n").encode()


def _feed_links(base_url: str, topic: Topic | None, counts: Counts, q: str | None = None) -> str:
    """A cell per view: its count and its three feeds. A search's feeds are offered even while
    empty: subscribing to a search is for what is still to come."""
    query = f"?q={quote(q, safe='')}" if q else ""
    cells = []
    for lang in VIEW_LANGS:
        if not counts.get(lang) and not q:
            cells.append("<td>—</td>")
            continue
        links = " ".join(f'<a href="{escape(base_url + feed_path(v, topic) + query)}" type="{MEDIA_TYPES[v.fmt]}">'
                         f"{FORMAT_NAMES[v.fmt]}</a>" for v in VIEWS if v.lang == lang)
        cells.append(f"<td>{counts[lang]}: {links}</td>")
    return "".join(cells)


def topics_page(meta: FeedMeta, publications: list[TopicRow], authors: list[TopicRow], base_url: str) -> bytes:
    """Every publication and author with their counts and feeds, per language."""
    head_cells = "".join(f"<th>{_LANGUAGE_LABEL[lang]}</th>" for lang in VIEW_LANGS)
    sections = []
    for heading, kind, rows in (("Publications", PUBLICATION, publications), ("Authors", AUTHOR, authors)):
        body = "".join(f"<tr><th>{escape(name)}</th>{_feed_links(base_url, Topic(kind, slug), counts)}</tr>"
                       for slug, name, counts in rows) or '<tr><td colspan="4">None yet.</td></tr>'
        sections.append(f"<section><h2>{heading}</h2><table><thead><tr><th></th>{head_cells}</tr></thead>"
                        f"<tbody>{body}</tbody></table></section>")
    intro = ('<p>Subscribe to one publication or one author. All feeds at once: '
             '<a href="/feeds.opml">OPML</a>. Search: <a href="/search">/search</a>.</p>')
    return _page(meta, "Publications and authors", "", intro + "".join(sections))


def search_page(meta: FeedMeta, q: str | None, results: list[Entry], counts: Counts, base_url: str) -> bytes:
    """A search form; with a query, its latest results and its feeds (autodiscovered too)."""
    form = (f'<form method="get" action="/search"><input name="q" value="{escape(q or "")}" '
            'placeholder="санкції -росія" aria-label="search"><button>Search</button></form>'
            "<p class=\"meta\">Every word must match, in any form (Ukrainian or English); "
            "a word after <code>-</code> must not.</p>")
    if not q:
        return _page(meta, "Search", "", form)
    query = f"?q={quote(q, safe='')}"
    head = "".join(f'<link rel="alternate" type="{MEDIA_TYPES[v.fmt]}" title="{escape(meta.feed_title(v.lang))}'
                   f' — «{escape(q)}»" href="{escape(base_url + v.path + query)}">\n' for v in VIEWS)
    items = []
    for entry in results:
        t = texts(entry.document, base_url)
        title = " / ".join(t.title[lang] for lang in meta.order if lang in t.title)
        items.append(f'<article id="{escape(quote_id(entry.document.id))}"><h3><a href="{escape(t.link)}">'
                     f'{escape(title)}</a></h3><p class="meta">{escape(t.byline)}</p></article>')
    found = "".join(items) or "<p>Nothing matches yet. The feeds below will show what does.</p>"
    feeds = (f"<table><thead><tr>{''.join(f'<th>{_LANGUAGE_LABEL[lang]}</th>' for lang in VIEW_LANGS)}"
             f"</tr></thead><tbody><tr>{_feed_links(base_url, None, counts, q)}"
             "</tr></tbody></table>")
    return _page(meta, f"Search: {q}", head, f"{form}<section><h2>Subscribe to this search</h2>{feeds}</section>"
                 f"<section><h2>{counts.get(None, 0)} found</h2>{found}</section>")
