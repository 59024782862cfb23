"""Entries: what one document shows in each feed, format-neutral, its text made XML-safe once.

A bilingual entry shows both headlines in its title (primary language first), a line with the
publication, the article's date and the authors, then each language's part under a visible label:
the Ukrainian summary, and the English article in full. The English summary is the article's
opening, so it goes into the entry's summary but never before the article: no sentence is shown
twice. A language's own entry shows that language only.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from ..documents.model import LANGS, Document, Entry, Lang
from ..documents.publications import canonical
from .views import BILINGUAL, LANG_LABELS, TITLE_SEPARATOR, FeedMeta, clean, entry_id, quote_id, utc


def _escape(text: str) -> str:
    return html.escape(text, quote=False)


def _paragraphs(text: str) -> str:
    """Plain text as escaped HTML paragraphs, one per non-blank line."""
    return "".join(f"<p>{_escape(line.strip())}</p>" for line in text.splitlines() if line.strip())


@dataclass(frozen=True, slots=True)
class Texts:
    """A document's strings made XML-safe, with its HTML fragments built once."""

    title: dict[Lang, str]  # only languages with a non-blank title
    summary: dict[Lang, str]
    summary_html: dict[Lang, str]  # escaped <p>s, no wrapper
    article_html: str  # the English article's escaped <p>s, or ''
    authors: tuple[str, ...]
    source: str  # the publication as written
    publication: str  # its one name (documents.publications), for categories
    date: dt.date | None  # the article's own date
    link: str

    @property
    def byline(self) -> str:
        """Publication, the article's date and the authors, as one line."""
        parts = [self.source, self.date.isoformat() if self.date else "", ", ".join(self.authors)]
        return " · ".join(p for p in parts if p)


@lru_cache(maxsize=2048)
def texts(doc: Document, base_url: str) -> Texts:
    """Cleaned text of `doc`; cached because every view of every page re-renders it."""
    title = {lang: t for lang in LANGS if (t := clean(doc.title.get(lang)).strip())}
    summary = {lang: s for lang in LANGS if (s := clean(doc.summary.get(lang)).strip())}
    body = "".join(f"<p>{_escape(p)}</p>" for p in map(str.strip, map(clean, doc.body)) if p)
    # Readers want a link per entry; without an http(s) source URL (never javascript: and
    # the like, which the home page would make clickable), point at the home page.
    link = clean(doc.link).strip()
    if not link.lower().startswith(("https://", "http://")):
        link = f"{base_url}/#{quote_id(doc.id)}"
    source = clean(doc.source).strip()
    return Texts(
        title=title,
        summary=summary,
        summary_html={lang: _paragraphs(s) for lang, s in summary.items()},
        article_html=body,
        authors=tuple(a for a in map(str.strip, map(clean, doc.authors)) if a),
        source=source,
        publication=canonical(source) if source else "",
        date=doc.date,
        link=link,
    )


@dataclass(frozen=True, slots=True)
class Item:
    """What one entry shows in one view, format-neutral; `*_lang` say which language each text is
    in (None: both, each part marked inside)."""

    id: str
    title: str
    title_lang: Lang | None
    summary: str | None  # plain text
    summary_html: str | None  # the same as HTML (RSS description)
    summary_lang: Lang | None
    content_html: str
    content_lang: Lang | None
    texts: Texts
    published: dt.datetime
    updated: dt.datetime


def _byline_html(t: Texts) -> str:
    return f"<p>{_escape(t.byline)}</p>" if t.byline else ""


# Edits within this long of the first publication are the author finishing the digest; later ones
# are corrections, and say so: readers such as Miniflux overwrite an entry silently.
CORRECTION_GRACE = dt.timedelta(minutes=10)
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


def correction(lang: Lang, entry: Entry) -> str | None:
    """The visible line of a corrected entry ("Updated 2 March 2024"), or None."""
    published, updated = utc(entry.published), utc(entry.updated)
    if updated - published <= CORRECTION_GRACE:
        return None
    day = updated.date()
    return f"Оновлено {day:%d.%m.%Y}" if lang == "uk" else f"Updated {day.day} {_MONTHS[day.month - 1]} {day.year}"


def _corrections_html(langs: Sequence[Lang], entry: Entry) -> str:
    lines = [(lang, line) for lang in langs if (line := correction(lang, entry))]
    return "".join(f'<p lang="{lang}"><em>{_escape(line)}</em></p>' for lang, line in lines)


def _bilingual(meta: FeedMeta, t: Texts) -> tuple[str, Lang | None, str | None, str | None, str]:
    """Title, its language, summary text and HTML, and content of a bilingual entry."""
    langs = [lang for lang in meta.order if lang in t.title or lang in t.summary]
    titled = [lang for lang in meta.order if lang in t.title]
    title = TITLE_SEPARATOR.join(t.title[lang] for lang in titled)
    title_lang = titled[0] if len(titled) == 1 else None
    summarised = [lang for lang in meta.order if lang in t.summary]
    if len(summarised) > 1:
        summary: str | None = "\n\n".join(f"{LANG_LABELS[lang]}: {t.summary[lang]}" for lang in summarised)
        summary_html: str | None = "".join(
            f'<div lang="{lang}"><p><strong>{LANG_LABELS[lang]}</strong></p>{t.summary_html[lang]}</div>'
            for lang in summarised)
    else:
        summary = t.summary[summarised[0]] if summarised else None
        summary_html = t.summary_html[summarised[0]] if summarised else None
    sections = []
    for lang in langs:
        text = t.article_html if lang == "en" and t.article_html else t.summary_html.get(lang, "")
        heading = f"<h2>{_escape(t.title[lang])}</h2>" if lang in t.title else ""
        sections.append(f'<section lang="{lang}"><p><strong>{LANG_LABELS[lang]}</strong></p>{heading}{text}</section>')
    return title, title_lang, summary, summary_html, _byline_html(t) + "".join(sections)


def item(meta: FeedMeta, lang: Lang | None, entry: Entry, base_url: str) -> Item | None:
    """The entry as `lang`'s feed shows it; None if it has no title in that language."""
    t = texts(entry.document, base_url)
    if not t.title:  # the parser rejects such a document; one built by hand has no entry
        return None
    if lang is BILINGUAL:
        title, title_lang, summary, summary_html, content = _bilingual(meta, t)
        content = _corrections_html(meta.order, entry) + content
        summary_lang = next(iter(t.summary)) if len(t.summary) == 1 else None
        content_lang = None
    else:
        if lang not in t.title:
            return None
        title, title_lang = t.title[lang], lang
        summary, summary_lang = t.summary.get(lang), lang if lang in t.summary else None
        summary_html = t.summary_html.get(lang)
        text = t.article_html if lang == "en" and t.article_html else t.summary_html.get(lang, "")
        # Atom and JSON Feed need some content; a title alone is not published in a language
        # feed (Document.languages), so `text` is there but for a document built by hand.
        content = (_corrections_html((lang,), entry) + _byline_html(t)
                   + f'<section lang="{lang}">{text or f"<p>{_escape(title)}</p>"}</section>')
        content_lang = lang
    return Item(
        id=entry_id(meta, entry.document.id, lang),
        title=title, title_lang=title_lang,
        summary=summary, summary_html=summary_html, summary_lang=summary_lang,
        content_html=content, content_lang=content_lang, texts=t,
        published=utc(entry.published), updated=utc(entry.updated),
    )
