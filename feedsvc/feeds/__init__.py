"""Feeds: one page of entries as Atom 1.0, RSS 2.0 or JSON Feed 1.1 bytes, and the HTML home page."""

from __future__ import annotations

from .entries import item
from .html import home_page
from .jsonfeed import render_json
from .views import VIEWS, FeedMeta, Page, View, clean
from .xml import render_xml

__all__ = ["VIEWS", "FeedMeta", "Page", "View", "render", "render_home"]


def render(meta: FeedMeta, view: View, page: Page, base_url: str) -> bytes:
    """The bytes of one page of `view`; same inputs, same bytes."""
    base_url = clean(base_url).rstrip("/")
    items = [it for e in page.entries if (it := item(meta, view.lang, e, base_url)) is not None]
    if view.fmt == "json":
        return render_json(meta, view, page, base_url, items)
    return render_xml(meta, view, page, base_url, items)


def render_home(meta: FeedMeta, page: Page, base_url: str) -> bytes:
    """The "/" HTML page: links to all nine feeds, then one page of entries in both languages."""
    return home_page(meta, page, clean(base_url).rstrip("/"))
