"""JSON Feed 1.1 bytes of one page."""

from __future__ import annotations

import json

from ..documents.model import LANGS
from .entries import Item
from .views import BILINGUAL, FAVICON, ICON, FeedMeta, Page, View, clean, feed_title, paging_links, self_url, utc

JSONFEED_VERSION = "https://jsonfeed.org/version/1.1"


def render_json(meta: FeedMeta, view: View, page: Page, base_url: str, items: list[Item]) -> bytes:
    """The JSON Feed document of one page."""
    paging = paging_links(base_url, view, page)
    feed: dict[str, object] = {
        "version": JSONFEED_VERSION,
        "title": feed_title(meta, view, page),
        "home_page_url": base_url + "/",
        "feed_url": self_url(base_url, view, page),
        "description": clean(meta.subtitle),
        "icon": base_url + ICON,
        "favicon": base_url + FAVICON,
        "language": view.lang or meta.language,
        # 1.1's `authors` and, as 1.1 allows, 1.0's `author`: 1.0 clients read only the latter.
        "author": {"name": clean(meta.author)},
        "authors": [{"name": clean(meta.author)}],
    }
    if "next" in paging:
        feed["next_url"] = paging["next"]
    if page.hubs:
        feed["hubs"] = [{"type": "WebSub", "url": hub} for hub in page.hubs]
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
        obj["language"] = it.title_lang or view.lang or meta.language
        if t.authors:
            obj["author"] = {"name": ", ".join(t.authors)}
            obj["authors"] = [{"name": a} for a in t.authors]
        if t.publication:
            obj["tags"] = [t.publication]
        record: dict[str, object] = {"source": t.source or None, "publication": t.publication or None,
                                     "date": t.date.isoformat() if t.date else None, "authors": list(t.authors)}
        if view.lang is BILINGUAL:
            record = {"title": {lg: t.title.get(lg) for lg in LANGS},
                      "summary": {lg: t.summary.get(lg) for lg in LANGS},
                      "languages": [lg for lg in LANGS if lg in t.title], **record}
        obj["_feedsvc"] = record
        out.append(obj)
    feed["items"] = out
    text = json.dumps(feed, ensure_ascii=False, separators=(",", ":"))
    # "<" as \u003c: same JSON, but no tag can open if someone inlines it into HTML.
    return text.replace("<", "\\u003c").encode()
