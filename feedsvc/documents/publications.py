"""Publications: the names editors write in a source line, mapped to one name per publication.

Editors write "AP", "AP News" or "Associated Press" for the same agency; readers filter and
group by category, so every spelling below becomes the name on the right. Extend the table
freely: keys are compared case-insensitively, with dots and "the" ignored.
"""

from __future__ import annotations

import re
import unicodedata

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
