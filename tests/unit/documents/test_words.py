"""Tests of feedsvc.documents.words: the words search keeps of a document, and their forms."""

from __future__ import annotations

import simplemma
from helpers import ROOT
from hypothesis import given, settings
from hypothesis import strategies as st

from feedsvc.documents import words
from feedsvc.documents.parse import parse_document

SEEDS = ROOT / "seeds"

# Letters of both scripts, digits of other systems, the three apostrophes, the underscore, and
# whitespace and punctuation of several kinds: everything the word pattern treats specially.
_ALPHABET = st.sampled_from(list("aZé1٣Ⅻ²жЇґ'’ʼ_-.,;:!?«»()/\\ \t\n\u00a0\u2003\u2028\x1c\x85"))


@settings(max_examples=400, deadline=None)
@given(st.text(_ALPHABET, max_size=60))
def test_words_are_the_patterns_matches_each_once_in_order(text: str) -> None:
    assert words._words(text) == list(dict.fromkeys(words._WORD.findall(text)))


def test_the_seed_documents_words_are_the_patterns_matches() -> None:
    for path in sorted(SEEDS.rglob("*.txt")):
        doc = parse_document(path.read_bytes(), path.name)
        text = " ".join(p for p in (doc.title.en, doc.title.uk, doc.summary.en, doc.summary.uk, *doc.body) if p)
        assert words._words(text) == list(dict.fromkeys(words._WORD.findall(text)))


def test_low_memory_dictionaries_give_the_default_dictionaries_forms() -> None:
    """The service looks forms up in simplemma's low-memory dictionaries; a query and a document
    must get the forms the full dictionaries give, or an index built before would not match."""
    doc = parse_document(next(SEEDS.rglob("*.txt")).read_bytes(), "seed.txt")
    text = " ".join(p for p in (doc.title.en, doc.title.uk, doc.summary.en, doc.summary.uk, *doc.body) if p)
    found = [*words._words(text.lower()), "санкціями", "sanctions", "м’ясо", "росії", "went"]
    assert len(found) > 200
    for word in found:
        lang = "uk" if words._CYRILLIC.search(word) else "en"
        expected = simplemma.lemmatize(word, lang=lang).lower().replace("’", "").replace("'", "").replace("ʼ", "")
        assert words.lemma(word) == expected, word
