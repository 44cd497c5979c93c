"""Words for ranking: case- and accent-folded (``İstif`` = ``istif``), a few stop words dropped,
English plurals made singular, so "batteries" finds "battery". Shared by BM25 and citations.

Folding is the hot part of indexing (every chunk's every character), so ASCII text takes a fast
path and accents are stripped with one regular expression over the combining-mark blocks."""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_WORD = re.compile(r"\w+")
# the combining-mark blocks: diacritical marks (+ extended, supplement), for symbols, half marks
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def fold(text: str) -> str:
    """Case- and accent-insensitive form (as product search folds): 'İstif' -> 'istif'."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return _COMBINING.sub("", decomposed).replace("ı", "i")


_STOP = ("a an and are as at be by can do does for from has have how i if in is it its my of on or so that the "
         "this to was we what when where which who why will with you your bir bu da de ve ile için mi mı ne")
STOP_WORDS = frozenset(fold(word) for word in _STOP.split(" "))


def tokenize(text: str) -> list[str]:
    return [_singular(word) for word in _WORD.findall(fold(text)) if len(word) > 1 and word not in STOP_WORDS]


@lru_cache(maxsize=65536)
def _singular(word: str) -> str:
    """A crude English singular, enough for 'batteries'/'battery' and 'boxes'/'box'."""
    if len(word) <= 3 or not word.endswith("s") or word.endswith(("ss", "us", "is")):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ses", "xes", "ches", "shes")):
        return word[:-2]
    return word[:-1]
