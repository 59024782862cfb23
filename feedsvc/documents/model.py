"""The domain: documents read from the seeds folder, why a file is not one, and feed entries."""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

Lang = Literal["en", "uk"]
LANGS: tuple[Lang, ...] = ("en", "uk")


class ReasonKind(enum.Enum):
    """Why a file is rejected; the value is what /healthz and the index keep."""

    EMPTY = "empty"
    BINARY = "binary"
    ENCODING = "encoding"
    TOO_LARGE = "too-large"
    LONG_LINE = "long-line"
    NO_TITLE = "no-title"
    SYMLINK = "symlink"
    NOT_REGULAR = "not-regular"
    UNREADABLE = "unreadable"
    OUTSIDE_ROOT = "outside-root"
    PARSER_ERROR = "parser-error"
    TWO_DOCUMENTS = "two-documents"
    UNSAFE_NAME = "unsafe-name"
    NOT_PLAIN_TEXT = "not-plain-text"  # RTF or HTML saved as .txt
    TEMPLATE = "template"  # the digest template, its placeholders not filled in
    NO_TEXT = "no-text"  # a title line and nothing else
    INTERNAL = "internal-error"


@dataclass(frozen=True, slots=True)
class Reason:
    """One rejection: its kind, one line of text for people, and the line of the file it concerns."""

    kind: ReasonKind
    text: str
    line: int | None = None

    def __str__(self) -> str:
        return self.text if self.line is None else f"line {self.line}: {self.text}"

    @property
    def retried(self) -> bool:
        """Whether the file is read again even when its stat is unchanged (chmod moves only ctime)."""
        return self.kind is ReasonKind.UNREADABLE

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "text": self.text, "line": self.line}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Reason:
        return cls(ReasonKind(data["kind"]), data["text"], data.get("line"))


class NoteKind(enum.Enum):
    """What a note is about, for tools that group or filter them; None on notes older than the kinds."""

    CHARACTERS = "characters"  # characters replaced, removed or repaired
    MARKUP = "markup"  # Markdown, labels or a site's name removed from a field
    HEADER = "header"  # a header line read as something else than its position says, or left out
    DATE = "date"
    AUTHORS = "authors"
    TITLE = "title"
    LINK = "link"
    FURNITURE = "furniture"  # page furniture left out of the article or of a summary
    LANGUAGE = "language"  # text dropped for its language, and the feeds this costs
    TRUNCATED = "truncated"  # the file ends mid-sentence


@dataclass(frozen=True, slots=True)
class Note:
    """A warning about a published document: what the parser changed, guessed or left out, and the
    line of the file (1-based, as written) it concerns; None only where no line applies."""

    text: str
    line: int | None = None
    # Routine (page furniture left out): shown to editors, but not a warning; nothing to fix.
    info: bool = False
    kind: NoteKind | None = None

    def __str__(self) -> str:
        return self.text if self.line is None else f"line {self.line}: {self.text}"

    def to_json(self) -> dict[str, Any]:
        found = {"line": self.line, "message": self.text, "level": "note" if self.info else "warning"}
        if self.kind is not None:  # absent, not null, so records of notes without a kind stay as they were
            found["kind"] = self.kind.value
        return found

    @classmethod
    def from_json(cls, data: dict[str, Any] | str) -> Note:
        if isinstance(data, str):  # records written before warnings had lines
            return cls(data)
        kind = data.get("kind")
        return cls(data["message"], data.get("line"), data.get("level") == "note", NoteKind(kind) if kind else None)


class Rejected(Exception):
    """A document file that breaks the format rules (shown on /healthz)."""

    def __init__(self, reason: Reason) -> None:
        super().__init__(str(reason))
        self.reason = reason


class Ignored(Exception):
    """A file that is not a document at all (hidden, editor artefact, other pattern)."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.reason = why


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
    warnings: tuple[Note, ...] = field(default=())

    @property
    def warned(self) -> bool:
        """Whether any note is a warning an editor should look at (not only routine notes)."""
        return any(not note.info for note in self.warnings)

    @property
    def languages(self) -> tuple[Lang, ...]:
        """Languages this document is published in on its own: those with a title and text to read
        (a summary). A title alone reaches the bilingual feeds only, never an entry that is all headline."""
        return tuple(lang for lang in LANGS if self.title.get(lang) and self.summary.get(lang))

    def missing(self) -> dict[Lang, str]:
        """Each language whose own feeds (/en/, /uk/) leave this document out, and why, for editors: a
        check that says only "would be published" hides that a Russian summary cost the /uk/ feeds."""
        names = {"en": ("English", "English article"), "uk": ("Ukrainian", "Ukrainian summary")}
        found: dict[Lang, str] = {}
        for lang in LANGS:
            if lang in self.languages:
                continue
            name, text = names[lang]
            lacking = [what for what, have in ((f"no {name} title", self.title.get(lang)),
                                               (f"no {text}", self.summary.get(lang))) if not have]
            dropped = [note for note in self.warnings if note.kind is NoteKind.LANGUAGE and note.line is not None
                       and (lang == "uk") == ("Russian" in note.text)]
            why = " and ".join(lacking)
            if dropped:
                why += f" (text dropped for its language on line {', '.join(str(n.line) for n in dropped[:5])})"
            found[lang] = why
        return found

    def digest(self, lang: Lang) -> int:
        """A 63-bit hash of what `lang`'s entry shows, so an edit touches only the views it changes."""
        shown: dict[str, Any] = {"source": self.source, "date": self.date.isoformat() if self.date else None,
                                 "authors": self.authors, "link": self.link, "title": self.title.get(lang),
                                 "summary": self.summary.get(lang)}
        if lang == "en":
            shown["body"] = self.body
        data = json.dumps(shown, ensure_ascii=False, sort_keys=True).encode("utf-8", "surrogatepass")
        return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big") >> 1

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
            "warnings": [w.to_json() for w in self.warnings],
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
            warnings=tuple(Note.from_json(w) for w in data.get("warnings") or ()),
        )


@dataclass(frozen=True, slots=True)
class Entry:
    """A published document with the dates feeds show for it (timezone-aware, UTC)."""

    document: Document
    published: dt.datetime
    updated: dt.datetime
