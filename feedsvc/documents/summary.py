"""English summaries: the opening sentences of the article, cut on sentence boundaries."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import pysbd
from pysbd.lang.english import English

_ABBREVIATIONS = frozenset(English.Abbreviation.ABBREVIATIONS)
# Titles that precede a name and so never end a sentence.
_TITLES = frozenset(English.Abbreviation.PREPOSITIVE_ABBREVIATIONS) | {"pres", "gens", "amb", "hon"}
# Words that start a new sentence after an abbreviation which may also end one ("the U.N. They").
_STARTERS = frozenset(
    "The They He She It We I You But In On This That These Those There Their His Her Its Our"
    " When While After Before If So Yet Still However Meanwhile Some Many Most Both Officials".split()
)
_TIME_FOLLOWERS = frozenset(
    "Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April May"
    " June July August September October November December local GMT UTC EST EDT CET CEST ET PT".split()
)

# Two patterns, not one alternation: searching a long paragraph for either at every position
# cost more than the rest of the summary.
_CREDIT_START = re.compile(r"(?:—|--|–)|\((?:Reporting|Writing|Additional reporting) by\b")
_CONTRIBUTED = re.compile(r"\bcontributed(?: to this (?:report|story|article))?\.?[\"”)]*\s*$")
_DATELINE = re.compile(
    r"^[A-Z][A-Z'’.\- ]{1,40}(?:,[^()—–\n]{1,40})?\s*\([A-Za-z .]{2,30}\)\s*(?:—|–|--|-)\s*"
)
# A boundary that needs no judgement: a plain word (not an abbreviation) ends with
# ./!/? and the next sentence starts with a capital. Everything else goes to pysbd.
_PLAIN_END = re.compile(r"(?<![\w.])([A-Za-z][a-z]+|\d+)([.!?])([\"”’)]*)\s+(?=[\"“‘(]*[A-Z])")
_INNER_STOP = re.compile(r"[.!?]")
_ACRONYM_SPLIT = re.compile(r"(?:\b(?:[A-Z]\.){2,}|\b(?:Inc|Jr|Sr|Co|Ltd|Corp)\.)(\s+)(?=([A-Z][a-z]*)\b)")
_LAST_WORD = re.compile(r"(?<!\w)(\w+)\.[\"”’)]*$")  # searched in a sentence's tail only
_CLOSERS = re.compile(r"^[\"”’)\]]+$")
_AM_PM = re.compile(r"\b[ap]\.m\.$")


# --- cheap exact pre-checks for case-insensitive searches ----------------------------------------------

# A `(?i)` search tries its alternatives at every position of a paragraph (~20-50 us); `in` on the
# lowered text costs well under 1 us. The two agree on every character but these: ones `re` folds to a
# letter that str.lower() leaves alone (dotless i, long s, old Cyrillic forms), and U+0130, whose
# lower() is two characters. A text holding one of them is searched the slow way.
try:
    from re._casefix import _EXTRA_CASES  # CPython 3.11+: what `re` folds beyond simple lowercase

    # For each letter a word of ours can hold (one that lower() gives back from its capital), the
    # others `re` matches it with.
    _FOLDS_APART = "\u0130" + "".join(sorted({chr(other) for char, others in _EXTRA_CASES.items()
                                               if chr(char).upper().lower() == chr(char) for other in others}))
except ImportError:  # unknown folding: only ASCII text takes the fast path
    _FOLDS_APART = ""
_FOLDS_APART_RE = re.compile(f"[{re.escape(_FOLDS_APART)}]") if _FOLDS_APART else None


def lowered(text: str) -> str | None:
    """`text` lowered such that a literal word matched by a `(?i)` pattern in `text` is a substring of
    it, or None when that cannot be promised (then the caller runs its pattern)."""
    if text.isascii():  # O(1) in CPython, and true of most English paragraphs
        return text.lower()
    if _FOLDS_APART_RE is None or _FOLDS_APART_RE.search(text):
        return None
    return text.lower()


def may_contain(text: str, words: tuple[str, ...]) -> bool:
    """False only when no `(?i)` match of a pattern that needs one of `words` (lower case) can be in `text`."""
    low = lowered(text)
    return low is None or any(map(low.__contains__, words))


@dataclass(frozen=True, slots=True)
class Furniture:
    """One kind of page furniture: text pasted with an article that is not the article."""

    name: str  # what the warning calls it
    pattern: str  # a regex matched at the start of a paragraph; `(?i:...)` where case does not matter
    line: bool = True  # a line of its own: split off a paragraph even with no blank line around it
    end: str = ""  # if set, `pattern` is searched for at the end of a paragraph ending with this


# Page furniture, in one place: a paragraph (or a line, where `line`) matching one of these is left
# out of the English article, with a warning naming it. Extend freely (non-capturing groups only);
# tests/unit/documents/test_parse_furniture.py has a case for each rule.
FURNITURE: tuple[Furniture, ...] = (
    # Where an advertisement sat: "Advertisement", "ADVERTISEMENT", "Story continues below advertisement",
    # "Advertisement - Scroll to continue".
    Furniture("advertisement",
              r"(?i:(?:story continues below )?advertisement(?:\s*[-–—:]?\s*(?:scroll|continue) [\w ]{0,30})?\s*$)"),
    # A cross-link: "Read More: <headline>", "read more - ...", or "Read more" alone (not "Read more of ...").
    Furniture("cross-link", r"(?i:read more\b\s*(?:[:\-–—|»>]|$))"),
    # A cross-link in capitals with no colon: "READ MORE Putin's plan for ...".
    Furniture("cross-link", r"READ MORE\b"),
    # A paywalled cross-link: "Read more Subscribers only <headline>".
    Furniture("cross-link", r"(?i:read more\s+subscribers only\b)"),
    # "Related: <headline>", "RELATED:", "Related articles:", or "Related" alone.
    Furniture("cross-link", r"(?i:related(?: articles?| stories| coverage| content)?\s*(?:[:\-–—|]|$))"),
    # "Also read: <headline>", "ALSO READ <headline>", "See also: ...", "Read also: ...".
    Furniture("cross-link", r"(?i:also read|read also|see also)\s*[:\-–—|]|ALSO READ\b"),
    # Newsletter and sign-up prompts, 200 characters at most: "Sign up for our newsletter",
    # "Subscribe to ...", "Newsletter: ...", "Get our morning newsletter", and the Guardian's
    # "Skip past newsletter promotion" / "after newsletter promotion".
    Furniture("newsletter sign-up",
              r"(?i:sign up\b|subscribe (?:to|for|now|here)\b|newsletter\b|skip past newsletter"
              r"|after newsletter promotion|get (?:our|the) .{0,60}newsletter)(?=.{0,180}$)"),
    # Reuters' footer: "Our Standards: The Thomson Reuters Trust Principles."
    Furniture("standards notice", r"(?i:our standards\s*:)"),
    # BBC picture furniture pasted as text: "Image caption, ...", "Image source, Getty Images".
    Furniture("photo caption", r"(?:Image|Media|Video) (?:caption|source),"),
    # A photo caption ending in its credit: "... in Kyiv, Saturday. (AP Photo/Efrem Lukatsky)",
    # "(Photo by Genya Savilov/AFP via Getty Images)", "(AP Photo)".
    Furniture("photo caption", r"\((?:[A-Z][\w.&-]*\s+)*Photos?(?:\s*(?:/|by\b|:)[^()]*)?\)\s*$",
              line=False, end=")"),
    # A time stamp: "Updated 2 March 2024", "Published: 13.09.2023 10:15 BST", "Last updated March 2, 2024"
    # (short, with a number, not ending like a sentence: "Updated figures showed 5 dead." is text).
    Furniture("time stamp",
              r"(?i:(?:last |first )?(?:updated|published|posted)(?: on)?\b)(?=.{0,60}$)(?=.*\d)(?!.*[a-z]\.$)"),
    # A note before (or after) the article: "Editor's note: This story contains ...".
    Furniture("editor's note", r"(?i:editor[’']?s[’']? note\s*[:\-–—])", line=False),
    # An update notice: "This story has been updated with ...", "This article was corrected ...".
    Furniture("update notice", r"(?i:this (?:story|article|report|post) (?:has been|was|has) (?:updated|corrected)\b)",
              line=False),
    # An editor's credit under the Ukrainian summary: "Підготувала Олена Петренко", "Переклад: Іван Коваль".
    Furniture("editor's credit", r"(?:Підготува(?:в|ла|ли)|Переклад(?:ач(?:ка)?)?|Переклала|Переклав|Переклали"
              r"|Редактор(?:ка)?|Редагува(?:в|ла|ли)|(?:Матеріал|Огляд|Текст) підготува\w+)\b[:\s](?=.{0,100}$)"),
)
_TAIL = 200  # a rule with `end` is searched for in this many last characters


def _starts(line: bool) -> re.Pattern[str]:
    """The rules matched at the start, in one pattern (one call, not one per rule): group rN is rule N."""
    return re.compile("|".join(f"(?P<r{i}>{rule.pattern})" for i, rule in enumerate(FURNITURE)
                               if not rule.end and (rule.line or not line)))


_STARTS = {True: _starts(True), False: _starts(False)}
_ENDS = tuple((rule, re.compile(rule.pattern)) for rule in FURNITURE if rule.end)


def furniture(paragraph: str, *, line: bool = False) -> str | None:
    """The kind of page furniture `paragraph` is (`line`: by the rules for whole lines only), or None."""
    if match := _STARTS[line].match(paragraph):
        return FURNITURE[int(str(match.lastgroup)[1:])].name
    if not line:
        for rule, pattern in _ENDS:
            if paragraph.rstrip().endswith(rule.end) and pattern.search(paragraph[-_TAIL:]):
                return rule.name
    return None


@functools.cache
def _segmenter() -> pysbd.Segmenter:
    """pysbd's English segmenter, built once."""
    return pysbd.Segmenter(language="en", clean=False)


