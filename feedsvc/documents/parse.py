"""Parsing a digest's bytes into a Document; the format is described in docs/document-format.md.

Every warning (Note) and every rejection (Reason) names the 1-based line of the file as written that
it concerns: lines are numbered before anything is joined or dropped (CRLF, a lone CR and LF each end
one line; U+2028/U+2029 split a line for the parser but not for the numbering), and a paragraph or a
heading hard-wrapped over several lines is on its first line.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from charset_normalizer import from_bytes

from . import repair
from .language import detect, script_of, title_script
from .model import Bilingual, Document, Lang, Note, NoteKind, Reason, ReasonKind, Rejected, document_id
from .publications import ALIASES, canonical
from .summary import (
    caption,
    english_summary,
    furniture,
    is_credit,
    list_header,
    lowered,
    may_contain,
    opening_kind,
    prose,
)

MAX_LINE = 20_000
MAX_TITLE = 300  # a longer title is cut at a word boundary, with a warning
# The default of FEEDSVC_MAX_BYTES; settings takes it from here.
DEFAULT_MAX_BYTES = 1 << 20
_CONTROL_RATIO = 0.05  # more control bytes than this is binary data, not text with a stray byte

Line = tuple[int, str]  # (1-based line number in the file as written, the line's text)

# --- characters --------------------------------------------------------------------------------

_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff\ud800-\udfff]")
# Bidirectional embeddings, overrides and isolates: they can make a headline display reversed.
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
# Characters an emoji sequence is made of: a zero-width joiner between two of them stays (👩‍👩‍👧).
_EMOJI = "\u2190-\u21ff\u2300-\u23ff\u2460-\u27bf\u2900-\u297f\u2b00-\u2bff\ufe0f\U0001f000-\U0001faff"
_ZERO_WIDTH = re.compile(f"[\u200b\u200c\u2060\ufeff]|(?<![{_EMOJI}])\u200d|\u200d(?![{_EMOJI}])")
# Any character one of the three above may remove: most documents have none, and one scan for
# them costs less than three substitutions.
_ODD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff\ud800-\udfff"
                  "\u202a-\u202e\u2066-\u2069\u200b-\u200d\u2060\ufeff]")
_REMOVED = ((_FORBIDDEN, "control or non-XML character(s)"),
            (_BIDI, "bidirectional control character(s), which can show text reversed"),
            (_ZERO_WIDTH, "zero-width character(s)"))
_BLANKS = re.compile(
    "[ \t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]{2,}|[\t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
# What _BLANKS could change, without its alternation: scanning for these is 5x cheaper than the
# substitution, and most documents have none.
_ODD_BLANK = re.compile("[\t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
_LINE_SEPARATORS = re.compile("[\u2028\u2029]")
_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0b, 0x0c, *range(0x0e, 0x20), 0x7f])
_CONTROL_BYTE = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Files that are not text whatever their bytes look like further on.
_SIGNATURES = ((b"\x1f\x8b", "gzip"), (b"PK\x03\x04", "zip"), (b"\x89PNG", "PNG image"),
               (b"\xff\xd8\xff", "JPEG image"), (b"GIF87a", "GIF image"), (b"GIF89a", "GIF image"),
               (b"%PDF-", "PDF"), (b"\xfd7zXZ\x00", "xz"), (b"7z\xbc\xaf", "7z"), (b"\x28\xb5\x2f\xfd", "zstd"))
_UTF8_CYRILLIC = re.compile(rb"[\xd0\xd1][\x80-\xbf]")
_CP1251_LETTERS = re.compile(rb"[\xc0-\xff\xa5\xaa\xaf\xb2\xb3\xb4\xba\xbf]")

# --- structure ---------------------------------------------------------------------------------

# A heading: `## Title`, or a line labelled with its language (`EN: Title`, `**UA:** Заголовок`), which
# article text never starts with. "UK:" needs the `#`: without it, it is as likely the United Kingdom.
_HEADING = re.compile(r"^#{1,3}(?!#)\s*|^(?=(?:\*\*|__)?(?:EN|ENG|UA|UKR|УКР|АНГЛ)\.?(?:\*\*|__)?\s*[:：])")
_TITLE_LABEL = re.compile(r"(?i)^(?:[\[(]\s*)?(?:\*\*|__)?(?:en|eng|ua|uk|ukr|укр|англ|анг)\.?(?:\*\*|__)?"
                          r"(?:\s*[\])]\s*|\s*[:：|]\s*|\s+[-–—]\s+)(?:\*\*|__)?")
# A browser tab's "Headline | Reuters", "Headline - BBC News": the site's name after the headline.
_TAB_SUFFIX = re.compile(r"\s+(?P<sep>[|–—-]|::)\s+(?P<site>[^|–—]{2,40})$")
# What an unfilled template holds where a title belongs: "[English title]", "Заголовок українською",
# "Title of the article in English", "<Назва>", "ДД.ММ.РРРР".
_PLACEHOLDER_WORDS = frozenset(
    "title headline heading english ukrainian in of the article here text your enter insert name publication "
    "source date author authors summary link url original translation en ua uk eng ukr lorem ipsum tbd todo xxx "
    "заголовок назва статті статтi англійською українською мовою тут текст ваш ваша вставте введіть видання "
    "джерело дата автор автори резюме посилання укр англ англійський український англійська українська оригіналу "
    "переклад перекладу оригінал мова новини".split())
_PLACEHOLDER_PUNCT = ".,:;!?()[]<>{}«»\"'—–-*_/"
_PLACEHOLDER_MASK = re.compile(r"(?i)\b(?:дд|dd)[./-](?:мм|mm)[./-](?:рррр|рр|yyyy|yy)\b|lorem ipsum|^[.…_x\s-]*$")
# A URL as the last word of a paragraph: bare, in <…>, ‹…› or (…), and perhaps followed by a full stop.
_URL_WORD = re.compile(r"[<‹(\[«\"“]?((?:https?://|www\.)[^\s<>‹›\"«»“”]+"
                       r"|[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.[a-z]{2,}/[^\s<>‹›\"«»“”]*)[>›»\"”]?[.,;:!?…]*")
_URL_END = ".,;:!?…\"”'’»"
_FINAL_PUNCT = tuple('.!?…"”»')


@dataclass(frozen=True, slots=True)
class _Block:
    """A paragraph or a heading of the text after the header lines, hard-wrapped lines joined."""

    text: str
    heading: bool
    line: int  # the line it starts on
    end: int  # the line it ends on
    first: str  # the text of its first line


def _cp1251(data: bytes) -> str | None:
    """`data` decoded as cp1251 if it plausibly is Cyrillic cp1251 text and nothing else."""
    try:
        text = data.decode("cp1251")
    except UnicodeDecodeError:
        return None
    letters = len(_CP1251_LETTERS.findall(data))
    if letters < 5 or len(_UTF8_CYRILLIC.findall(data)) > max(2, letters // 20):
        return None  # UTF-8 Cyrillic mixed in: decoding either way would publish mojibake
    match = from_bytes(data, cp_isolation=["cp1251"]).best()
    if match is None or "Cyrillic" not in match.alphabets:
        return None
    return text


def _line_at(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _decode(data: bytes, max_bytes: int, notes: list[Note]) -> str:
    """The text of `data`; a stray NUL or control byte stays for _lines to strip, binary data is rejected."""
    if len(data) > max_bytes:
        raise Rejected(Reason(ReasonKind.TOO_LARGE, f"file is larger than the {max_bytes}-byte limit"))
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise Rejected(Reason(ReasonKind.ENCODING, "UTF-16 text; save the file as UTF-8", 1))
    for signature, kind in _SIGNATURES:
        if data.startswith(signature):
            raise Rejected(Reason(ReasonKind.BINARY, f"binary data: a {kind} file, not text", 1))
    repair.not_plain_text(data)
    controls = len(data) - len(data.translate(None, _CONTROL_BYTES))  # a C loop, not a regex
    if data and controls / len(data) > _CONTROL_RATIO:
        first = _CONTROL_BYTE.search(data)
        nuls = data.count(b"\x00")
        what = f"{controls} control characters ({nuls} of them NUL bytes)" if nuls else f"{controls} control characters"
        raise Rejected(Reason(ReasonKind.BINARY, f"binary data: {what} in {len(data)} bytes",
                              _line_at(data, first.start()) if first else None))
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        text = _cp1251(data)
        if text is None:
            raise Rejected(Reason(ReasonKind.ENCODING, f"invalid UTF-8 at byte {error.start} and not a plausible "
                                  "cp1251 Cyrillic file", _line_at(data, error.start))) from None
        notes.append(Note("decoded as cp1251, not UTF-8; please save the file as UTF-8"))
        return text


def _strip_characters(text: str, notes: list[Note]) -> str:
    """`text` without control, bidirectional and zero-width characters, each kind noted on its first line."""
    breaks = [m.start() for m in re.finditer("\n", text)]
    found = [(pattern, what, [m.start() for m in pattern.finditer(text)]) for pattern, what in _REMOVED]
    for pattern, what, offsets in found:
        if not offsets:
            continue
        lines = sorted({bisect.bisect_left(breaks, offset) + 1 for offset in offsets})
        shown = ", ".join(map(str, lines[:10])) + (", …" if len(lines) > 10 else "")
        where = f" (lines {shown})" if len(lines) > 1 else ""
        notes.append(Note(f"removed {len(offsets)} {what}{where}", lines[0]))
        text = pattern.sub("", text)
    return text


def _lines(text: str, notes: list[Note], suspect: bool = True) -> list[Line]:
    """The lines of `text`, stripped and numbered as written; `suspect`: it may hold mojibake."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = repair.word_controls(text, notes)
    if suspect:
        text = repair.mojibake(text, notes)
    rows = text.split("\n")
    if all(map(str.isprintable, rows)):
        # Every character _ODD, _ODD_BLANK or _LINE_SEPARATORS matches is unprintable (a test in
        # tests/unit/documents/ checks each code point): a printable text, as most are, is spared
        # their scans (~20 us each).
        if "  " in text:
            text = _BLANKS.sub(" ", text)
            rows = text.split("\n")
        lines = [(n, row.strip()) for n, row in enumerate(rows, 1)]
    else:
        if _ODD.search(text):
            text = _strip_characters(text, notes)
        if "  " in text or _ODD_BLANK.search(text):
            text = _BLANKS.sub(" ", text)  # odd spaces and runs of spaces, in one pass
        rows = text.split("\n")
        if "\u2028" in text or "\u2029" in text:
            lines = [(n, part.strip()) for n, row in enumerate(rows, 1) for part in _LINE_SEPARATORS.split(row)]
        else:
            lines = [(n, row.strip()) for n, row in enumerate(rows, 1)]
    if len(text) > MAX_LINE:  # no line is longer than the text
        for number, line in lines:
            if len(line) > MAX_LINE:
                raise Rejected(Reason(ReasonKind.LONG_LINE, f"line is {len(line)} characters long (limit {MAX_LINE})",
                                      number))
    if "```" in text or "~~~" in text:  # what every fence starts with
        lines = repair.fences(lines, notes)
    if not any(line for _, line in lines):
        raise Rejected(Reason(ReasonKind.EMPTY, "empty file (no text)"))
    return lines


