"""The "/" HTML page: latest entries in both languages, subscribe links, feed autodiscovery."""

from __future__ import annotations

from html import escape

from ..documents.model import Entry, Lang
from .entries import texts
from .views import (
    BILINGUAL,
    FAVICON_ICO,
    FORMAT_NAMES,
    ICON,
    LANG_NAMES,
    MEDIA_TYPES,
    VIEW_LANGS,
    VIEWS,
    FeedMeta,
    Page,
    View,
    clean,
    quote_id,
    utc,
)

# Interface text, in the page's (primary) language.
UI: dict[Lang, dict[str, str]] = {
    "uk": {"latest": "Останні статті", "subscribe": "Підписатися", "feed": "Стрічка",
           "bilingual": "Двомовна", "empty": "Статей ще немає.", "older": "Давніші →", "newer": "← Новіші",
           "older_heading": "Давніші статті", "page": "Сторінка {number} з {last}",
           "topics": "Видання й автори", "search": "Пошук"},
    "en": {"latest": "Latest articles", "subscribe": "Subscribe", "feed": "Feed",
           "bilingual": "Bilingual", "empty": "No articles yet.", "older": "Older →", "newer": "← Newer",
           "older_heading": "Older articles", "page": "Page {number} of {last}",
           "topics": "Publications and authors", "search": "Search"},
}

# No scripts, no external resources: the page is served with CSP default-src 'none'.
CSS = """
:root{color-scheme:light dark;--fg:#1d1d1f;--bg:#fbfbf8;--mute:#6b6b6b;--line:#ddd;--accent:#0b5cad}
@media (prefers-color-scheme:dark){:root{--fg:#e8e8e3;--bg:#161615;--mute:#a0a09a;--line:#333;--accent:#7fb4ff}}
*{box-sizing:border-box}
body{margin:0;font:17px/1.55 Georgia,"Times New Roman",serif;color:var(--fg);background:var(--bg)}
header,main{max-width:46rem;margin:0 auto;padding:0 1.2rem}
header{padding-top:2.2rem;border-bottom:1px solid var(--line)}
h1{font-size:1.9rem;margin:0 0 .3rem}h2{font-size:1.25rem;margin:2rem 0 1rem}
h3{font-size:1.1rem;margin:0 0 .25rem}
.sub,.meta{color:var(--mute)}.meta{font:14px/1.4 system-ui,sans-serif;margin:.4rem 0 0}
a{color:var(--accent)}
article{padding:1rem 0;border-bottom:1px solid var(--line)}
article div+div{margin-top:.7rem;padding-left:.8rem;border-left:3px solid var(--line)}
article p{margin:.2rem 0}
table{border-collapse:collapse;font:15px/1.4 system-ui,sans-serif;margin-bottom:3rem}
th,td{padding:.4rem .9rem;border-bottom:1px solid var(--line);text-align:left}
.pages{font:15px/1.4 system-ui,sans-serif;margin:1.5rem 0 3rem;display:flex;gap:1.2rem}
"""


def _feed_label(meta: FeedMeta, view: View) -> str:
    return f"{meta.feed_title(view.lang)} — {FORMAT_NAMES[view.fmt]}"


def _article(meta: FeedMeta, entry: Entry, base_url: str) -> str:
    t = texts(entry.document, base_url)
    anchor = quote_id(entry.document.id)
    parts = [f'<article id="{escape(anchor)}">']
    for lang in meta.order:
        if lang not in t.title and lang not in t.summary:
            continue
        parts.append(f'<div lang="{lang}">')
        if lang in t.title:
            parts.append(f'<h3><a href="{escape(t.link)}">{escape(t.title[lang])}</a></h3>')
        if lang in t.summary:
            parts.append(f"<p>{escape(t.summary[lang])}</p>")
        parts.append("</div>")
    published = utc(entry.published)
    meta_line = [f'<time datetime="{published.isoformat()}">{published.date().isoformat()}</time>']
    if t.byline:
        meta_line.append(escape(t.byline))
    parts.append(f'<p class="meta">{" · ".join(meta_line)}</p></article>')
    return "".join(parts)


def _subscribe(meta: FeedMeta, base_url: str) -> str:
    ui = UI[meta.language]
    rows = []
    for lang in VIEW_LANGS:
        name = ui["bilingual"] if lang is BILINGUAL else LANG_NAMES[lang]
        th = f"<th>{name}</th>" if lang is BILINGUAL else f'<th lang="{lang}">{name}</th>'
        cells = "".join(f'<td><a href="{escape(base_url + v.path)}" type="{MEDIA_TYPES[v.fmt]}">'
                        f"{FORMAT_NAMES[v.fmt]}</a></td>" for v in VIEWS if v.lang == lang)
        rows.append(f"<tr>{th}{cells}</tr>")
    head = "".join(f"<th>{n}</th>" for n in FORMAT_NAMES.values())
    more = (f'<p class="meta"><a href="/topics">{ui["topics"]}</a> · <a href="/search">{ui["search"]}</a> · '
            f'<a href="/feeds.opml">OPML</a></p>')
    return (f"<section><h2>{ui['subscribe']}</h2>\n<table><thead><tr><th>{ui['feed']}</th>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>\n{more}\n</section>\n")


def _paging(meta: FeedMeta, page: Page) -> str:
    ui = UI[meta.language]
    links = []
    if page.number > 1:
        newer = "/" if page.number == 2 else f"/?page={page.number - 1}"
        links.append(f'<a rel="prev" href="{newer}">{ui["newer"]}</a>')
    if page.number < page.last:
        links.append(f'<a rel="next" href="/?page={page.number + 1}">{ui["older"]}</a>')
    label = ui["page"].format(number=page.number, last=page.last)
    return f'<nav class="pages"><span>{label}</span> {" ".join(links)}</nav>\n' if page.last > 1 else ""


def home_page(meta: FeedMeta, page: Page, base_url: str) -> bytes:
    """The page; `base_url` already without a trailing slash."""
    ui = UI[meta.language]
    title = escape(clean(meta.title))
    head_links = "".join(
        f'<link rel="alternate" type="{MEDIA_TYPES[v.fmt]}" title="{escape(_feed_label(meta, v))}"'
        f' href="{escape(base_url + v.path)}">' for v in VIEWS)
    articles = "".join(_article(meta, e, base_url) for e in page.entries) or f"<p>{ui['empty']}</p>"
    heading = ui["latest"] if page.number == 1 else ui["older_heading"]
    html = (
        f'<!DOCTYPE html>\n<html lang="{meta.language}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{title}</title>\n"
        f'<meta name="description" content="{escape(clean(meta.subtitle))}">\n'
        f'<link rel="icon" href="{FAVICON_ICO}" sizes="32x32"><link rel="icon" href="{ICON}" type="image/png">\n'
        '<link rel="search" type="application/opensearchdescription+xml" href="/opensearch.xml" '
        f'title="{title}">\n'
        f"{head_links}\n<style>{CSS}</style>\n</head>\n<body>\n"
        f'<header><h1>{title}</h1><p class="sub">{escape(clean(meta.subtitle))}</p></header>\n<main>\n'
        + _subscribe(meta, base_url)
        + f"<section><h2>{heading}</h2>\n{articles}\n</section>\n"
        + _paging(meta, page)
        + "</main>\n</body>\n</html>\n"
    )
    return html.encode()
