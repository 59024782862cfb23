"""The parser's shortcuts decide exactly as the slower code they spare: each against that code on varied input."""

from __future__ import annotations

import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from feedsvc.documents import parse as P
from feedsvc.documents.model import Note
from feedsvc.documents.summary import _fix, _fixed, _pieces, english_summary, sentences


def test_every_character_the_line_scans_find_is_unprintable() -> None:
    """_lines skips the _ODD, _ODD_BLANK and line-separator scans for a text whose lines are all printable:
    exact only if each character those match is unprintable, checked for every code point."""
    printable = [hex(code) for code in range(sys.maxunicode + 1)
                 if (char := chr(code)).isprintable()
                 and (P._ODD.match(char) or P._ODD_BLANK.match(char) or P._LINE_SEPARATORS.match(char))]
    assert printable == []


def _lines_slow(text: str) -> tuple[list[tuple[int, str]], list[Note]]:
    """_lines as it was before the printable shortcut (the scans always run)."""
    notes: list[Note] = []
    text = P.repair.word_controls(text.replace("\r\n", "\n").replace("\r", "\n"), notes)
    if P._ODD.search(text):
        text = P._strip_characters(text, notes)
    if "  " in text or P._ODD_BLANK.search(text):
        text = P._BLANKS.sub(" ", text)
    rows = text.split("\n")
    lines = [(n, part.strip()) for n, row in enumerate(rows, 1) for part in P._LINE_SEPARATORS.split(row)]
    return P.repair.fences(lines, notes), notes


_PIECES = ["Reuters.- 13.09.2023", "## Title", "Текст українською.", "  two  spaces ", "\t", "\u00a0", "\u2028",
           "\u200b", "\u202e", "\x00", "\x0b", "\x1e", "\r\n", "\r", "\n", "\n\n", "```", "```text", "~~~", "«лапки»",
           "— тире", "👩\u200d👩\u200d👧", "\ufeff", "\x85", "\u3000", "é", "İ"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_PIECES) | st.text(max_size=8), max_size=30))
def test_lines_same_with_and_without_the_shortcut(parts: list[str]) -> None:
    text = "".join(parts)
    notes: list[Note] = []
    try:
        fast = P._lines(text, notes, suspect=False)
    except P.Rejected:
        assert not any(line for _, line in _lines_slow(text)[0])  # an empty file, both ways
        return
    assert (fast, notes) == _lines_slow(text)


_SENTENCE_PIECES = ["They met the U.N.", "They did not agree.", "It came at 1:30 a.m.", "Tuesday.", "Mr.", "Smith said so.",
                    "\"", "”", ")", "and then more.", "U.S. Officials spoke.", "Inc. The firm fell.", "", "  ", "Gen.",
                    "Lee arrived.", "the talks went on.", "Why?", "Stop!", "e.g. this one.", "Sept. 13 was a Monday."]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_SENTENCE_PIECES) | st.text(max_size=12), max_size=20))
def test_lazy_sentence_fixing_same_as_the_list(pieces: list[str]) -> None:
    """english_summary takes a paragraph's sentences lazily: each as _fix gives it from the whole list."""
    assert list(_fixed(iter(pieces))) == _fix(pieces)
    paragraph = " ".join(pieces)
    assert sentences(paragraph) == _fix(list(_pieces(paragraph)))  # as sentences() was
    english_summary([paragraph, paragraph])  # the summary stops early: no error from a half-read generator
