"""Parsing a digest's bytes into a Document; the format is described in docs/document-format.md.

Every warning (Note) and every rejection (Reason) names the 1-based line of the file as written that
it concerns: lines are numbered before anything is joined or dropped (CRLF, a lone CR and LF each end
one line; U+2028/U+2029 split a line for the parser but not for the numbering), and a paragraph or a
heading hard-wrapped over several lines is on its first line.
"""

from __future__ import annotations

import bisect
import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from charset_normalizer import from_bytes

from .language import detect, script_of
from .model import Bilingual, Document, Note, Reason, ReasonKind, Rejected, document_id
from .publications import ALIASES, canonical
from .summary import english_summary, furniture, is_credit

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

_HEADING = re.compile(r"^#{1,3}(?!#)\s*")
# A URL as the last word of a paragraph: bare, in <…>, ‹…› or (…), and perhaps followed by a full stop.
_URL_WORD = re.compile(r"[<‹(\[«\"“]?(https?://[^\s<>‹›\"«»“”]+)[>›»\"”]?[.,;:!?…]*")
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


@dataclass(frozen=True, slots=True)
class _Header:
    source: str | None
    date: dt.date | None
    authors: tuple[str, ...]


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


def _lines(text: str, notes: list[Note]) -> list[Line]:
    """The lines of `text`, stripped and numbered as written."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if _ODD.search(text):
        text = _strip_characters(text, notes)
    if "  " in text or _ODD_BLANK.search(text):
        text = _BLANKS.sub(" ", text)  # odd spaces and runs of spaces, in one pass
    rows = text.split("\n")
    if "\u2028" in text or "\u2029" in text:
        lines = [(n, part.strip()) for n, row in enumerate(rows, 1) for part in _LINE_SEPARATORS.split(row)]
    else:
        lines = [(n, row.strip()) for n, row in enumerate(rows, 1)]
    for number, line in lines:
        if len(line) > MAX_LINE:
            raise Rejected(Reason(ReasonKind.LONG_LINE, f"line is {len(line)} characters long (limit {MAX_LINE})",
                                  number))
    if not any(line for _, line in lines):
        raise Rejected(Reason(ReasonKind.EMPTY, "empty file (no text)"))
    return lines


def _url_of(word: str) -> str | None:
    """The URL that `word` is (bare, bracketed, or followed by punctuation), or None."""
    match = _URL_WORD.fullmatch(word)
    if match is None:
        return None
    url = match[1].rstrip(_URL_END)
    while url[-1:] in (")", "]") and url.count("(" if url[-1] == ")" else "[") < url.count(url[-1]):
        url = url[:-1].rstrip(_URL_END)  # a closing bracket the URL did not open is the text's
    return url if len(url) > len("https://") else None


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
# The forms of a date, each a rule of its own (tests/test_parse_dates.py has cases for each).
# Searched for anywhere in the source line; the leftmost match is the article's date.
_DATE_FORMS: tuple[tuple[str, re.Pattern[str]], ...] = (
    # Year first, always year-month-day whatever the separator: 2024-11-06, 2024.08.07, 2024/03/02.
    ("ymd", re.compile(r"(?<![\d.])(?P<y>\d{4})(?P<sep>[-./])(?P<m>\d{1,2})(?P=sep)(?P<d>\d{1,2})(?!\d)")),
    # Year last, in numbers: 13.09.2023, 13.9.2023, 24.10.22 (dots: day first, as in Ukraine and most of
    # Europe); 20/10/2022, 10-20-2022 (slashes, dashes: only where one part > 12 settles the order).
    ("dmy", re.compile(r"(?<![\d.])(?P<a>\d{1,2})(?P<sep>[-./])(?P<b>\d{1,2})(?P=sep)(?P<y>\d{4}|\d{2})(?!\d)")),
    # Day, month name, year: 2 March 2024, Sat 8 Oct 2022, 2. März 2024, 1er mars 2024, 11 листопада 2022.
    ("d-month-y", re.compile(rf"(?i){_WEEKDAY}(?<![\d.])(?P<d>\d{{1,2}})(?:st|nd|rd|th|er|\.)?(?:\s+|-)(?:of\s+)?"
                             rf"(?P<month>{_alternatives(_MONTHS)})\.?,?(?:\s+|-)(?P<y>\d{{4}})(?!\d)")),
    # Month name, day, year: Sept. 13, 2023, March 2 2024, Saturday, March 2, 2024.
    ("month-d-y", re.compile(rf"(?i){_WEEKDAY}\b(?P<month>{_alternatives(_MONTHS)})\.?(?:\s+|-)(?P<d>\d{{1,2}})"
                             r"(?:st|nd|rd|th)?,?\s+(?P<y>\d{4})(?!\d)")),
)
# What may follow a date and belongs to it: "р."/"року" after the year, a time (T10:36:00Z,
# 17.40 BST, 10:36 a.m. UTC+2), then a note in brackets ("(оновлено 01.05.2025)").
_DATE_TAIL = re.compile(
    r"(?:\s*(?:р\.|року))?"
    r"(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"
    r"|,?\s+(?:at\s+|о\s+|à\s+|um\s+)?\d{1,2}[:.h]\d{2}(?:[:.]\d{2})?(?!\d|\.\d)(?:\s*[aApP]\.?[mM]\.?)?"
    r"(?:\s+(?:[A-Z]{2,5}|UTC|GMT)(?:[+-]\d{1,2}(?::?\d{2})?)?(?![\w]))?)?"
    r"(?:\s*[(\[][^()\[\]]{0,100}[)\]])?"
)


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


def _find_date(text: str) -> _DateMatch | None:
    """The first date written in `text` (certain, or not and why), or None if nothing there looks like one."""
    best: tuple[str, re.Match[str]] | None = None
    for form, pattern in _DATE_FORMS:
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
_AUTHOR_SPLIT = re.compile(r"\s*(?:[,;&]\s*(?:(?:and|та|і)\s+)?|\s+(?:and|та|і)\s+)\s*", re.IGNORECASE)
_BY = re.compile(r"(?i)^(?:by|authors?|автори?)\s*:?\s+")
# "Jacopo Barigazzi in Brussels", "Олена Гармаш у Києві": where the author wrote from, not a name.
_LOCATION = re.compile(r"\s+(?:in|from|у|в)\s+[A-ZА-ЯІЇЄҐ].*$")
_NAME_SUFFIX = re.compile(r"(?:Jr|Sr)\.?|II|III|IV")
_STAFF = re.compile(r"(?i)(?:\S+\s+){0,3}(?:staff|agencies|news desk|newsroom)")
_PUBLICATIONS = frozenset(ALIASES.values())


def _parse_source(line: str, number: int, notes: list[Note]) -> tuple[str | None, dt.date | None]:
    """Publication and date from a line such as `Time.- 13.09.2023`, `13.07.2024 - Reuters` or
    `Reuters | 2 March 2024`: the date is found wherever it is, and the rest names the publication."""
    found = _find_date(line)
    if found is None:
        for separator in _SOURCE_SEPARATORS:
            if (match := separator.match(line)) and match[1].strip():
                notes.append(Note(f"unparseable date {match[2].strip()[:60]!r}", number))
                return match[1].strip(), None
        notes.append(Note("no date in the source line", number))
        return line.rstrip("."), None
    if found.date is None:
        kind = "ambiguous" if found.problem.startswith("ambiguous") else "unparseable"
        problem = found.problem.removeprefix("ambiguous: ")
        notes.append(Note(f"{kind} date {found.written[:60]!r} left out: {problem}", number))
    before = line[:found.start].strip(_SEPARATOR_CHARS)
    after = line[found.end:].strip(_SEPARATOR_CHARS)
    if before and after:
        notes.append(Note(f"ignored text after the date: {after[:60]!r}", number))
    if not (before or after):
        notes.append(Note("no publication name in the source line", number))
    return before or after or None, found.date


def _is_publication(name: str, source: str | None) -> bool:
    """Whether an author's place holds a publication or an agency ("BBC News", "Guardian staff")."""
    known = canonical(name)
    return known in _PUBLICATIONS or bool(source and known == canonical(source)) or bool(_STAFF.fullmatch(name))