def _url_of(word: str) -> str | None:
    """The URL that `word` is (bare, bracketed, or followed by punctuation), or None."""
    if "/" not in word and "www." not in word:  # every URL has one: most words are settled here
        return None
    match = _URL_WORD.fullmatch(word)
    if match is None:
        return None
    url = match[1].rstrip(_URL_END)
    while url[-1:] in (")", "]") and url.count("(" if url[-1] == ")" else "[") < url.count(url[-1]):
        url = url[:-1].rstrip(_URL_END)  # a closing bracket the URL did not open is the text's
    if not url.startswith(("https://", "http://")):
        url = "https://" + url  # written without its scheme ("reuters.com/world/..."): a site's address is https
    return url if len(url) > len("https://") + 3 else None


def _ends_paragraph(line: str) -> bool:
    """Whether `line` ends a paragraph in a text without blank lines: a sentence, a URL, a photo credit."""
    return (line.endswith(_FINAL_PUNCT) or _url_of(line.rsplit(" ", 1)[-1]) is not None
            or (line.endswith(")") and furniture(line) is not None))


def _script_changes(current: Sequence[Line], line: str) -> bool:
    before, after = script_of(" ".join(text for _, text in current[:3])), script_of(line)
    return bool(before and after and before != after)


def _heading_tail(lines: Sequence[Line], start: int) -> list[Line]:
    """The lines right after the heading at `start`, up to a blank line or another heading, if they are
    the rest of a heading hard-wrapped over several lines; else []."""
    heading = _HEADING.sub("", lines[start][1])
    size, script = len(heading), script_of(heading)
    tail: list[Line] = []
    for index in range(start + 1, len(lines)):  # not a slice: a file of headings would copy n² lines
        number, line = lines[index]
        if not line or _HEADING.match(line):
            break
        size += 1 + len(line)
        if size > MAX_TITLE or furniture(line, line=True) or script_of(line) not in (None, script):
            return []  # too long for a title, or not of its kind: a paragraph
        tail.append((number, line))
    if tail and (tail[-1][1].endswith(".") or _url_of(tail[-1][1].rsplit(" ", 1)[-1])):
        return []  # it ends a sentence or with a URL: a paragraph right after the heading
    return tail


