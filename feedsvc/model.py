"""The domain: documents read from the seeds folder and the entries built from them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

Lang = Literal["en", "uk"]
LANGS: tuple[Lang, ...] = ("en", "uk")


class DocumentError(Exception):
    """A file that does not become a feed entry; `reason` says why in one line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Rejected(DocumentError):
    """A document file that breaks the format rules (shown on /healthz)."""


class Ignored(DocumentError):
    """A file that is not a document at all (hidden, editor artefact, other pattern)."""


@dataclass(frozen=True, slots=True)
class Bilingual:
    """One text in each language; None where the document lacks that language."""

    en: str | None = None
    uk: str | None = None

    def get(self, lang: Lang) -> str | None:
        return self.en if lang == "en" else self.uk

    def to_json(self) -> dict[str, str | None]:
        return {"en": self.en, "uk": self.uk}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Bilingual:
        return cls(en=data.get("en"), uk=data.get("uk"))


def document_id(relpath: str) -> str:
    """The id of the document at `relpath` (posix, relative to the seeds root).

    It depends on the name only, never on content, so edits keep it and every
    machine derives the same one. The suffix is dropped and the rest made URI-safe.
    """
    stem = relpath.rsplit(".", 1)[0] if "." in relpath.rsplit("/", 1)[-1] else relpath
    return quote(stem, safe="/-_.~")


@dataclass(frozen=True, slots=True)
class Document:
    """One digest, as parsed from its file."""

    id: str
    path: str
    source: str | None
    date: dt.date | None
    authors: tuple[str, ...]
    link: str | None
    title: Bilingual
    summary: Bilingual
    body: tuple[str, ...] = ()  # the English article, one string per paragraph
    warnings: tuple[str, ...] = field(default=())

    @property
    def languages(self) -> tuple[Lang, ...]:
        """Languages this document can be published in: those with a title."""
        return tuple(lang for lang in LANGS if self.title.get(lang))

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "path": self.path,
            "source": self.source,
            "date": self.date.isoformat() if self.date else None,
            "authors": list(self.authors),
            "link": self.link,
            "languages": list(self.languages),
            "title": self.title.to_json(),
            "summary": self.summary.to_json(),
            "body": {"en": list(self.body) if self.body else None},
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Document:
        return cls(
            id=data["id"],
            path=data["path"],
            source=data.get("source"),
            date=dt.date.fromisoformat(data["date"]) if data.get("date") else None,
            authors=tuple(data.get("authors") or ()),
            link=data.get("link"),
            title=Bilingual.from_json(data["title"]),
            summary=Bilingual.from_json(data["summary"]),
            body=tuple((data.get("body") or {}).get("en") or ()),
            warnings=tuple(data.get("warnings") or ()),
        )


@dataclass(frozen=True, slots=True)
class Entry:
    """A published document with the dates feeds show for it (timezone-aware, UTC)."""

    document: Document
    published: dt.datetime
    updated: dt.datetime