def _parse_authors(line: str, source: str | None) -> tuple[str, ...]:
    """The authors' names: split on , ; & and і та; locations and publications left out."""
    authors: list[str] = []
    located = False
    for part in _AUTHOR_SPLIT.split(_BY.sub("", line)):
        if not part or (located and " " not in part):  # "Jim Heintz in Tallinn, Estonia": the country
            continue
        if authors and _NAME_SUFFIX.fullmatch(part):  # "Martin Luther King, Jr."
            authors[-1] += f" {part}"
            continue
        name = _LOCATION.sub("", part)
        located = name != part
        if not _is_publication(name, source):
            authors.append(name)
    return tuple(authors)


def _header(lines: Sequence[Line], first_line: int, notes: list[Note]) -> _Header:
    """Source line, then the authors line, from the (non-blank) lines before the first heading."""
    if not lines:
        notes.append(Note("no source line", first_line))
        return _Header(None, None, ())
    if _BY.match(lines[0][1]):
        if len(lines) == 1 or _find_date(lines[1][1]) is None:
            notes.append(Note("no source line", first_line))
            ignored = lines[1:]
            authors = _parse_authors(lines[0][1], None)
            notes.extend(Note(f"ignored line before the title: {line[:60]!r}", n) for n, line in ignored)
            return _Header(None, None, authors)
        lines = [lines[1], lines[0], *lines[2:]]  # "By ..." above the source line
    source, date = _parse_source(lines[0][1], lines[0][0], notes)
    authors = _parse_authors(lines[1][1], source) if len(lines) > 1 else ()
    notes.extend(Note(f"ignored line before the title: {line[:60]!r}", n) for n, line in lines[2:])
    return _Header(source, date, authors)