def _blocks(lines: Sequence[Line]) -> list[_Block]:
    """Paragraphs and headings: blank lines separate paragraphs; without any blank
    lines, a change of script or a line ending a sentence does. With blank lines, a heading
    continues on the lines right after it that read as the rest of it."""
    filled = [i for i, (_, line) in enumerate(lines) if line]
    spaced = bool(filled) and any(not lines[i][1] for i in range(filled[0], filled[-1]))
    blocks: list[_Block] = []
    current: list[Line] = []

    def flush(heading: bool = False) -> None:
        if current:
            blocks.append(_Block(" ".join(text for _, text in current), heading, current[0][0], current[-1][0],
                                 current[0][1]))
            current.clear()

    index = 0
    while index < len(lines):
        number, line = lines[index]
        if not line:
            flush()
        elif _HEADING.match(line):
            flush()
            current.append((number, line))
            if spaced:
                tail = _heading_tail(lines, index)
                current.extend(tail)
                index += len(tail)
            flush(heading=True)
        elif furniture(line, line=True):
            flush()
            blocks.append(_Block(line, False, number, number, line))
        else:
            if current and _script_changes(current, line):
                flush()
            current.append((number, line))
            if not spaced and _ends_paragraph(line):
                flush()
        index += 1
    flush()
    return blocks


# --- dates -------------------------------------------------------------------------------------

# Month names as source lines write them, by language: each entry is one month's spellings.
_MONTH_NAMES: dict[str, tuple[str, ...]] = {
    "en": ("january jan", "february feb", "march mar", "april apr", "may", "june jun", "july jul", "august aug",
           "september sept sep", "october oct", "november nov", "december dec"),
    # Nominative and genitive ("11 листопада 2022"), and the usual abbreviations.
    "uk": ("січень січня січ", "лютий лютого лют", "березень березня бер", "квітень квітня квіт",
           "травень травня трав", "червень червня черв", "липень липня лип", "серпень серпня серп",
           "вересень вересня вер", "жовтень жовтня жовт", "листопад листопада лист", "грудень грудня груд"),
    "fr": ("janvier janv", "février fevrier févr fevr", "mars", "avril avr", "mai", "juin", "juillet juil",
           "août aout", "septembre sept", "octobre oct", "novembre nov", "décembre decembre déc dec"),
    "de": ("januar jänner jan", "februar feb", "märz maerz mär", "april apr", "mai", "juni jun", "juli jul",
           "august aug", "september sept sep", "oktober okt", "november nov", "dezember dez"),
}
# Weekday names that may precede a date ("Sat 8 Oct 2022"); a wrong one makes the date uncertain.
_WEEKDAY_NAMES: dict[str, tuple[str, ...]] = {
    "en": ("monday mon", "tuesday tue tues", "wednesday wed", "thursday thu thur thurs", "friday fri",
           "saturday sat", "sunday sun"),
    "uk": ("понеділок", "вівторок", "середа", "четвер", "п'ятниця п’ятниця пʼятниця", "субота", "неділя"),
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
    "de": ("montag", "dienstag", "mittwoch", "donnerstag", "freitag", "samstag sonnabend", "sonntag"),
}


def _numbered(names: dict[str, tuple[str, ...]]) -> dict[str, int]:
    """Each spelling -> its 1-based number (month, or ISO weekday); a spelling in two places is a bug."""
    table: dict[str, int] = {}
    for entries in names.values():
        for number, spellings in enumerate(entries, 1):
            for spelling in spellings.split():
                if table.setdefault(spelling, number) != number:
                    raise ValueError(f"{spelling!r} names two different days or months")
    return table


_MONTHS = _numbered(_MONTH_NAMES)
_WEEKDAYS = _numbered(_WEEKDAY_NAMES)


def _alternatives(names: dict[str, int]) -> str:
    return "|".join(sorted(map(re.escape, names), key=len, reverse=True))


_WEEKDAY = rf"(?:(?P<weekday>{_alternatives(_WEEKDAYS)})\.?,?\s+)?"
# The forms of a date, each a rule of its own (tests/unit/documents/test_parse_dates.py has cases for each).
# Searched for anywhere in the source line; the leftmost match is the article's date.
_DATE_FORMS: tuple[tuple[str, re.Pattern[str]], ...] = (
    # Year first, always year-month-day whatever the separator: 2024-11-06, 2024.08.07, 2024/03/02.
    ("ymd", re.compile(r"(?<![\d.])(?P<y>\d{4})(?P<sep>[-./])(?P<m>\d{1,2})(?P=sep)(?P<d>\d{1,2})(?!\d)")),
    # A page's stamp may run the year into the time ("02.03.202410:15", "March 2, 20249:41 AM"): a year
    # followed by digits is one only where a time follows.
    # Year last, in numbers: 13.09.2023, 13.9.2023, 24.10.22 (dots: day first, as in Ukraine and most of
    # Europe); 20/10/2022, 10-20-2022 (slashes, dashes: only where one part > 12 settles the order).
    ("dmy", re.compile(r"(?<![\d.])(?P<a>\d{1,2})(?P<sep>[-./])(?P<b>\d{1,2})(?P=sep)(?P<y>\d{4}|\d{2})"
                       r"(?:(?!\d)|(?<=\d{4})(?=\d{1,2}:\d{2}))")),
    # Day, month name, year: 2 March 2024, Sat 8 Oct 2022, 2. März 2024, 1er mars 2024, 11 листопада 2022.
    ("d-month-y", re.compile(rf"(?i){_WEEKDAY}(?<![\d.])(?P<d>\d{{1,2}})(?:st|nd|rd|th|er|\.)?(?:\s+|-)(?:of\s+)?"
                             rf"(?P<month>{_alternatives(_MONTHS)})\.?,?(?:\s+|-)(?P<y>\d{{4}})(?:(?!\d)|(?=\d{{1,2}}:\d{{2}}))")),
    # Month name, day, year: Sept. 13, 2023, March 2 2024, Saturday, March 2, 2024.
    ("month-d-y", re.compile(rf"(?i){_WEEKDAY}\b(?P<month>{_alternatives(_MONTHS)})\.?(?:\s+|-)(?P<d>\d{{1,2}})"
                             r"(?:st|nd|rd|th)?,?\s+(?P<y>\d{4})(?:(?!\d)|(?=\d{1,2}:\d{2}))")),
)
# Every match of the two forms with a month's name holds one of these (the shortest spellings: "sep" is in
# "sept" and "september"): a line with none, as most source lines are, is spared their ~20 us searches.
_MONTH_STEMS = tuple(sorted(name for name in _MONTHS if not any(other != name and other in name for other in _MONTHS)))
_NAMED_FORMS = frozenset(("d-month-y", "month-d-y"))
# What may follow a date and belongs to it: "р."/"року" after the year, a time (T10:36:00Z,
# 17.40 BST, 10:36 a.m. UTC+2), then a note in brackets ("(оновлено 01.05.2025)").
_DATE_TAIL = re.compile(
    r"(?:\s*(?:р\.|року))?"
    r"(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"
    r"|,?\s*(?:at\s+|о\s+|à\s+|um\s+)?\d{1,2}[:.h]\d{2}(?:[:.]\d{2})?(?!\d|\.\d)(?:\s*[aApP]\.?[mM]\.?)?"
    r"(?:\s+(?:[A-Z]{2,5}|UTC|GMT)(?:[+-]\d{1,2}(?::?\d{2})?)?(?![\w]))?)?"
    r"(?:\s*[(\[][^()\[\]]{0,100}[)\]])?"
)