def is_read_more(paragraph: str) -> bool:
    """A site cross-link line such as `Read More: ...`, not article text."""
    return furniture(paragraph) == "cross-link"


def is_credit(paragraph: str) -> bool:
    """An agency credit paragraph (`—Litvinova reported from ...`, `... contributed.`)."""
    return len(paragraph) < 1000 and bool(
        _CREDIT_START.match(paragraph) or ("contributed" in paragraph and _CONTRIBUTED.search(paragraph)))


def strip_dateline(paragraph: str) -> str:
    """The paragraph without a leading agency dateline such as `KYIV, Ukraine (AP) — `."""
    return _DATELINE.sub("", paragraph, count=1)


def _plain_chunks(paragraph: str) -> Iterator[str]:
    start = 0
    for match in _PLAIN_END.finditer(paragraph):
        if match.group(2) == "." and match.group(1).lower() in _ABBREVIATIONS:
            continue
        yield paragraph[start : match.end(3)]
        start = match.end()
    yield paragraph[start:]


def _split_acronyms(sentence: str) -> list[str]:
    parts, start = [], 0
    for match in _ACRONYM_SPLIT.finditer(sentence):
        if match.group(2) in _STARTERS:
            parts.append(sentence[start : match.start(1)])
            start = match.end(1)
    parts.append(sentence[start:])
    return parts


