"""Code-side grounding checks: a memory may only say what its evidence says.

The names, numbers and dates in a proposed memory must appear in its sources (the cited
episodes, and the memories it rewrites). This runs before any verifier model and catches what a
small model most often gets wrong: a name, a number or a date it made up. Comparison ignores
case and accents and tolerates simple inflection ("Lisbon's", "moved" / "moving").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from ..recall import STOPWORDS

__all__ = ["claims", "ungrounded"]

_NAME = re.compile(r"\b[^\W\d_][\w'’\-]*", re.UNICODE)
_NUMBER = re.compile(r"\d+(?:[.:,]\d+)*")
# Capitalised words that carry no claim of their own.
_GENERIC = frozenset(
    """user assistant they them their she her he his it its i we you yes no also today
    yesterday tomorrow now then later ask remind check consider follow find suggest tell try
    offer recommend keep remember note avoid use prefer plan learn maybe perhaps usually
    often sometimes always never every each most many some several one two both either
    neither""".split()  # noqa: SIM905 - a word list reads best as text
)
_SUFFIXES = ("'s", "’s", "ing", "ed", "es", "s")


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _stem(word: str) -> str:
    word = _fold(word)
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def claims(text: str) -> list[str]:
    """The names (capitalised words), numbers and dates a text asserts."""
    found: list[str] = []
    for match in _NAME.finditer(text):
        word = match.group()
        if word[0].isupper() and _fold(word) not in STOPWORDS and _fold(word) not in _GENERIC:
            found.append(word)
    found.extend(_NUMBER.findall(text))
    return list(dict.fromkeys(found))


def ungrounded(text: str, evidence: Iterable[str]) -> list[str]:
    """The claims of ``text`` that appear nowhere in ``evidence``."""
    corpus = " ".join(evidence)
    words = {_stem(w) for w in _NAME.findall(corpus)}
    numbers = set(_NUMBER.findall(corpus))
    digits = {n.lstrip("0") or "0" for n in numbers}
    missing: list[str] = []
    for claim in claims(text):
        if claim[0].isdigit():
            if claim not in numbers and (claim.lstrip("0") or "0") not in digits:
                missing.append(claim)
        elif _stem(claim) not in words:
            missing.append(claim)
    return missing