_NO_DIGIT = re.compile(r"\D*")


@dataclass(frozen=True, slots=True)
class _DateMatch:
    """A date written in a line: where (`start`..`end`, its time and note included), and what it is."""

    start: int
    end: int
    written: str
    date: dt.date | None
    problem: str  # why `date` is None ("" when it is not)


def _month_name(month: int) -> str:
    return _MONTH_NAMES["en"][month - 1].split()[0].title()  # English whatever the locale


def _interpret(form: str, match: re.Match[str]) -> tuple[dt.date | None, str]:
    """The date `match` (of the rule `form`) writes, or None and why it is uncertain or impossible."""
    year = int(match["y"])
    if len(match["y"]) == 2:
        if match["sep"] == "-":
            return None, "a two-digit year with dashes could be read several ways"
        year += 2000 if year < 70 else 1900
    if form == "ymd":
        month, day = int(match["m"]), int(match["d"])
    elif form == "dmy":
        a, b = int(match["a"]), int(match["b"])
        if a <= 12 < b:  # 10/24/2023: only month first makes a date
            month, day = a, b
        elif match["sep"] == "." or a > 12 or a == b:  # dots are day first; so is 20/10/2022, settled
            month, day = b, a
        else:
            return None, f"ambiguous: {a} {_month_name(b)} or {b} {_month_name(a)} {year}?"
    else:
        month, day = _MONTHS[match["month"].lower()], int(match["d"])
    if not 1900 <= year <= 2100:
        return None, "year out of range"
    try:
        found = dt.date(year, month, day)
    except ValueError:
        return None, "no such date"
    weekday = match["weekday"] if "weekday" in match.re.groupindex else None
    if weekday and _WEEKDAYS[weekday.lower()] != found.isoweekday():
        actual = _WEEKDAY_NAMES["en"][found.weekday()].split()[0].title()
        return None, f"{found.day} {_month_name(found.month)} {found.year} was a {actual}, not {weekday}"
    return found, ""


# A header line is asked for its date by several readings (a date alone? a source line?): one search.
@functools.lru_cache(maxsize=256)
def _find_date(text: str) -> _DateMatch | None:
    """The first date written in `text` (certain, or not and why), or None if nothing there looks like one."""
    if _NO_DIGIT.fullmatch(text):  # every form has a number: a line of names is settled at once
        return None
    best: tuple[str, re.Match[str]] | None = None
    named = may_contain(text, _MONTH_STEMS)
    for form, pattern in _DATE_FORMS:
        if not named and form in _NAMED_FORMS:
            continue
        match = pattern.search(text)
        if match and (best is None or (match.start(), -match.end()) < (best[1].start(), -best[1].end())):
            best = form, match
    if best is None:
        return None
    form, match = best
    tail = _DATE_TAIL.match(text, match.end())
    date, problem = _interpret(form, match)
    return _DateMatch(match.start(), tail.end() if tail else match.end(), match[0], date, problem)


# --- the header: source line and authors -------------------------------------------------------

# Only to name the publication when the line has no date at all ("Time.- soon").
_SOURCE_SEPARATORS = (
    re.compile(r"^(.*?)\s*\.\s*[-–—]\s*(.*)$"),  # Time.- 13.09.2023, AP.— 22.06.2023
    re.compile(r"^(.*?)\s+[-–—|]\s+(.*)$"),  # BBC News - 2023-05-01, Politico Europe — 2024/03/02
    re.compile(r"^(.*?)\s*(?:\||:\s)\s*(.*)$"),  # Reuters | 2 March 2024, BBC News: 20/10/2022
    re.compile(r"^(.*?)\s*,\s*(.*)$"),  # The Guardian, 1 May 2023
)
_SEPARATOR_CHARS = " \t.,;:|/-–—·•"
_AUTHOR_SPLIT = re.compile(r"\s*(?:[,;&|/•·]\s*(?:(?:and|та|і)\s+)?|\s+(?:and|та|і|for)\s+)\s*", re.IGNORECASE)
# A byline's opening: "By", "Analysis by", "Opinion by", "Authors:", "Автор:". A role is not a name.
_BY = re.compile(r"(?i)^(?:(?:analysis|opinion|commentary|comment|review|interview|essay|column|feature|story"
                 r"|reporting|report|words|text|written|edited|produced|compiled|photographs?|photos?|video)\s+)?"
                 r"by\s*:?\s+|^(?:authors?|автор(?:и|ка|ки)?|written by|byline)\s*:?\s+")
# A header line that says what it is: "Видання: Reuters", "Дата: 02.03.2024", "Source: BBC", "By: Jane Doe".
_LABEL = re.compile(
    r"(?i)^(?P<label>видання|джерело|першоджерело|медіа|змі|газета|журнал|source|publication|outlet|publisher"
    r"|newspaper|media|дата(?:\s+(?:публікації|виходу|статті))?|date(?:\s+published)?|published(?:\s+on)?"
    r"|опубліковано|автор(?:и|ка|ки)?|authors?|by|written by|byline|посилання|лінк|link|url|оригінал|original)"
    r"\s*[:：]\s*(?P<value>.*)$")
_LABEL_FIELDS = {"source": "видання джерело першоджерело медіа змі газета журнал source publication outlet publisher "
                           "newspaper media",
                 "date": "дата date published опубліковано",
                 "authors": "автор автори авторка автори authors author by written byline",
                 "link": "посилання лінк link url оригінал original"}
_LABEL_FIELD = {word: name for name, words in _LABEL_FIELDS.items() for word in words.split()}
# An editor's or a site's note of a later change: its date is not the article's.
_UPDATE = re.compile(r"(?i)^\W*(?:last\s+)?(?:оновлено|оновлення|upd\b|updated|modified|редаговано|змінено"
                     r"|виправлено|corrected|edited)")
_UPDATE_TAIL = re.compile(r"(?i)(?<![a-zа-яіїєґ(\[])(?:last\s+)?(?:updated|modified|upd\b|оновлено|оновлення)(?!\w).*$")
_PUBLISHED = re.compile(r"(?i)(?<![a-zа-яіїєґ])(?:first\s+)?(?:published|posted|опубліковано|оприлюднено)(?:\s+on)?"
                        r"(?![a-zа-яіїєґ])\s*:?")
# One of these is in every match of the pattern above them (the search costs several times the check).
_UPDATE_WORDS = ("upd", "modified", "онов")
_PUBLISHED_WORDS = ("published", "posted", "опубліковано", "оприлюднено")
# "2 hours ago", "5 min read": a page's stamp that dates nothing.
_RELATIVE = re.compile(r"(?i)\b\d+\s*(?:min(?:ute)?s?|hours?|hrs?|h|days?|weeks?|годин\w*|хвилин\w*|дн\w*)\s+"
                       r"(?:ago|read|тому)\b|\bmin read\b")
