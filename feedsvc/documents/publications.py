"""Publications: the names editors write in a source line, mapped to one name per publication.

Editors write "AP", "AP News" or "Associated Press" for the same agency; readers filter and
group by category, so every spelling below becomes the name on the right. Extend the table
freely: keys are compared case-insensitively, with dots and "the" ignored.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from anyascii import anyascii

from .model import Document

PUBLICATION = "publication"
AUTHOR = "author"


@dataclass(frozen=True, slots=True)
class Topic:
    """One publication's or one author's digests: a kind (PUBLICATION, AUTHOR) and a slug."""

    kind: str
    slug: str

ALIASES: dict[str, str] = {
    "ap": "Associated Press",
    "ap news": "Associated Press",
    "associated press": "Associated Press",
    "the associated press": "Associated Press",
    "afp": "Agence France-Presse",
    "agence france-presse": "Agence France-Presse",
    "agence france presse": "Agence France-Presse",
    "reuters": "Reuters",
    "thomson reuters": "Reuters",
    "bbc": "BBC News",
    "bbc news": "BBC News",
    "bbc world": "BBC News",
    "nyt": "The New York Times",
    "ny times": "The New York Times",
    "new york times": "The New York Times",
    "the new york times": "The New York Times",
    "wapo": "The Washington Post",
    "washington post": "The Washington Post",
    "the washington post": "The Washington Post",
    "wsj": "The Wall Street Journal",
    "wall street journal": "The Wall Street Journal",
    "the wall street journal": "The Wall Street Journal",
    "guardian": "The Guardian",
    "the guardian": "The Guardian",
    "ft": "Financial Times",
    "financial times": "Financial Times",
    "the economist": "The Economist",
    "economist": "The Economist",
    "time": "Time",
    "time magazine": "Time",
    "politico": "Politico",
    "politico eu": "Politico Europe",
    "politico europe": "Politico Europe",
    "cnn": "CNN",
    "dw": "Deutsche Welle",
    "deutsche welle": "Deutsche Welle",
    "the kyiv independent": "The Kyiv Independent",
    "kyiv independent": "The Kyiv Independent",
}

_FOLD = re.compile(r"[.\u2019'’]")
_SPACES = re.compile(r"\s+")


def _key(name: str) -> str:
    return _SPACES.sub(" ", _FOLD.sub("", unicodedata.normalize("NFKC", name)).strip().lower())


def canonical(name: str) -> str:
    """The one name of the publication written as `name` (itself when the table does not know it)."""
    return ALIASES.get(_key(name), name.strip())


_NOT_SLUG = re.compile(r"[^a-z0-9]+")
# Ukraine's official romanisation (Cabinet of Ministers resolution 55, 2010): Дмитро is Dmytro,
# Ольга Olha. The second form of є, ї, й, ю, я is the one at the start of a word.
_UK_LETTERS = {
    "а": "a", "б": "b", "в": "v", "г": "h", "ґ": "g", "д": "d", "е": "e", "є": "ie", "ж": "zh", "з": "z",
    "и": "y", "і": "i", "ї": "i", "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p",
    "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh",
    "щ": "shch", "ь": "", "ю": "iu", "я": "ia", "'": "", "’": "", "ʼ": "",
}
_UK_INITIAL = {"є": "ye", "ї": "yi", "й": "y", "ю": "yu", "я": "ya"}
_UK_WORD = re.compile(r"[а-щьюяєіїґ'’ʼ]+")


def _romanise_uk(word: re.Match[str]) -> str:
    text = word.group(0).replace("зг", "zgh")
    first = _UK_INITIAL.get(text[0], _UK_LETTERS.get(text[0], text[0]))
    return first + "".join(_UK_LETTERS.get(c, c) for c in text[1:])


def slug(name: str) -> str:
    """The name in lower-case ASCII with hyphens, transliterated where needed ("The Guardian" is
    `the-guardian`, "Дмитро Кулеба" `dmytro-kuleba`): the part of a topic feed's URL."""
    text = _UK_WORD.sub(_romanise_uk, unicodedata.normalize("NFKC", name).lower())
    return _NOT_SLUG.sub("-", anyascii(text).lower()).strip("-")


def topics_of(doc: Document) -> tuple[tuple[str, str, str], ...]:
    """(kind, slug, name) of the document's publication and each of its authors."""
    found: dict[tuple[str, str], str] = {}
    if doc.source and (name := canonical(doc.source)) and (key := slug(name)):
        found[PUBLICATION, key] = name
    for author in doc.authors:
        if (name := author.strip()) and (key := slug(name)):
            found.setdefault((AUTHOR, key), name)
    return tuple((kind, key, name) for (kind, key), name in found.items())
