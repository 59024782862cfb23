"""The feeds' shared vocabulary: which feeds there are, their ids and URLs, a page of one.


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
import re
from dataclasses import dataclass
from typing import Final, Literal
from urllib.parse import quote

from ..documents.model import LANGS, Entry, Lang
from ..documents.publications import AUTHOR, PUBLICATION, Topic
from ..settings import Settings

Format = Literal["atom", "rss", "json"]

# None stands for two things in the feeds' keys; these names say which one a place means.
BILINGUAL: Final = None  # a language (`Lang | None`): both languages, each part marked
HOME: Final = None  # a publisher Key's view (`View | None`): the HTML home page, not a feed
# Every view's language, the bilingual views first (their order on pages and in VIEWS).
VIEW_LANGS: tuple[Lang | None, ...] = (BILINGUAL, *LANGS)

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
LANG_NAMES: dict[Lang, str] = {"en": "English", "uk": "українська"}
# The visible label of each language's part of a bilingual entry: readers such as Miniflux strip
# lang attributes, so the words are all a subscriber has to tell the parts apart.
LANG_LABELS: dict[Lang, str] = {"en": "In English", "uk": "Українською"}
# The images feeds and pages point at (served from feedsvc/static by the HTTP layer).
ICON = "/icon.png"  # square, 512 px: Atom icon, JSON Feed icon
FAVICON = "/favicon.png"  # square, 64 px: JSON Feed favicon
LOGO = "/logo.png"  # 2:1: Atom logo, RSS image
LOGO_SIZE = (144, 72)
FAVICON_ICO = "/favicon.ico"  # what browsers, Liferea and Miniflux ask for
# Between the two headlines of a bilingual title.
TITLE_SEPARATOR = " / "
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

    @property
    def order(self) -> tuple[Lang, Lang]:
        """The order of the two languages wherever both are shown: the primary one first."""
        return self.language, self.other_language

    def feed_title(self, lang: Lang | None) -> str:
        return clean(self.title) if lang is BILINGUAL else f"{clean(self.title)} ({LANG_NAMES[lang]})"


@dataclass(frozen=True, slots=True)
class View:
    """One of the nine feeds: a language (BILINGUAL: both) in a format."""

    lang: Lang | None
    fmt: Format

    @property
    def path(self) -> str:
        return f"/feed.{self.fmt}" if self.lang is BILINGUAL else f"/{self.lang}/feed.{self.fmt}"

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.fmt] + "; charset=utf-8"


VIEWS: tuple[View, ...] = tuple(View(lang, fmt) for lang in VIEW_LANGS for fmt in ("atom", "rss", "json"))
FORMATS: tuple[Format, ...] = ("atom", "rss", "json")
# The path part of each kind of topic feed: /publications/reuters/feed.atom, /authors/jane-doe/feed.atom
TOPIC_FOLDERS = {PUBLICATION: "publications", AUTHOR: "authors"}


def feed_path(view: View, topic: Topic | None) -> str:
    """The path of a view's feed, or of one publication's or author's in that view."""
    if topic is None:
        return view.path
    prefix = f"/{view.lang}" if view.lang else ""
    return f"{prefix}/{TOPIC_FOLDERS[topic.kind]}/{topic.slug}/feed.{view.fmt}"


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a view, newest first, with what paging links need."""

    entries: tuple[Entry, ...]
    number: int
    limit: int
    total: int
    updated: dt.datetime | None
    default_limit: int
    topic: Topic | None = None  # one publication's or author's feed
    topic_name: str | None = None
    q: str | None = None  # a search feed's query, as the subscriber wrote it
    hubs: tuple[str, ...] = ()  # the WebSub hubs this page advertises

    @property
    def last(self) -> int:
        return max(1, -(-self.total // max(1, self.limit)))


def quote_id(doc_id: str) -> str:
    """A document id as it goes into a URI or a fragment."""
    return quote(doc_id, safe="/-_.~%")


def entry_id(meta: FeedMeta, doc_id: str, lang: Lang | None) -> str:
    """The permanent tag: URI of a document in the bilingual or a language feed."""
    base = f"tag:{meta.tag_authority}:{quote_id(doc_id)}"
    return base if lang is BILINGUAL else f"{base}:{lang}"


def feed_id(meta: FeedMeta, view: View, page: Page | None = None) -> str:
    """The tag: URI of a whole feed (all pages, all formats): `/feed`, `/en/feed`,
    `/publications/reuters/feed`, `/feed?q=санкції`."""
    path = feed_path(view, page.topic if page else None).rsplit(".", 1)[0]
    query = f"?q={quote(page.q, safe='')}" if page and page.q else ""
    return f"tag:{meta.tag_authority}:{path}{query}"


def feed_title(meta: FeedMeta, view: View, page: Page | None = None) -> str:
    title = meta.feed_title(view.lang)
    if page and page.topic_name:
        title += f" — {clean(page.topic_name)}"
    if page and page.q:
        title += f" — «{clean(page.q)}»"
    return title


def page_url(base_url: str, view: View, number: int, limit: int, default_limit: int,
             topic: Topic | None = None, q: str | None = None) -> str:
    """Canonical URL of a page: ?q= if a search, ?limit= only if not the default, then &page= only if not 1."""
    query = []
    if q:
        query.append(f"q={quote(q, safe='')}")
    if limit != default_limit:
        query.append(f"limit={limit}")
    if number != 1:
        query.append(f"page={number}")
    return base_url + feed_path(view, topic) + ("?" + "&".join(query) if query else "")


def self_url(base_url: str, view: View, page: Page) -> str:
    return page_url(base_url, view, page.number, page.limit, page.default_limit, page.topic, page.q)


def paging_links(base_url: str, view: View, page: Page) -> dict[str, str]:
    """RFC 5005 links of this page by relation, in a fixed order."""
    def url(n: int) -> str:
        return page_url(base_url, view, n, page.limit, page.default_limit, page.topic, page.q)
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
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)