# "Jacopo Barigazzi in Brussels", "Олена Гармаш у Києві": where the author wrote from, not a name.
_LOCATION = re.compile(r"\s+(?:in|from|у|в)\s+[A-ZА-ЯІЇЄҐ].*$")
_NAME_SUFFIX = re.compile(r"(?:Jr|Sr)\.?|II|III|IV")
_STAFF = re.compile(r"(?i)(?:\S+\s+){0,3}(?:staff|agencies|news desk|newsroom)")
_PUBLICATIONS = frozenset(ALIASES.values())
# Words that name a publication or a role, never a person: "Kyiv Post", "Senior Correspondent".
_OUTLET_WORDS = re.compile(
    r"(?i)\b(?:news|times|post|journal|magazine|press|review|daily|herald|tribune|independent|insider|monitor"
    r"|weekly|economist|agency|radio|tv|media|online|gazette|telegraph|observer|guardian|standard|express|mail"
    r"|mirror|chronicle|bloomberg|reuters|politico|axios|atlantic|zeitung|spiegel|monde|figaro|pravda|правда"
    r"|новини|тиждень|медіа|радіо|газета|correspondent|reporter|editor|writer|contributor|columnist|analyst"
    r"|staff|desk|bureau|chief|senior|fellow|professor|director|producer|кореспондент\w*|редактор\w*|оглядач\w*)\b"
    r"|\.[a-z]{2,4}$|^the\s")
_NAME_WORD = re.compile(r"^(?:[A-ZА-ЯІЇЄҐ][\w'’ʼ.-]*|(?:[A-Z]\.)+|van|von|der|den|de|da|di|du|la|le|al|bin|ibn|el"
                        r"|al-\w+|d['’]\w+)$")


def _parse_source(line: str, number: int, notes: list[Note], later: list[Note]) -> tuple[str | None, dt.date | None]:
    """Publication and date from a line such as `Time.- 13.09.2023`, `13.07.2024 - Reuters` or
    `Reuters | 2 March 2024`: the date is found wherever it is, and the rest names the publication.
    A missing date is noted in `later`: another header line may still give it."""
    if may_contain(line, _UPDATE_WORDS) and (tail := _UPDATE_TAIL.search(line)) and tail.start() > 0:
        notes.append(Note(f"update stamp left out of the source line: {tail[0][:60]!r}", number, info=True,
                          kind=NoteKind.HEADER))
        line = line[:tail.start()]
    if may_contain(line, _PUBLISHED_WORDS) and _PUBLISHED.search(line):
        line = _PUBLISHED.sub(" ", line).lstrip(_SEPARATOR_CHARS).rstrip()
    found = _find_date(line)
    if found is None:
        for separator in _SOURCE_SEPARATORS:
            if (match := separator.match(line)) and match[1].strip():
                later.append(Note(f"unparseable date {match[2].strip()[:60]!r}", number, kind=NoteKind.DATE))
                return match[1].strip(), None
        later.append(Note("no date in the source line", number, kind=NoteKind.DATE))
        return line.rstrip(".") or None, None
    if found.date is None:
        kind = "ambiguous" if found.problem.startswith("ambiguous") else "unparseable"
        problem = found.problem.removeprefix("ambiguous: ")
        notes.append(Note(f"{kind} date {found.written[:60]!r} left out: {problem}", number, kind=NoteKind.DATE))
    before = line[:found.start].strip(_SEPARATOR_CHARS)
    after = line[found.end:].strip(_SEPARATOR_CHARS)
    if before and after and not _RELATIVE.fullmatch(after):
        notes.append(Note(f"ignored text after the date: {after[:60]!r}", number))
    if not (before or after):
        notes.append(Note("no publication name in the source line", number))
    return before or after or None, found.date


def _is_publication(name: str, source: str | None) -> bool:
    """Whether an author's place holds a publication or an agency ("BBC News", "Guardian staff")."""
    known = canonical(name)
    return known in _PUBLICATIONS or bool(source and known == canonical(source)) or bool(_STAFF.fullmatch(name))


def _outlet(name: str) -> bool:
    """Whether `name` reads as a publication, a site or a role rather than a person."""
    return name in _PUBLICATIONS or canonical(name) in _PUBLICATIONS or bool(_OUTLET_WORDS.search(name))


def _names_like(line: str) -> bool:
    """Whether `line` reads as a list of people's names ("Jane Doe and John Roe", "Олена Гармаш")."""
    parts = [p for p in _AUTHOR_SPLIT.split(_LOCATION.sub("", _BY.sub("", line))) if p]
    if not parts or len(line) > 200:
        return False
    named = 0
    for part in parts:
        words = _LOCATION.sub("", part).split()
        if _NAME_SUFFIX.fullmatch(part) or _is_publication(part, None) or _outlet(part):
            continue
        if not 1 <= len(words) <= 5 or not all(_NAME_WORD.match(w) for w in words) or any(c.isdigit() for c in part):
            return False
        named += len(words) >= 2
    return named > 0


def _parse_authors(line: str, source: str | None) -> tuple[str, ...]:
    """The authors' names: split on , ; & | and і та; roles, locations and publications left out."""
    authors: list[str] = []
    located = False
    line = repair.emphasis(line)
    for index, part in enumerate(_AUTHOR_SPLIT.split(_BY.sub("", line.strip()))):
        part = part.strip(" .*_") if not part.endswith((" Jr.", " Sr.")) else part.strip(" *_")
        if not part or (located and " " not in part):  # "Jim Heintz in Tallinn, Estonia": the country
            continue
        if authors and _NAME_SUFFIX.fullmatch(part):  # "Martin Luther King, Jr."
            authors[-1] += f" {part.rstrip('.')}."
            continue
        name = _LOCATION.sub("", part)
        located = name != part
        # "Jane Doe, CNN", "Jane Doe, Senior Correspondent": the outlet or the role after a name; a
        # single word after a comma is one too ("Jane Doe, Bloomberg"), as people have two names.
        if _is_publication(name, source) or (index and (_outlet(name) or " " not in name)):
            continue
        authors.append(name)
    return tuple(authors)


@dataclass(frozen=True, slots=True)
class _Header:
    source: str | None
    date: dt.date | None
    authors: tuple[str, ...]
    link: tuple[str, int] | None = None  # a source URL written in the header, and its line


def _date_line(line: str, number: int, notes: list[Note]) -> tuple[bool, dt.date | None]:
    """Whether `line` is a date alone (a weekday, a time, "Published" around it), and that date."""
    if may_contain(line, _UPDATE_WORDS):
        line = _UPDATE_TAIL.sub("", line)
    if may_contain(line, _PUBLISHED_WORDS):
        line = _PUBLISHED.sub(" ", line)
    line = line.lstrip(_SEPARATOR_CHARS).rstrip()
    found = _find_date(line)
    if found is None or (line[:found.start] + line[found.end:]).strip(_SEPARATOR_CHARS + "·"):
        return False, None
    if found.date is None:
        kind = "ambiguous" if found.problem.startswith("ambiguous") else "unparseable"
        notes.append(Note(f"{kind} date {found.written[:60]!r} left out: {found.problem.removeprefix('ambiguous: ')}",
                          number, kind=NoteKind.DATE))
    return True, found.date


