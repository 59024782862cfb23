"""What a digest's text suffers on its way from a word processor or a web page, and its repair.

Each function either gives back text that says what the editor wrote (noting what it changed) or
rejects the file: a repair the parser is not certain of would publish a wrong value.
"""

from __future__ import annotations

import re

from .model import Note, NoteKind, Reason, ReasonKind, Rejected

# --- files that are not plain text at all -----------------------------------------------------------

# Word processors and browsers save these under any name; their codes would reach every field.
_NOT_PLAIN = ((re.compile(rb"^\s*\{\\rtf"), "an RTF document"),
              (re.compile(rb"(?i)^\s*<(?:!doctype\s+html|html[\s>])"), "an HTML page"))


def not_plain_text(data: bytes) -> None:
    """Reject a rich-text or HTML file saved as .txt (its markup would be published as text)."""
    head = data[:200].removeprefix(b"\xef\xbb\xbf")
    for pattern, what in _NOT_PLAIN:
        if pattern.match(head):
            raise Rejected(Reason(ReasonKind.NOT_PLAIN_TEXT, f"{what} saved as .txt, not plain text: save it "
                                  "as plain text (UTF-8)", 1))


# --- Word's control characters ------------------------------------------------------------------------

# Word writes a non-breaking hyphen as U+001E, an optional hyphen as U+001F and a manual line break
# (Shift+Enter) as U+000B. Removed like other control characters, they would glue two words together;
# a line break becomes U+2028, which splits a line for the parser without changing the line numbers.
_WORD_CONTROLS = str.maketrans({"\x1e": "-", "\x1f": "", "\x0b": "\u2028"})
_WORD_CONTROL = re.compile("[\x0b\x1e\x1f]")
_INSIDE_WORD = re.compile("[a-zа-яіїєґ]\x0b[a-zа-яіїєґ]")


def word_controls(text: str, notes: list[Note]) -> str:
    """`text` with Word's hyphens and manual line breaks as the characters they stand for.

    A lone U+000B inside a lowercase word ("n\x0bew") in a file with no other sign of Word is a stray
    control character, removed as any other; a manual line break sits at the end of a line."""
    if "\x0b" not in text and "\x1e" not in text and "\x1f" not in text:  # in C: most files have none
        return text
    found = _WORD_CONTROL.search(text)
    if found is None:
        return text
    if not ("\x1e" in text or "\x1f" in text or text.count("\x0b") > 1
            or not _INSIDE_WORD.match(text, max(0, found.start() - 1))):
        return text
    line = text.count("\n", 0, found.start()) + 1
    notes.append(Note("Word's control characters (non-breaking hyphen U+001E, manual line break U+000B) "
                      "replaced by a hyphen and a line break", line, info=True, kind=NoteKind.CHARACTERS))
    return text.translate(_WORD_CONTROLS)


# --- mojibake -------------------------------------------------------------------------------------------

# UTF-8 read as Windows-1252/Latin-1 (Ð¡Ð¾ÑŽÐ·, â€™) or as Windows-1251 (РЎРѕСЋР·, вЂ™) and saved again:
# a lead character followed by one a UTF-8 continuation byte decodes to. Real Ukrainian has "Рі" or
# "Сі" (Рік, Січень) now and then, double-encoded text has them in nearly every word: so a count.
_MOJIBAKE = re.compile(
    "[ÐÑÃÂ][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013\u2014\u2018-\u201e"
    "\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]|â€|вЂ"
    "|[РС][\u0402\u0403\u201a\u0453\u201e\u2026\u2020\u2021\u20ac\u2030\u0409\u2039\u040a\u040c\u040b\u040f"
    "\u0452\u2018\u2019\u201c\u201d\u2022\u2014\u2122\u0459\u203a\u045a\u045c\u045b\u045f\u040e\u045e\u0408"
    "\u00a4\u0490\u00a6\u00a7\u0401\u00a9\u0404\u00ab\u00ac\u00ae\u0407\u00b0\u00b1\u0491\u00b5\u00b6\u00b7"
    "\u0451\u2116\u0454\u00bb\u0458\u0405\u0455]")
_MOJIBAKE_MIN = 5  # fewer such pairs are names and typography, not a double-encoded file


def suspect(data: bytes) -> bool:
    """Whether a file's bytes may hold mojibake: searched in bytes, ~100x faster than in the text, so
    that the pattern (~0.3 ms on a long digest) runs on few files. Ã Â Ð Ñ â are C3 xx in UTF-8; a
    text of Р and С (D0 A0, D0 A1) at every other letter is Cyrillic read as Windows-1251."""
    return b"\xc3" in data or data.count(b"\xd0\xa0") + data.count(b"\xd0\xa1") >= max(_MOJIBAKE_MIN, len(data) // 200)


def mojibake(text: str, notes: list[Note]) -> str:
    """`text`, repaired by ftfy if it was double-encoded and the repair leaves none of it; else rejected."""
    found = _MOJIBAKE.findall(text)
    if len(found) < _MOJIBAKE_MIN:
        return text
    # Imported only for the rare damaged file: it costs ~50 ms to import.
    import ftfy
    import ftfy.badness

    first = _MOJIBAKE.search(text)
    line = text.count("\n", 0, first.start()) + 1 if first else None
    fixed = ftfy.fix_encoding(text)
    left = len(_MOJIBAKE.findall(fixed))
    if fixed == text or left * 20 > len(found) or ftfy.badness.is_bad(fixed):
        raise Rejected(Reason(ReasonKind.ENCODING, "double-encoded text (mojibake such as "
                              f"{found[0]!r}) that cannot be repaired with certainty; save the file as UTF-8 again",
                              line))
    notes.append(Note("double-encoded text (mojibake) repaired: check the digest reads right", line,
                      kind=NoteKind.CHARACTERS))
    return fixed


# --- Markdown -------------------------------------------------------------------------------------------

_FENCE = re.compile(r"^(?:```|~~~)[\w+-]*$")


def fences(lines: list[tuple[int, str]], notes: list[Note]) -> list[tuple[int, str]]:
    """The lines without the Markdown code fences a digest was wrapped in (a chat or a wiki adds them)."""
    fenced = [number for number, line in lines if line.startswith(("```", "~~~")) and _FENCE.match(line)]
    if not fenced:
        return lines
    notes.append(Note("Markdown code fence around the digest removed", fenced[0], info=True,
                      kind=NoteKind.MARKUP))
    drop = set(fenced)
    return [(number, "" if number in drop and _FENCE.match(line) else line) for number, line in lines]


_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_EMPHASIS = re.compile(r"(?<![\w*/])\*(?=[^\s*])([^*]+?)(?<=[^\s*])\*(?![\w*])")


def emphasis(text: str) -> str:
    """`text` without Markdown emphasis (`**bold**`, `__bold__`, `*italic*`); a lone asterisk stays."""
    if "*" not in text and "__" not in text:
        return text
    return _EMPHASIS.sub(r"\1", _STRONG.sub(r"\2", text))
