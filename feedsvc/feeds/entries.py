"""Entries: what one document shows in each feed, format-neutral, its text made XML-safe once."""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass
from functools import lru_cache

from ..documents.model import LANGS, Document, Entry, Lang
from .views import FeedMeta, clean, entry_id, quote_id, utc


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
        link = f"{base_url}/#{quote_id(doc.id)}"
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