def _header(lines: Sequence[Line], first_line: int, notes: list[Note]) -> _Header:
    """Source, date, authors and perhaps the link from the (non-blank) lines before the first heading.

    Each line is read for what it is: a labelled field, an editor's update note, a byline, a date alone,
    a source line with a date, a publication, a list of names. Position decides only what nothing else
    does: an unlabelled line first is the source, the one after it the authors."""
    source: str | None = None
    date: dt.date | None = None
    dated = False  # a date was read (or found uncertain) from some line
    authors: tuple[str, ...] = ()
    link: tuple[str, int] | None = None
    source_line = date_line = None
    later: list[Note] = []  # notes about a missing date, kept only if no line gives one

    def ignore(number: int, line: str) -> None:
        notes.append(Note(f"ignored line before the title: {line[:60]!r}", number, kind=NoteKind.HEADER))

    for number, raw in lines:
        line = repair.emphasis(raw).strip(" *_>")
        if not line:
            continue
        if (url := _url_of(line.rsplit(None, 1)[-1])) is not None and len(line.split()) <= 3:
            link = link or (url, number)
            continue
        if label := _LABEL.match(line):
            field = _LABEL_FIELD.get(label["label"].lower().split()[0], "source")
            value = label["value"].strip()
            if field == "source" and source is None:
                source, found = _parse_source(value, number, notes, later)
                source_line = number
                if found and not dated:
                    date, dated = found, True
            elif field == "date" and not dated:
                dated, date = _date_line(value, number, notes)
                if not dated:
                    notes.append(Note(f"unparseable date {value[:60]!r}", number, kind=NoteKind.DATE))
                    dated = True
            elif field == "authors" and not authors:
                authors = _parse_authors(value, source)
            elif field == "link" and (url := _url_of(value.rsplit(None, 1)[-1] if value else "")):
                link = link or (url, number)
            else:
                ignore(number, line)
            continue
        if _UPDATE.match(line):
            notes.append(Note(f"update note left out (its date is not the article's): {line[:60]!r}", number,
                              info=True, kind=NoteKind.HEADER))
            continue
        if _BY.match(line):
            if authors:
                ignore(number, line)
            else:
                authors = _parse_authors(line, source)
            continue
        is_date, found = _date_line(line, number, notes)
        if is_date:
            if dated:
                ignore(number, line)
            else:
                date, dated, date_line = found, True, number
            continue
        has_date = _find_date(line) is not None
        if not has_date and len(line) < 60 and _RELATIVE.search(line):
            notes.append(Note(f"page time stamp left out: {line[:60]!r}", number, info=True, kind=NoteKind.HEADER))
            continue
        if source is None and (has_date or _outlet(line) or not (authors or _names_like(line))):
            before = len(notes)
            source, found = _parse_source(line, number, notes, later)
            source_line = number
            if found and not dated:
                date, dated = found, True
            elif found or any(n.kind is NoteKind.DATE for n in notes[before:]):
                dated = True
        elif not authors and not has_date:
            authors = _parse_authors(line, source)
        else:
            ignore(number, line)
    if source is None and date_line is not None:
        notes.append(Note("no publication name in the source line", date_line, kind=NoteKind.HEADER))
    elif source is None:
        notes.append(Note("no source line", lines[0][0] if lines else first_line, kind=NoteKind.HEADER))
    elif not dated:
        notes.extend(note for note in later if note.line == source_line)
    return _Header(source, date, authors, link)


# --- titles and the text -----------------------------------------------------------------------

def _split_trailing_urls(text: str) -> tuple[str, list[str]]:
    """`text` without the URLs it ends with, and those URLs in order. A full stop written after the
    URL ("... as reported (https://x.org/a).") goes back on the sentence that lacks one."""
    urls: list[str] = []
    stop = ""
    if text.endswith((")", "]", ").")) and (mark := _LANGUAGE_MARK.search(text)):
        text = text[:mark.start()]  # "https://… (англ.)": the article's language, not the text's
    while (parts := text.rsplit(None, 1)) and (url := _url_of(parts[-1])) is not None:
        stop = stop or parts[-1][len(parts[-1].rstrip(".!?…")):]
        urls.insert(0, url)
        text = parts[0] if len(parts) == 2 else ""
    text = text.strip()
    if urls and _pointer_end(text) and (pointer := _POINTER.search(text, max(0, len(text) - 60))):
        text = text[:pointer.start()].strip()  # "👉 https://…", "Джерело: https://…"
    if urls and stop and text and not text.endswith(_FINAL_PUNCT):
        text += stop
    return text, urls


def _cut_title(text: str) -> str:
    """`text` cut at a word boundary to at most MAX_TITLE characters, an ellipsis included."""
    cut = text[:MAX_TITLE]
    space = cut.rfind(" ")
    cut = cut[:space] if space > MAX_TITLE // 2 else cut[:MAX_TITLE - 1]
    return cut.rstrip(" ,;:-–—") + "…"


def _placeholder(text: str) -> bool:
    """Whether a title is a template's placeholder, not a headline."""
    if text[:1] in "[<{" and text[-1:] in "]>}":
        return True
    low = text.lower()
    if ("дд" in low or "dd" in low or "lorem" in low or not any(c.isalpha() for c in low)) \
            and _PLACEHOLDER_MASK.search(text):
        return True
    words = low.split()
    # Two words at least: a test's "## Title" is a title; "English title", "Заголовок українською" are not.
    # Stripped one at a time: a headline's first word settles it.
    return len(words) >= 2 and all(not (bare := word.strip(_PLACEHOLDER_PUNCT)) or bare in _PLACEHOLDER_WORDS
                                   for word in words)


def _clean_title(text: str, source: str | None, line: int, notes: list[Note]) -> str:
    """A heading's text without Markdown emphasis, a language label and a browser tab's site name."""
    text = repair.emphasis(text).strip(" *_")
    if label := _TITLE_LABEL.match(text):
        text = text[label.end():].strip(" *_")
    if (tab := _TAB_SUFFIX.search(text)) and tab.start() > 10:
        site = tab["site"].strip()
        words = site.split()
        if (_outlet(site) or (source and canonical(site) == canonical(source))
                or (tab["sep"] == "|" and len(words) <= 4 and all(w[:1].isupper() for w in words))):
            notes.append(Note(f"site name {site!r} removed from the title", line, info=True, kind=NoteKind.MARKUP))
            text = text[:tab.start()].rstrip()
    return text