def _joins(previous: str, following: str) -> bool:
    """Whether pysbd split `previous` from `following` where no sentence ends."""
    if _CLOSERS.match(following) or following[0].islower():
        return True
    last = _LAST_WORD.search(previous, max(0, len(previous) - 40))
    if last and last.group(1).lower() in _TITLES:
        return True
    return bool(_AM_PM.search(previous, max(0, len(previous) - 5))) and \
        following.split(None, 1)[0].strip(".,") in _TIME_FOLLOWERS


def _fix(pieces: list[str]) -> list[str]:
    out: list[str] = []
    for piece in (p.strip() for p in pieces):
        if not piece:
            continue
        if out and _joins(out[-1], piece):
            out[-1] = f"{out[-1]}{piece}" if _CLOSERS.match(piece) else f"{out[-1]} {piece}"
        else:
            out.append(piece)
    return [part.strip() for s in out for part in _split_acronyms(s) if part.strip()]


def _pieces(paragraph: str) -> Iterator[str]:
    for chunk in _plain_chunks(paragraph.strip()):
        if _INNER_STOP.search(chunk.rstrip("\"”’) .!?")):
            yield from _fix(_segmenter().segment(chunk))
        elif chunk.strip():
            yield chunk.strip()


def _fixed(pieces: Iterator[str]) -> Iterator[str]:
    """_fix(list(pieces)), one sentence at a time: a sentence is given once the piece after it does not
    join it, so a summary that needs a paragraph's first sentences leaves the rest unsplit."""
    last: str | None = None
    for piece in (p.strip() for p in pieces):
        if not piece:
            continue
        if last is not None and _joins(last, piece):
            last = f"{last}{piece}" if _CLOSERS.match(piece) else f"{last} {piece}"
            continue
        if last is not None:
            yield from (part.strip() for part in _split_acronyms(last) if part.strip())
        last = piece
    if last is not None:
        yield from (part.strip() for part in _split_acronyms(last) if part.strip())


