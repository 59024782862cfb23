"""Language identification: the script decides Latin vs Cyrillic, lingua decides the rest.

Policy (documented in docs/document-format.md):

* Cyrillic text is Ukrainian or Russian: the letters only one alphabet has decide where
  they can, lingua (restricted to those two languages) where they cannot. Russian is never relabelled Ukrainian: the
  reader drops Russian titles and summary paragraphs with a warning, and rejects
  the file if that leaves no title at all.
* Latin text is English unless lingua is confident it is another language. Short
  English titles full of names ("NATO summit in Vilnius") often score below 50%
  English, so short text is English; longer samples (an article paragraph) count as
  "other" whenever another language wins.
* An article paragraph (`prose`) of 12 words or more without a single common English word is
  not English whatever lingua says: its trigram models call Ukrainian in Latin
  transliteration ("Rosiia ta Pivnichna Koreia dosiahly uhody...") English.
"""

from __future__ import annotations

import re
from typing import Literal

from lingua import Language, LanguageDetector, LanguageDetectorBuilder

Script = Literal["latin", "cyrillic"]
Detected = Literal["en", "uk", "ru", "other"]

SAMPLE_CHARS = 240  # lingua's cost grows with length; an opening this long is decisive
SCRIPT_CHARS = 100  # enough letters to tell two scripts apart
SHORT_TEXT = 120  # below this, Latin text is judged by the lenient title rule
PROSE_WORDS = 12  # prose this long with no common English word is not English

_URL = re.compile(r"https?://\S+")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
_WORDS = re.compile(r"[a-z]+")
# Function words of English that the other Latin-script candidates do not use; text
# rich in them is English without asking lingua (whose Latin models cost ~1 s to load).
_ENGLISH_WORDS = frozenset(
    "the and of to is for with that at by from was were are has have had said says will"
    " after over its it on as be this their his her who not but they he she we".split()
)
_ENGLISH_BYTES = frozenset(word.encode() for word in _ENGLISH_WORDS)
# Every byte but a-z becomes a space: splitting ASCII text then gives what [a-z]+ finds, ~7x faster.
_ONLY_LETTERS = bytes(b if 0x61 <= b <= 0x7A else 0x20 for b in range(256))
_UK_ONLY = re.compile(r"[іїєґІЇЄҐ]")
_RU_ONLY = re.compile(r"[ыэъёЫЭЪЁ]")
_LATIN_LANGS = (
    Language.ENGLISH,
    Language.GERMAN,
    Language.FRENCH,
    Language.SPANISH,
    Language.ITALIAN,
    Language.POLISH,
)
_CYRILLIC_LANGS = (Language.UKRAINIAN, Language.RUSSIAN)


_detectors: dict[Script, LanguageDetector] = {}


def detector(script: Script = "latin", *, at_once: bool = False) -> LanguageDetector:
    """One lingua detector per script, built on first use: deciding uk vs ru never loads Latin models.

    The Latin one runs in lingua's low-accuracy mode (trigrams only), meant for text of a
    sentence or more, which is all it is asked about: 16 MB and 10 ms to load instead of
    ~190 MB and 1.5 s.

    The Cyrillic one has the full models (~100 MB): low-accuracy mode would save most of that, but
    it called "Друга частина резюме про війну." Russian with 94% confidence; on short snippets the
    letter rule cannot decide, full models are right 99.4% of the time, trigrams 98.8%
    (tests/unit/documents/test_language.py checks the full models stay >= 97%). They load on first use, one
    language at a time; `at_once` loads both in parallel, twice as fast but with a transient peak
    ~40 MB over the steady size.
    """
    found = _detectors.get(script)
    if found is None:
        if script == "cyrillic":
            builder = LanguageDetectorBuilder.from_languages(*_CYRILLIC_LANGS)
            found = (builder.with_preloaded_language_models() if at_once else builder).build()
        else:
            found = LanguageDetectorBuilder.from_languages(*_LATIN_LANGS).with_low_accuracy_mode().build()
        _detectors[script] = found
    return found


def warm_up() -> None:
    """Load both detectors' models now, at once: for the parser processes' fork server, which holds
    nothing else whose peak the transient could add to."""
    # A snippet lingua's letter rules cannot settle, so every n-gram model of both languages loads.
    snippet = "Друга частина резюме про війну."
    detector("cyrillic", at_once=True).compute_language_confidence_values(snippet)
    detector().compute_language_confidence_values("The leaders met at a remote launch facility")


def _sample(text: str, size: int = SAMPLE_CHARS) -> str:
    # URLs are Latin letters that say nothing about the language around them.
    head = text[: size * 2]
    return _URL.sub(" ", head)[:size] if "://" in head else head[:size]