def _title(block: _Block, found: dict[str, str], notes: list[Note], *, later: bool,
           source: str | None = None) -> str | None:
    """Take `block` (a heading) as the title of its language if that has none yet, else note why not.
    Returns the label of a title dropped for its language ("Russian"), for a rejection to name."""
    text = _clean_title(_HEADING.sub("", block.text).rstrip("#").strip(), source, block.line, notes)
    if text and _placeholder(text):
        notes.append(Note(f"placeholder title dropped (the template's, not filled in): {text[:60]!r}", block.line,
                          kind=NoteKind.TITLE))
        return "placeholder"
    lang = detect(text, script=title_script(text)) if text else None
    if lang not in ("en", "uk"):
        label = {"ru": "Russian", "other": "non-English Latin-script", None: "empty"}[lang]
        notes.append(Note(f"{label} title dropped: {text[:60]!r}", block.line))
        return label
    if lang in found:
        what = "heading in the text left out" if later else f"second {lang} title ignored"
        notes.append(Note(f"{what}: {text[:60]!r}", block.line))
        return None
    if len(text) > MAX_TITLE:
        cut = _cut_title(text)
        notes.append(Note(f"title cut to {len(cut)} of its {len(text)} characters", block.line))
        text = cut
    if later:
        notes.append(Note(f"{lang} title found after the text", block.line))
    found[lang] = text
    return None


def _looks_like_source(line: str) -> bool:
    """Whether `line` reads as a source line (`Reuters.- 02.03.2024`), not a time stamp or a sentence."""
    if len(line) > 100 or _HEADING.match(line) or furniture(line) or (found := _find_date(line)) is None:
        return False  # "Updated 2 March 2024" is a time stamp, not a source line
    before = line[:found.start].strip(_SEPARATOR_CHARS)
    after = line[found.end:].strip(_SEPARATOR_CHARS)
    publication = before if before else after
    if before and after:
        return False
    words = publication.split()
    return not words or (len(words) <= 6 and not words[-1][:1].islower())


def _one_document(lines: Sequence[Line]) -> None:
    """Reject a file holding a second digest: after the text, a source line, perhaps an authors line,
    then a heading; with or without blank lines between them and the text before."""
    text = False  # a line of text (not a heading) has been read
    for index, (_, line) in enumerate(lines):
        if not line:
            continue
        if not _HEADING.match(line):
            text = True
            continue
        if not text:  # a heading before any text (the titles) starts no second document
            continue
        before = [item for item in lines[max(0, index - 4):index] if item[1]][-2:]
        if len(before) == 2 and (len(before[1][1]) > 100 or before[1][1].endswith(".")):
            before = before[1:]  # not an authors line between the source line and the title
        for position, (number, candidate) in enumerate(before):
            earlier = [item for item in lines[:index - len(before) + position] if item[1]]
            if earlier and not _HEADING.match(earlier[-1][1]) and _looks_like_source(candidate):
                raise Rejected(Reason(ReasonKind.TWO_DOCUMENTS, "a second document starts here (a source line and "
                                      "a title after the text); put each digest in a file of its own", number))


# A sentence's end inside a paragraph, to cut an unfinished one off.
_LAST_STOP = re.compile(r"[.!?…][\"”’»)]*(?=\s)")
_POINTER = re.compile(r"(?i)(?:\s*(?:👉|👇|🔗|➡️?|→|⟶|>>|»)\s*|\s*(?<!\w)(?:джерело|посилання|оригінал|першоджерело"
                      r"|читати(?: більше| повністю)?|детальніше|source|link)\s*:?\s*)+$")
_LANGUAGE_MARK = re.compile(r"(?i)\s*[(\[](?:англ\.?|англійською(?: мовою)?|eng?\.?|in english|мовою оригіналу"
                            r"|оригінал)[)\]]\.?$")
_POINTER_MARKS = ("👉", "👇", "🔗", "➡", "➡\ufe0f", "→", "⟶", ">>", "»")
_POINTER_WORDS = ("джерело", "посилання", "оригінал", "читати", "більше", "повністю", "детальніше", "source", "link")


def _pointer_end(text: str) -> bool:
    """False only when `text` (stripped) cannot end with _POINTER: a search of its last 60 characters
    tries every alternative at each of them, and most summaries end on a sentence."""
    if text.endswith(_POINTER_MARKS):
        return True
    core = text[:-1].rstrip() if text.endswith(":") else text
    low = lowered(core[-12:])
    return low is None or low.endswith(_POINTER_WORDS)


# An embedded post's attribution: "— Володимир Зеленський (@ZelenskyyUa) 2 березня 2024".
_ATTRIBUTION = re.compile(r"^[—–-]\s*[^\W\d_][^.!?]{1,60}?(?:\(@\w+\))?[^.!?]{0,40}$")


_UNFINISHED_NOT = (*_FINAL_PUNCT, ")", "]", ":", "’", "'")


def _unfinished(block: _Block) -> bool:
    """Whether the file's last paragraph stops mid-sentence: a file cut off (no full stop, no URL, and
    prose of some length, not a credit or a heading)."""
    text = block.text
    # split(None, 5): six words at most are counted, not the whole last paragraph's.
    if block.heading or text.endswith(_UNFINISHED_NOT) or len(text.split(None, 5)) < 6:
        return False
    if _url_of(text.rsplit(None, 1)[-1]) is not None or is_credit(text) or furniture(text):
        return False
    return text[-1:].isalpha() or text[-1:] in ",;-–—"


def _cut_unfinished(block: _Block, notes: list[Note]) -> _Block | None:
    """`block` without its unfinished last sentence (None if it has no whole one), with a warning."""
    stops = list(_LAST_STOP.finditer(block.text))
    kept = block.text[:stops[-1].end()] if stops else ""
    notes.append(Note(f"the file ends mid-sentence (cut off?): {block.text[len(kept):].strip()[-60:]!r} left out",
                      block.end, kind=NoteKind.TRUNCATED))
    return _Block(kept, False, block.line, block.end, block.first) if kept else None


def _byline(text: str) -> bool:
    """Whether a paragraph is a byline: "By Jane Doe", "Analysis by Jane Doe, CNN", "Jane Doe and Bo Kim"."""
    return len(text) < 200 and not text.endswith((".", "!", "?")) and bool(_BY.match(text) or _names_like(text))