# --- titles and the text -----------------------------------------------------------------------

def _split_trailing_urls(text: str) -> tuple[str, list[str]]:
    """`text` without the URLs it ends with, and those URLs in order. A full stop written after the
    URL ("... as reported (https://x.org/a).") goes back on the sentence that lacks one."""
    urls: list[str] = []
    stop = ""
    while (parts := text.rsplit(None, 1)) and (url := _url_of(parts[-1])) is not None:
        stop = stop or parts[-1][len(parts[-1].rstrip(".!?…")):]
        urls.insert(0, url)
        text = parts[0] if len(parts) == 2 else ""
    text = text.strip()
    if urls and stop and text and not text.endswith(_FINAL_PUNCT):
        text += stop
    return text, urls


def _cut_title(text: str) -> str:
    """`text` cut at a word boundary to at most MAX_TITLE characters, an ellipsis included."""
    cut = text[:MAX_TITLE]
    space = cut.rfind(" ")
    cut = cut[:space] if space > MAX_TITLE // 2 else cut[:MAX_TITLE - 1]
    return cut.rstrip(" ,;:-–—") + "…"


def _title(block: _Block, found: dict[str, str], notes: list[Note], *, later: bool) -> str | None:
    """Take `block` (a heading) as the title of its language if that has none yet, else note why not.
    Returns the label of a title dropped for its language ("Russian"), for a rejection to name."""
    text = _HEADING.sub("", block.text).rstrip("#").strip()
    lang = detect(text) if text else None
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


def _looks_like_source(block: _Block) -> bool:
    """Whether `block` starts with a line that reads as a source line (`Reuters.- 02.03.2024`)."""
    line = block.first
    if len(line) > 100 or block.heading or furniture(line) or (found := _find_date(line)) is None:
        return False  # "Updated 2 March 2024" is a time stamp, not a source line
    before = line[:found.start].strip(_SEPARATOR_CHARS)
    after = line[found.end:].strip(_SEPARATOR_CHARS)
    publication = before if before else after
    if before and after:
        return False
    words = publication.split()
    return not words or (len(words) <= 6 and not words[-1][:1].islower())


def _one_document(blocks: Sequence[_Block]) -> None:
    """Reject a file holding a second digest: after the text, a source line, perhaps an authors line,
    then a heading."""
    for index, block in enumerate(blocks):
        if not block.heading:
            continue
        candidates = blocks[max(0, index - 2):index]
        if len(candidates) == 2 and (len(candidates[1].text) > 100 or candidates[1].text.endswith(".")):
            candidates = candidates[1:]  # not an authors line between the source line and the title
        for candidate in candidates:
            if _looks_like_source(candidate):
                raise Rejected(Reason(ReasonKind.TWO_DOCUMENTS, "a second document starts here (a source line and "
                                      "a title after the text); put each digest in a file of its own",
                                      candidate.line))


