"""The "/" HTML page: latest entries in both languages, subscribe links, feed autodiscovery."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from ..documents.model import LANGS, Entry, Lang
from .entries import texts
from .views import FORMAT_NAMES, LANG_NAMES, MEDIA_TYPES, VIEWS, FeedMeta, View, clean, quote_id, utc

# Interface text, in the page's (primary) language.
UI: dict[Lang, dict[str, str]] = {
    "uk": {"latest": "Останні статті", "subscribe": "Підписатися", "feed": "Стрічка",
           "bilingual": "Двомовна", "empty": "Статей ще немає."},
    "en": {"latest": "Latest articles", "subscribe": "Subscribe", "feed": "Feed",
           "bilingual": "Bilingual", "empty": "No articles yet."},
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
"""


def _feed_label(meta: FeedMeta, view: View) -> str:
    return f"{meta.feed_title(view.lang)} — {FORMAT_NAMES[view.fmt]}"


def _article(meta: FeedMeta, entry: Entry, base_url: str) -> str:
    t = texts(entry.document, base_url)
    anchor = quote_id(entry.document.id)
    parts = [f'<article id="{escape(anchor)}">']
    for lang in (meta.language, "en" if meta.language == "uk" else "uk"):
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
    if t.source:
        meta_line.append(escape(t.source))
    if t.authors:
        meta_line.append(escape(", ".join(t.authors)))
    parts.append(f'<p class="meta">{" · ".join(meta_line)}</p></article>')
    return "".join(parts)


def home_page(meta: FeedMeta, latest: Sequence[Entry], base_url: str) -> bytes:
    """The page; `base_url` already without a trailing slash."""
    ui = UI[meta.language]
    title = escape(clean(meta.title))
    head_links = "".join(
        f'<link rel="alternate" type="{MEDIA_TYPES[v.fmt]}" title="{escape(_feed_label(meta, v))}"'
        f' href="{escape(base_url + v.path)}">' for v in VIEWS)
    articles = "".join(_article(meta, e, base_url) for e in latest) or f"<p>{ui['empty']}</p>"
    rows = []
    for lang in (None, *LANGS):
        name = ui["bilingual"] if lang is None else LANG_NAMES[lang]
        th = f"<th>{name}</th>" if lang is None else f'<th lang="{lang}">{name}</th>'
        cells = "".join(f'<td><a href="{escape(base_url + v.path)}" type="{MEDIA_TYPES[v.fmt]}">'
                        f"{FORMAT_NAMES[v.fmt]}</a></td>" for v in VIEWS if v.lang == lang)
        rows.append(f"<tr>{th}{cells}</tr>")
    page = (
        f'<!DOCTYPE html>\n<html lang="{meta.language}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{title}</title>\n"
        f'<meta name="description" content="{escape(clean(meta.subtitle))}">\n'
        f"{head_links}\n<style>{CSS}</style>\n</head>\n<body>\n"
        f'<header><h1>{title}</h1><p class="sub">{escape(clean(meta.subtitle))}</p></header>\n<main>\n'
        f"<section><h2>{ui['latest']}</h2>\n{articles}\n</section>\n"
        f"<section><h2>{ui['subscribe']}</h2>\n<table><thead><tr><th>{ui['feed']}</th>"
        + "".join(f"<th>{n}</th>" for n in FORMAT_NAMES.values())
        + f"</tr></thead><tbody>{''.join(rows)}</tbody></table>\n</section>\n</main>\n</body>\n</html>\n"
    )
    return page.encode()
