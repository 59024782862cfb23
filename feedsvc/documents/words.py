"""Word forms for search: every word of a document (and of a query) as its dictionary form, so that
`санкції` finds `санкціями` and `sanction` finds `sanctions`.

simplemma's dictionaries (Ukrainian and English) do the work; a word they do not know stays as
written. Cyrillic words are looked up as Ukrainian, Latin ones as English. Apostrophes (’ ' ʼ)
are dropped inside words, so `м’ясо` and `м'ясо` are one word.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from simplemma import Lemmatizer
from simplemma.strategies import DefaultStrategy

from .model import Document

_WORD = re.compile(r"[^\W_]+(?:['’ʼ][^\W_]+)*")
_APOSTROPHES = str.maketrans("", "", "'’ʼ")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
# The low-memory dictionaries keep each language's front-coded stream and look a form up in it
# (~11 µs): the default ones unpack every form into a dict, 81 MB for Ukrainian alone, held by
# the parser processes' fork server. Forms looked up are cached below, so simplemma's own cache
# (65,536 forms, a second copy) is off.
_LEMMATIZER = Lemmatizer(cache_max_size=0, lemmatization_strategy=DefaultStrategy(low_memory=True))


# Natural text repeats its words (Zipf): a parser process keeps the forms it has looked up. A
# 100,000-document cold start otherwise spends ~70 s of CPU in simplemma, mostly on repeats.
# 16,384 forms are ~9 MB a process (65,536 were 37 MB, in each process of a bulk load).
@functools.lru_cache(maxsize=1 << 14)
def lemma(word: str) -> str:
    """The dictionary form of one word, lower case, without apostrophes."""
    word = word.lower()
    found = _LEMMATIZER.lemmatize(word, lang="uk" if _CYRILLIC.search(word) else "en")
    return found.lower().translate(_APOSTROPHES)


def _words(text: str) -> list[str]:
    """The words of `text` each once, in the order first met.

    As `_WORD.findall(text)` deduplicated, ~3x faster on an article: no word spans whitespace, so
    the text is split there first (in C), and only the distinct pieces that are not one plain word
    ("war,", "м’ясо") go through the regex.
    """
    found: dict[str, None] = {}
    for piece in dict.fromkeys(text.split()):
        if piece.isalnum():  # what [^\W_]+ matches: one word, the whole piece
            found[piece] = None
        else:
            found.update(dict.fromkeys(_WORD.findall(piece)))
    return list(found)


def lemmas(text: str) -> list[str]:
    return [lemma(w) for w in _WORD.findall(text)]


def document_words(doc: Document) -> str:
    """What search matches in a document: its titles, summaries and article, as dictionary forms,
    each once in the order first met. The search table keeps no positions or counts (FTS5
    detail=none), so a repeat would only cost the space and the time to insert it."""
    parts: Iterable[str | None] = (doc.title.en, doc.title.uk, doc.summary.en, doc.summary.uk, *doc.body)
    words = _words(" ".join(part for part in parts if part))
    return " ".join(dict.fromkeys([lemma(word) for word in words]))


def warm_up() -> None:
    """Load both dictionaries now (the parser processes' fork server shares them)."""
    lemma("санкціями")
    lemma("sanctions")


MAX_QUERY_CHARS = 200
MAX_QUERY_WORDS = 8


class QueryError(ValueError):
    """A ?q= that cannot be searched; the message is for the client."""


@dataclass(frozen=True, slots=True)
class Match:
    """A search: every word of `include` somewhere in a document, none of `exclude`; dictionary forms."""

    include: tuple[str, ...]
    exclude: tuple[str, ...]


def query(text: str) -> Match:
    """`санкції -росія` as a Match; raises QueryError for a query too long, too many words or none."""
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"q is longer than {MAX_QUERY_CHARS} characters")
    terms = text.split()
    if len(terms) > MAX_QUERY_WORDS:
        raise QueryError(f"q has more than {MAX_QUERY_WORDS} words")
    include: list[str] = []
    exclude: list[str] = []
    for term in terms:
        into = exclude if term.startswith("-") and len(term) > 1 else include
        for found in lemmas(term.lstrip("-") if into is exclude else term):
            if found not in into:
                into.append(found)
    if not include and not exclude:
        raise QueryError("q has no words to search for")
    return Match(tuple(include), tuple(exclude))