def _parse(data: bytes, relpath: str, max_bytes: int) -> Document:
    notes: list[Note] = []
    text = _decode(data, max_bytes, notes)
    lines = _lines(text, notes)
    first_heading = next((i for i, (_, line) in enumerate(lines) if _HEADING.match(line)), None)
    if first_heading is None:
        raise Rejected(Reason(ReasonKind.NO_TITLE,
                              "no title: expected a '## ' heading line with the English or Ukrainian title"))
    first_line = next(number for number, line in lines if line)
    header = _header([line for line in lines[:first_heading] if line[1]], first_line, notes)
    blocks = _blocks(lines[first_heading:])
    count = next((i for i, b in enumerate(blocks) if not b.heading), len(blocks))
    _one_document(blocks[count:])

    found: dict[str, str] = {}
    dropped = [label for block in blocks[:count] if (label := _title(block, found, notes, later=False))]
    uk: list[_Block] = []
    latin: list[str] = []
    urls: list[tuple[int, str, int]] = []  # (order, URL, line): the summary's own URL has order -1
    for index, block in enumerate(blocks[count:]):
        if block.heading:  # never text: a missing title, or left out
            if label := _title(block, found, notes, later=True):
                dropped.append(label)
            continue
        rest, trailing = _split_trailing_urls(block.text)
        if not rest:
            urls += [(index, url, block.line) for url in trailing]
            continue
        kind = script_of(block.text)
        if kind == "cyrillic":
            if detect(block.text, script=kind) == "uk":
                uk.append(block)
            else:  # its source URL is still the article's
                urls += [(index, url, block.line) for url in trailing]
                notes.append(Note(f"Russian paragraph dropped: {block.text[:60]!r}", block.line))
        elif kind == "latin":
            if name := furniture(block.text):
                notes.append(Note(f"{name} left out of the article: {block.text[:60]!r}", block.line, info=True))
            elif not is_credit(block.text) and detect(block.text, prose=True, script=kind) == "other":
                urls += [(index, url, block.line) for url in trailing]
                notes.append(Note(f"paragraph not in English dropped: {block.text[:60]!r}", block.line))
            else:
                latin.append(block.text)
    title = Bilingual(en=found.get("en"), uk=found.get("uk"))
    if not (title.en or title.uk):
        extra = f" ({', '.join(dropped)} title dropped)" if dropped else ""
        raise Rejected(Reason(ReasonKind.NO_TITLE, f"no title in English or Ukrainian{extra}",
                              lines[first_heading][0]))

    summary_uk = [block.text for block in uk]
    if uk:
        last, trailing = _split_trailing_urls(summary_uk[-1])
        urls += [(-1, url, uk[-1].end) for url in trailing]  # the summary's own URL comes first
        summary_uk[-1:] = [last] if last else []
    urls.sort(key=lambda item: item[0])
    link = urls[0][1] if urls else None
    notes += [Note(f"extra source URL ignored: {url}", line) for _, url, line in urls[1:]]
    if uk and link is None:
        notes.append(Note("no source URL at the end of the Ukrainian summary", uk[-1].end))
    if uk and not title.uk:
        notes.append(Note("Ukrainian summary without a Ukrainian title", uk[0].line))
    summary = Bilingual(en=english_summary(latin) if latin else None, uk="\n\n".join(summary_uk) or None)
    notes.sort(key=lambda note: note.line or 0)
    return Document(
        id=document_id(relpath),
        path=relpath,
        source=header.source,
        date=header.date,
        authors=header.authors,
        link=link,
        title=title,
        summary=summary,
        body=tuple(latin),
        warnings=tuple(notes),
    )


def parse_document(data: bytes, relpath: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Document:
    """The Document in `data`; raises Rejected with a one-line reason for bad input."""
    try:
        return _parse(data, relpath, max_bytes)
    except Rejected:
        raise
    except Exception as error:  # a parser bug must not take the watcher down; tests assert none occur
        raise Rejected(Reason(ReasonKind.PARSER_ERROR,
                              f"unexpected parser error: {type(error).__name__}: {error}")) from error