def iter_sentences(paragraph: str) -> Iterator[str]:
    """sentences(paragraph), lazily."""
    return _fixed(_pieces(paragraph))


def sentences(paragraph: str) -> list[str]:
    """The sentences of one paragraph: pysbd where the boundary is ambiguous, plus fixes."""
    return list(iter_sentences(paragraph))


def _article_sentences(paragraphs: Sequence[str]) -> Iterator[str]:
    """The sentences a summary may take, in order; "" where a sentence introduces what follows (it ends
    with ":", before a list), which ends the summary: what it introduces is not in it."""
    first = True
    # A crosshead, a list item, a link: not sentences. Only when the article has sentences at all.
    whole = any(prose(p) for p in paragraphs)
    for paragraph in paragraphs:
        if not paragraph.strip() or is_credit(paragraph) or furniture(paragraph):
            continue
        if whole and not prose(paragraph) and not paragraph.rstrip().endswith(":"):
            continue
        for sentence in iter_sentences(strip_dateline(paragraph) if first else paragraph):
            yield "" if sentence.endswith(":") else sentence
        first = False


def english_summary(paragraphs: Sequence[str], budget: int = 500) -> str | None:
    """The article's opening whole sentences, about budget±20% chars (at least one sentence)."""
    low, high = budget * 4 // 5, budget * 6 // 5
    chosen: list[str] = []
    size = 0
    for sentence in _article_sentences(paragraphs):
        if not sentence:
            if chosen:
                break
            continue
        if chosen and size + 1 + len(sentence) > high:
            break
        chosen.append(sentence)
        size += len(sentence) + (1 if len(chosen) > 1 else 0)
        if size >= low:
            break
    return " ".join(chosen) or None


# --- what opens a pasted article before its first paragraph --------------------------------------------

# A photo caption's credit at its end: "... March 2, 2024. REUTERS/Gleb Garanich", "Photograph: Sergey
# Bobok/AFP/Getty Images", "(Getty Images)", "Photo: Reuters".
_PHOTO_CREDIT = re.compile(
    r"(?:\b(?:Photo(?:graph)?s?|Image|Picture|Credit|Illustration|Фото)\s*(?:by\b|:)\s*[^.!?]{2,80}"
    r"|\b[A-Z]{2,}(?:\s*/\s*[\w .'’-]{2,40})+"
    r"|\b(?:Getty Images|Shutterstock|Alamy|AP Photo|EPA-EFE|Anadolu(?: Agency)?|NurPhoto|SOPA Images|Pool"
    r"|Reuters|AFP|EPA)(?:\s+via\s+[\w ]{2,30})?)\)?\.?$")