def script_of(text: str) -> Script | None:
    """The dominant script of `text` (URLs ignored), or None if it has no letters."""
    sample = _sample(text, SCRIPT_CHARS)
    if sample.isascii():  # O(1) in CPython, and true of most English paragraphs
        return "latin" if _LATIN.search(sample) else None
    cyrillic = len(_CYRILLIC.findall(sample))
    latin = len(_LATIN.findall(sample))
    if cyrillic == 0 and latin == 0:
        return None
    # Ukrainian text routinely quotes Latin names (NATO, Kim Jong Un); English text almost never
    # carries Cyrillic. So a Cyrillic letter outweighs a Latin one.
    return "cyrillic" if 2 * cyrillic >= latin else "latin"


_WORD_SCRIPT = re.compile(r"[^\W\d_]+")
_CYRILLIC_FUNCTION_WORDS = frozenset("і й та у в на з із зі до за від про що як не для після через проти між "
                                     "під над та чи але або його її їх це й и с о по к от что".split())


def title_script(text: str) -> Script | None:
    """The script of a title, by its words: a Ukrainian headline naming "Apple, Microsoft and Nvidia" has
    more Latin letters than Cyrillic ones, but English headlines have no Cyrillic words at all."""
    if text.isascii():
        return script_of(text)
    cyrillic = latin = 0
    # A Cyrillic function word or a word in lower case: the sentence itself is Cyrillic, not a quoted name.
    joined = False
    for word in _WORD_SCRIPT.findall(text):
        if word.isascii():  # letters of A-Z only, so Latin: no regex needed
            latin += 1
        elif _CYRILLIC.search(word):
            cyrillic += 1
            joined = joined or word.islower() or word.lower() in _CYRILLIC_FUNCTION_WORDS
        elif _LATIN.search(word):
            latin += 1
    if cyrillic > latin or (cyrillic and joined):
        return "cyrillic"
    return "latin" if latin else script_of(text)


def _cyrillic_language(sample: str) -> Detected:
    uk_only, ru_only = len(_UK_ONLY.findall(sample)), len(_RU_ONLY.findall(sample))
    if uk_only >= 4 and not ru_only:  # Russian never has і/ї/є/ґ this often without ы/э/ъ/ё
        return "uk"
    if ru_only and not uk_only:  # Ukrainian has no ы/э/ъ/ё at all
        return "ru"
    values = {c.language: c.value for c in detector("cyrillic").compute_language_confidence_values(sample)}
    uk, ru = values.get(Language.UKRAINIAN, 0.0), values.get(Language.RUSSIAN, 0.0)
    if uk == ru:  # lingua abstained: fall back on the letters only one alphabet has
        return "ru" if len(_RU_ONLY.findall(sample)) > len(_UK_ONLY.findall(sample)) else "uk"
    return "uk" if uk > ru else "ru"


def _latin_language(sample: str, prose: bool = False) -> Detected:
    lowered = sample.lower()
    words: list[str] | list[bytes]
    if lowered.isascii():  # every paragraph of an English article
        words = lowered.encode().translate(_ONLY_LETTERS).split()
        hits = sum(map(_ENGLISH_BYTES.__contains__, words))
    else:
        words = _WORDS.findall(lowered)
        hits = sum(map(_ENGLISH_WORDS.__contains__, words))
    if hits and (len(words) < 10 or hits * 10 >= len(words)):
        return "en"
    if prose and not hits and len(words) >= PROSE_WORDS:
        return "other"
    if len(sample) < SHORT_TEXT:
        # On short English titles of names ("Kim Jong Un", "Ukraine war: talks resume in
        # Istanbul") lingua guesses German or Polish with high confidence: it cannot tell, and
        # the team writes English and Ukrainian only, so short Latin-script text is English.
        return "en"
    values = {c.language: c.value for c in detector().compute_language_confidence_values(sample)}
    english = values.get(Language.ENGLISH, 0.0)
    return "en" if not values or english >= max(values.values()) else "other"


def detect(text: str, *, prose: bool = False, script: Script | None = None) -> Detected | None:
    """The language of `text`: "en", "uk", "ru", "other", or None if it has no letters.

    `prose`: `text` is a paragraph of an article, not a title (see the policy above). `script`: its
    script_of, when the caller has it already (the parser asks for every paragraph's)."""
    kind = script or script_of(text)
    if kind is None:
        return None
    sample = _sample(text).strip()
    return _cyrillic_language(sample) if kind == "cyrillic" else _latin_language(sample, prose)
