"""Parsing a digest's bytes into a Document; the format is described in docs/document-format.md."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from charset_normalizer import from_bytes
from dateutil import parser as dateparser

from .language import detect, script_of
from .model import Bilingual, Document, Note, Reason, ReasonKind, Rejected, document_id
from .summary import english_summary, is_read_more

MAX_LINE = 20_000
# The default of FEEDSVC_MAX_BYTES; settings takes it from here.
DEFAULT_MAX_BYTES = 1 << 20
_CONTROL_RATIO = 0.05  # more control bytes than this is binary data, not text with a stray byte

_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff\ud800-\udfff]")
_BLANKS = re.compile(
    "[ \t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]{2,}|[\t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
# What _BLANKS could change, without its alternation: scanning for these is 5x cheaper than the
# substitution, and most documents have none.
_ODD_BLANK = re.compile("[\t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
_INVISIBLE = re.compile("[\ufeff\u200b]")
_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0b, 0x0c, *range(0x0e, 0x20), 0x7f])
_UTF8_CYRILLIC = re.compile(rb"[\xd0\xd1][\x80-\xbf]")
_CP1251_LETTERS = re.compile(rb"[\xc0-\xff\xa5\xaa\xaf\xb2\xb3\xb4\xba\xbf]")
_HEADING = re.compile(r"^#{1,3}(?!#)\s*")
_URL = re.compile(r"https?://[^\s<>\"]+")
_URL_PUNCT = ".,;:!?)]»\"”'’"
_FINAL_PUNCT = tuple('.!?…"”»')
_SOURCE_SEPARATORS = (
    re.compile(r"^(.*?)\s*\.\s*-\s*(.*)$"),
    re.compile(r"^(.*?)\s+(?:-|–|—)\s+(.*)$"),
    re.compile(r"^(.*?)\s*,\s*(.*)$"),
)
_YEAR = re.compile(r"(?<!\d)\d{4}(?!\d)")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DOTTED_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")
_AUTHOR_SPLIT = re.compile(r"\s*(?:,\s*and\s+|,|;|&|\s+and\s+)\s*")
_BY = re.compile(r"(?i)^by\s+")
@dataclass(frozen=True, slots=True)
class _Block:
    """A paragraph or a heading of the text after the header lines."""

    text: str
    heading: bool


@dataclass(frozen=True, slots=True)
class _Header:
    source: str | None
    date: dt.date | None
    authors: tuple[str, ...]
    warnings: tuple[str, ...]


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


def _decode(data: bytes, max_bytes: int) -> tuple[str, list[str]]:
    if len(data) > max_bytes:
        raise Rejected(Reason(ReasonKind.TOO_LARGE, f"file is larger than the {max_bytes}-byte limit"))
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise Rejected(Reason(ReasonKind.ENCODING, "UTF-16 text; save the file as UTF-8"))
    if b"\x00" in data:
        raise Rejected(Reason(ReasonKind.BINARY, "binary data: contains NUL bytes"))
    controls = len(data) - len(data.translate(None, _CONTROL_BYTES))  # a C loop, not a regex
    if data and controls / len(data) > _CONTROL_RATIO:
        raise Rejected(Reason(ReasonKind.BINARY, f"binary data: {controls} control characters in {len(data)} bytes"))
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError as error:
        text = _cp1251(data)
        if text is None:
            raise Rejected(Reason(ReasonKind.ENCODING, f"invalid UTF-8 at byte {error.start} and not a plausible "
                                  "cp1251 Cyrillic file", data.count(b"\n", 0, error.start) + 1)) from None
        return text, ["decoded as cp1251, not UTF-8; please save the file as UTF-8"]


def _lines(text: str, warnings: list[str]) -> list[str]:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n")
    text, stripped = _FORBIDDEN.subn("", text)
    if stripped:
        warnings.append(f"removed {stripped} control or non-XML character(s)")
    if "\ufeff" in text or "\u200b" in text:  # rare; `in` is far cheaper than a regex pass
        text = _INVISIBLE.sub("", text)
    if "  " in text or _ODD_BLANK.search(text):
        text = _BLANKS.sub(" ", text)  # odd spaces and runs of spaces, in one pass
    lines = [line.strip() for line in text.split("\n")]
    for number, line in enumerate(lines, 1):
        if len(line) > MAX_LINE:
            raise Rejected(Reason(ReasonKind.LONG_LINE, f"line is {len(line)} characters long (limit {MAX_LINE})",
                                  number))
    if not any(lines):
        raise Rejected(Reason(ReasonKind.EMPTY, "empty file (no text)"))
    return lines


def _ends_paragraph(line: str) -> bool:
    return line.endswith(_FINAL_PUNCT) or bool(_URL.fullmatch(line.split(" ")[-1]))


def _script_changes(current: Sequence[str], line: str) -> bool:
    before, after = script_of(" ".join(current)), script_of(line)
    return bool(before and after and before != after)


def _blocks(lines: Sequence[str]) -> list[_Block]:
    """Paragraphs and headings: blank lines separate paragraphs; without any blank
    lines, a change of script or a line ending a sentence does."""
    filled = [i for i, line in enumerate(lines) if line]
    spaced = bool(filled) and any(not lines[i] for i in range(filled[0], filled[-1]))
    blocks: list[_Block] = []
    current: list[str] = []

    def flush() -> None:
        nonlocal current
        if current:
            blocks.append(_Block(" ".join(current), heading=False))
        current = []

    for line in lines:
        if not line:
            flush()
        elif _HEADING.match(line):
            flush()
            blocks.append(_Block(line, heading=True))
        elif is_read_more(line):
            flush()
            blocks.append(_Block(line, heading=False))
        else:
            if current and _script_changes(current, line):
                flush()
            current.append(line)
            if not spaced and _ends_paragraph(line):
                flush()
    flush()
    return blocks


def _parse_date(text: str) -> dt.date | None:
    """The date written in `text`, or None: never a guess from a partial or garbled date."""
    text = text.strip().rstrip(".").strip()
    if not text or len(text) > 40 or not _YEAR.search(text):
        return None
    try:
        if iso := _ISO_DATE.match(text):
            found = dt.date(int(iso[1]), int(iso[2]), int(iso[3]))
        elif dotted := _DOTTED_DATE.match(text):
            found = dt.date(int(dotted[3]), int(dotted[2]), int(dotted[1]))
        else:
            first = dateparser.parse(text, dayfirst=True, default=dt.datetime(2001, 1, 1))
            second = dateparser.parse(text, dayfirst=True, default=dt.datetime(2002, 2, 2))
            if first != second:
                return None  # some part (day, month) was missing and dateutil filled it in
            found = first.date()
    except (ValueError, OverflowError, TypeError):
        return None
    return found if 1900 <= found.year <= 2100 else None


def _parse_source(line: str) -> tuple[str | None, dt.date | None, list[str]]:
    """Publication and date from a line such as `Time.- 13.09.2023` or `BBC News - 2023-05-01`."""
    matches = [m for sep in _SOURCE_SEPARATORS if (m := sep.match(line)) and m[1].strip()]
    for match in matches:
        if (date := _parse_date(match[2])) is not None:
            return match[1].strip(), date, []
    if (date := _parse_date(line)) is not None:
        return None, date, ["no publication name in the source line"]
    if matches:
        written = matches[0][2].strip()
        return matches[0][1].strip(), None, [f"unparseable date {written[:60]!r}"]
    return line.rstrip("."), None, ["no date in the source line"]


def _parse_authors(line: str) -> tuple[str, ...]:
    return tuple(a for a in _AUTHOR_SPLIT.split(_BY.sub("", line)) if a)


def _header(lines: Sequence[str]) -> _Header:
    """Source line, then the authors line, from the lines before the first heading."""
    if not lines:
        return _Header(None, None, (), ("no source line",))
    if len(lines) == 1 and _BY.match(lines[0]):
        return _Header(None, None, _parse_authors(lines[0]), ("no source line",))
    source, date, warnings = _parse_source(lines[0])
    authors = _parse_authors(lines[1]) if len(lines) > 1 else ()
    warnings += [f"ignored line before the title: {line[:60]!r}" for line in lines[2:]]
    return _Header(source, date, authors, tuple(warnings))


def _clean_url(url: str) -> str:
    return url.rstrip(_URL_PUNCT)


def _split_trailing_urls(text: str) -> tuple[str, list[str]]:
    """`text` without the URLs it ends with, and those URLs in order."""
    urls: list[str] = []
    while (parts := text.rsplit(None, 1)) and _URL.fullmatch(parts[-1]):
        urls.insert(0, _clean_url(parts[-1]))
        text = parts[0] if len(parts) == 2 else ""
    return text.strip(), urls


def _titles(blocks: Sequence[_Block], warnings: list[str]) -> tuple[Bilingual, list[str]]:
    found: dict[str, str] = {}
    dropped: list[str] = []
    for block in blocks:
        text = _HEADING.sub("", block.text).rstrip("#").strip()
        lang = detect(text) if text else None
        if lang in ("en", "uk") and lang not in found:
            found[lang] = text
        elif lang in ("en", "uk"):
            warnings.append(f"second {lang} title ignored: {text[:60]!r}")
        else:
            label = {"ru": "Russian", "other": "non-English Latin-script", None: "empty"}[lang]
            dropped.append(label)
            warnings.append(f"{label} title dropped: {text[:60]!r}")
    return Bilingual(en=found.get("en"), uk=found.get("uk")), dropped


def _parse(data: bytes, relpath: str, max_bytes: int) -> Document:
    text, warnings = _decode(data, max_bytes)
    lines = _lines(text, warnings)
    first_heading = next((i for i, line in enumerate(lines) if _HEADING.match(line)), None)
    if first_heading is None:
        raise Rejected(Reason(ReasonKind.NO_TITLE,
                              "no title: expected a '## ' heading line with the English or Ukrainian title"))
    header = _header([line for line in lines[:first_heading] if line])
    warnings[:0] = header.warnings
    blocks = _blocks(lines[first_heading:])
    count = next((i for i, b in enumerate(blocks) if not b.heading), len(blocks))
    title, dropped = _titles(blocks[:count], warnings)
    if not (title.en or title.uk):
        extra = f" ({', '.join(dropped)} title dropped)" if dropped else ""
        raise Rejected(Reason(ReasonKind.NO_TITLE, f"no title in English or Ukrainian{extra}", first_heading + 1))

    uk: list[str] = []
    latin: list[str] = []
    urls: list[tuple[int, str]] = []
    for index, block in enumerate(blocks[count:]):
        paragraph = _HEADING.sub("", block.text) if block.heading else block.text
        rest, found = _split_trailing_urls(paragraph)
        if not rest:
            urls += [(index, url) for url in found]
            continue
        kind = script_of(paragraph)
        if kind == "cyrillic":
            lang = detect(paragraph)
            if lang == "uk":
                uk.append(paragraph)
            else:  # its source URL is still the article's
                urls += [(index, url) for url in found]
                warnings.append(f"Russian paragraph dropped: {paragraph[:60]!r}")
        elif kind == "latin" and not is_read_more(paragraph):
            latin.append(paragraph)
    if uk:
        last, found = _split_trailing_urls(uk[-1])
        urls += [(-1, url) for url in found]  # the summary's own URL comes first
        uk[-1:] = [last] if last else []
    if latin and detect(" ".join(latin[:2])) == "other":
        warnings.append("article is not in English; dropped")
        latin = []
    urls.sort(key=lambda item: item[0])
    link = urls[0][1] if urls else None
    warnings += [f"extra source URL ignored: {url}" for _, url in urls[1:]]
    if uk and not title.uk:
        warnings.append("Ukrainian summary without a Ukrainian title")
    summary = Bilingual(en=english_summary(latin) if latin else None, uk="\n\n".join(uk) or None)
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
        warnings=tuple(w if isinstance(w, Note) else Note(w) for w in warnings),
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