# Second line of defence, phrases of the kinds of furniture the shape of a paragraph does not tell.
_AUDIO = re.compile(r"(?i)\blisten(?:ing)?\b.{0,30}\b(?:article|story|audio|min)|\b(?:voiced|narrated|read) by\b"
                    r".{0,30}\b(?:ai|artificial|automated|voice)|\btext[- ]to[- ]speech\b|^\d{1,2}:\d{2}(?:\s*min)?$"
                    r"|\baudio (?:version|player|article)\b")
_PROMO = re.compile(r"(?i)\b(?:subscribe|subscription|subscribers? only|sign in|log in|register(?: now| for free)?"
                    r"|free (?:articles?|trial|access)|read (?:for )?free|unlock|paywall|premium|become a member"
                    r"|already a (?:subscriber|member)|support (?:our|independent) journalism|donate|your support"
                    r"|\d+ (?:free )?articles? left)\b")
# One of these is in every match of the pattern above it: the paragraph is searched only if it has one.
_AUDIO_WORDS = ("listen", "d by", "speech", ":", "audio ")
_PROMO_WORDS = ("subscri", "sign in", "log in", "register", "free", "unlock", "paywall", "premium", "member",
                "journalism", "donate", "support", " left")
_TOOLBAR = re.compile(r"(?i)^(?:(?:share|save|gift|print|email|e-mail|comment|comments|copy link|facebook|twitter|x"
                      r"|linkedin|whatsapp|telegram|reddit|flipboard|bookmark|follow|listen|the|this|article|full"
                      r"|\d+)\b[\s·|•,/]*){1,8}$")
_LIST_HEADER = re.compile(r"(?i)^(?:most read|most popular|most viewed|trending(?: now)?|top stories|popular now"
                          r"|keep reading|read next|up next|recommended(?: for you| stories)?|more on this story"
                          r"|more from [\w ]{2,30}|more stories|you may also like|you might also like|what to read next"
                          r"|latest(?: news| stories)?|related (?:topics|stories|links))\b\W{0,3}")


def prose(paragraph: str) -> bool:
    """Whether a paragraph ends like a sentence of an article (a caption's credit, a headline, a toolbar
    or a list intro ending in ":" does not)."""
    return paragraph.rstrip("\"”’»)")[-1:] in (".", "!", "?", "…") and paragraph.count(" ") >= 2


def caption(paragraph: str) -> bool:
    """A photo caption ending with its photographer's or agency's credit."""
    if len(paragraph) >= 400 or paragraph.rsplit(None, 1)[-1][:1].islower():
        return False  # a sentence ending on a common word ("... officials said.") ends no credit
    return bool(_PHOTO_CREDIT.search(paragraph[-120:]))


def opening_kind(paragraph: str) -> str | None:
    """What a paragraph above an article's first real paragraph is, if not article text: judged by its
    shape (ends like a sentence, length, a credit at its end), then by the phrases of furniture."""
    if name := furniture(paragraph):
        return name
    if caption(paragraph):
        return "photo caption"
    short = len(paragraph) < 300
    if _LIST_HEADER.match(paragraph):
        return "headline list"
    if short and may_contain(paragraph, _AUDIO_WORDS) and _AUDIO.search(paragraph):
        return "audio player"
    if short and may_contain(paragraph, _PROMO_WORDS) and _PROMO.search(paragraph):
        return "subscription promo"
    if len(paragraph) < 120 and _TOOLBAR.match(paragraph):
        return "share toolbar"
    if not prose(paragraph) and not (paragraph.endswith(":") and _INNER_STOP.search(paragraph[:-1])):
        return "page furniture"  # but sentences before a list's intro are the article's
    return None


def list_header(paragraph: str) -> bool:
    """A "Most read", "Keep reading", "More on this story" line: the short headlines after it are links."""
    return len(paragraph) < 80 and bool(_LIST_HEADER.match(paragraph))