def _parse(data: bytes, relpath: str, max_bytes: int) -> Document:
    notes: list[Note] = []
    text = _decode(data, max_bytes, notes)
    lines = _lines(text, notes, repair.suspect(data))
    first_heading = next((i for i, (_, line) in enumerate(lines) if _HEADING.match(line)), None)
    if first_heading is None:
        raise Rejected(Reason(ReasonKind.NO_TITLE,
                              "no title: expected a '## ' heading line with the English or Ukrainian title"))
    first_line = next(number for number, line in lines if line)
    header_lines = [line for line in lines[:first_heading] if line[1]]
    header = _header(header_lines, first_line, notes)
    source, date, authors = header.source, header.date, header.authors
    _one_document(lines[first_heading:])
    blocks = _blocks(lines[first_heading:])
    if not header_lines and len(blocks) == 1:
        raise Rejected(Reason(ReasonKind.NO_TEXT, "only a title line: no source line, no summary and no article",
                              blocks[0].line))

    # The titles, and what editors put between them: a byline is the authors, a date line the date.
    count = 0
    while count < len(blocks):
        block = blocks[count]
        if not block.heading:
            if not any(b.heading for b in blocks[count + 1:count + 3]) or not _byline(block.text):
                break
            if not authors:
                authors = _parse_authors(block.text, source)
                notes.append(Note(f"byline between the titles read as the authors: {block.text[:60]!r}", block.line,
                                  info=True, kind=NoteKind.AUTHORS))
            else:
                notes.append(Note(f"ignored line between the titles: {block.text[:60]!r}", block.line,
                                  kind=NoteKind.HEADER))
        count += 1
    title_blocks = [block for block in blocks[:count] if block.heading]
    last = blocks[-1]
    if len(blocks) > count and _unfinished(last):
        cut = _cut_unfinished(last, notes)
        blocks = blocks[:-1] + ([cut] if cut else [])

    found: dict[str, str] = {}
    dropped = [label for block in title_blocks if (label := _title(block, found, notes, later=False, source=source))]
    uk: list[_Block] = []
    latin: list[_Block] = []
    urls: list[tuple[int, str, int]] = []  # (order, URL, line): the summary's own URL has order -1
    if header.link:
        urls.append((len(blocks), *header.link))  # a URL in the header is the link if the text has none
    for index, block in enumerate(blocks[count:]):
        if block.heading:  # never text: a missing title, or left out
            if label := _title(block, found, notes, later=True, source=source):
                dropped.append(label)
            continue
        if "*" in block.text or "__" in block.text:
            block = _Block(repair.emphasis(block.text), False, block.line, block.end, block.first)
        rest, trailing = _split_trailing_urls(block.text)
        if not rest:
            urls += [(index, url, block.line) for url in trailing]
            continue
        kind = script_of(block.text)
        if kind == "cyrillic":
            if name := furniture(block.text):
                notes.append(Note(f"{name} left out of the summary: {block.text[:60]!r}", block.line, info=True,
                                  kind=NoteKind.FURNITURE))
            elif _ATTRIBUTION.match(block.text) and latin:
                notes.append(Note(f"social-media post's attribution left out: {block.text[:60]!r}", block.line,
                                  info=True, kind=NoteKind.FURNITURE))
            elif detect(block.text, script=kind) == "uk":
                uk.append(block)
            else:  # its source URL is still the article's
                urls += [(index, url, block.line) for url in trailing]
                notes.append(Note(f"Russian paragraph dropped: {block.text[:60]!r}", block.line,
                                  kind=NoteKind.LANGUAGE))
        elif kind == "latin":
            if name := furniture(block.text):
                notes.append(Note(f"{name} left out of the article: {block.text[:60]!r}", block.line, info=True))
            elif not is_credit(block.text) and detect(block.text, prose=True, script=kind) == "other":
                urls += [(index, url, block.line) for url in trailing]
                notes.append(Note(f"paragraph not in English dropped: {block.text[:60]!r}", block.line,
                                  kind=NoteKind.LANGUAGE))
            else:
                latin.append(block)
    latin, authors = _article(latin, authors, source, notes)
    title = Bilingual(en=found.get("en"), uk=found.get("uk"))
    if not (title.en or title.uk):
        if dropped and all(label == "placeholder" for label in dropped):
            raise Rejected(Reason(ReasonKind.TEMPLATE, "the digest template, not filled in: its titles are "
                                  "placeholders", title_blocks[0].line if title_blocks else None))
        extra = f" ({', '.join(dropped)} title dropped)" if dropped else ""
        raise Rejected(Reason(ReasonKind.NO_TITLE, f"no title in English or Ukrainian{extra}",
                              lines[first_heading][0]))

    summary_uk = [block.text for block in uk]
    if uk:
        last_text, trailing = _split_trailing_urls(summary_uk[-1])
        urls += [(-1, url, uk[-1].end) for url in trailing]  # the summary's own URL comes first
        summary_uk[-1:] = [last_text] if last_text else []
    urls.sort(key=lambda item: item[0])
    link = urls[0][1] if urls else None
    notes += [Note(f"extra source URL ignored: {url}", line, kind=NoteKind.LINK) for _, url, line in urls[1:]
              if url != link]
    if uk and link is None:
        notes.append(Note("no source URL at the end of the Ukrainian summary", uk[-1].end, kind=NoteKind.LINK))
    if uk and not title.uk:
        notes.append(Note("Ukrainian summary without a Ukrainian title", uk[0].line))
    body = [block.text for block in latin]
    summary = Bilingual(en=english_summary(body) if body else None, uk="\n\n".join(summary_uk) or None)
    _languages_lost(title, summary, notes)
    notes.sort(key=lambda note: note.line or 0)
    return Document(
        id=document_id(relpath),
        path=relpath,
        source=source,
        date=date,
        authors=authors,
        link=link,
        title=title,
        summary=summary,
        body=tuple(body),
        warnings=tuple(notes),
    )


def _article(blocks: list[_Block], authors: tuple[str, ...], source: str | None,
             notes: list[Note]) -> tuple[list[_Block], tuple[str, ...]]:
    """The English article without what a page puts around it: above its first real paragraph (promos,
    players, toolbars, captions, bylines, headline lists), and captions and headline lists inside it.
    A byline above the article gives the authors when the header had none."""
    kept: list[_Block] = []
    started = False
    listing = False  # inside a "Most read" / "Keep reading" list: its short headlines are links
    for block in blocks:
        text = block.text
        name: str | None = None
        if not started:
            name = "byline" if _byline(text) and not is_credit(text) else opening_kind(text)
            if name == "byline" and not authors:
                authors = _parse_authors(text, source)
                name = "byline (read as the authors)"
        elif list_header(text) or (listing and not prose(text) and len(text) < 200):
            name = "headline list"
        elif caption(text):
            name = "photo caption"
        listing = name == "headline list"
        if name is None:
            started = True
            kept.append(block)
        else:
            notes.append(Note(f"{name} left out of the article: {text[:60]!r}", block.line, info=True,
                              kind=NoteKind.FURNITURE))
    return kept, authors


def _languages_lost(title: Bilingual, summary: Bilingual, notes: list[Note]) -> None:
    """A warning when dropping text for its language leaves a title without a summary: the digest is then
    missing from that language's feeds, which editors must be told."""
    langs: tuple[tuple[Lang, str, str], ...] = (("uk", "Ukrainian", "/uk/"), ("en", "English", "/en/"))
    for lang, name, feed in langs:
        dropped = [n for n in notes if n.kind is NoteKind.LANGUAGE and ("Russian" in n.text) == (lang == "uk")]
        if title.get(lang) and not summary.get(lang) and dropped:
            notes.append(Note(f"no {name} text left after dropping text in another language: this digest is "
                              f"missing from the {feed} feeds", dropped[0].line, kind=NoteKind.LANGUAGE))


def parse_document(data: bytes, relpath: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Document:
    """The Document in `data`; raises Rejected with a one-line reason for bad input."""
    try:
        return _parse(data, relpath, max_bytes)
    except Rejected:
        raise
    except Exception as error:  # a parser bug must not take the watcher down; tests assert none occur
        raise Rejected(Reason(ReasonKind.PARSER_ERROR,
                              f"unexpected parser error: {type(error).__name__}: {error}")) from error
