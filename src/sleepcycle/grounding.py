"""Code-side grounding checks: a memory may only say what its evidence says.

The names, numbers and dates in a proposed memory must appear in its evidence (the cited
episodes with the lines around them, the memories it rewrites, the names of the night's
participants). This runs before any verifier model and catches what a small model most often
gets wrong: a name, a number or a date it made up. Claims are capitalised words, numbers
(digits and number words: "three" is grounded by "3"), and times relative to the conversation
("last week", "two days ago", "yesterday"; vague ones such as "recently" claim nothing).
Comparison ignores case and accents and tolerates simple inflection ("Lisbon's", "moved" /
"moving").
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from .recall import STOPWORDS

__all__ = ["claims", "fold", "stem", "ungrounded"]

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
_NUMBERS = """zero one two three four five six seven eight nine ten eleven twelve thirteen
fourteen fifteen sixteen seventeen eighteen nineteen twenty"""
NUMBER_WORDS = {word: str(value) for value, word in enumerate(_NUMBERS.split())} | {
    "thirty": "30",
    "forty": "40",
    "fifty": "50",
    "hundred": "100",
    "dozen": "12",
}
_COUNTED = frozenset(NUMBER_WORDS) - {"zero", "one"}  # "one of them" claims no number
_DAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_DAY_SHORT = {
    "mon": "monday", "tue": "tuesday", "tues": "tuesday", "wed": "wednesday",
    "thu": "thursday", "thur": "thursday", "thurs": "thursday", "fri": "friday",
    "sat": "saturday", "sun": "sunday",
}  # fmt: skip
_TIME = re.compile(
    rf"\b(?:(?:last|next|this|past)\s+(?:week|weekend|month|year|summer|winter|spring|fall|"
    rf"autumn|night|{_DAYS}|{'|'.join(_DAY_SHORT)})\.?|"
    r"(?:\w+\s+)?(?:days?|weeks?|months?|years?|decades?)\s+ago|yesterday|tomorrow|tonight)\b",
    re.IGNORECASE,
)
_NEAR = 0.85  # a name this close to a word of the evidence is that word, misspelt
_NEAR_LENGTH = 6  # in names at least this long


def fold(text: str) -> str:
    """Lower case without accents."""
    return _fold(text)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def stem(word: str) -> str:
    """A word folded and stripped of a simple inflection."""
    return _stem(word)


def _stem(word: str) -> str:
    word = re.sub(r"['’]s?$", "", _fold(word))  # James's, Rings' -> james, rings
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _numbers_as_digits(text: str) -> str:
    words = re.findall(r"\w+", _fold(text))
    return " ".join(NUMBER_WORDS.get(w, _DAY_SHORT.get(w, w)) for w in words)


def times(text: str) -> list[str]:
    """The relative times a text states, normalised ("two days ago" -> "2 days ago")."""
    return list(dict.fromkeys(_numbers_as_digits(m.group()) for m in _TIME.finditer(text)))


def claims(text: str) -> list[str]:
    """The names (capitalised words), numbers (digits and number words) and relative times a
    text asserts."""
    found: list[str] = []
    for match in _NAME.finditer(text):
        word = match.group().rstrip("'’-")
        head, _, rest = word.partition("-")
        if rest and rest.islower():
            word = head  # "Potter-related" claims Potter
        if word[0].isupper() and _fold(word) not in STOPWORDS and _fold(word) not in _GENERIC:
            found.append(word)
    found.extend(_NUMBER.findall(text))
    found.extend(w for w in re.findall(r"[^\W\d_]+", text) if _fold(w) in _COUNTED)
    found.extend(times(text))
    return list(dict.fromkeys(found))


@dataclass(frozen=True, slots=True)
class _Said:
    """What a body of evidence says, in the forms claims are matched against."""

    words: set[str]
    numbers: set[str]
    times: set[str]

    @classmethod
    def of(cls, corpus: str) -> _Said:
        numbers = set(_NUMBER.findall(corpus)) | {
            NUMBER_WORDS[w] for w in re.findall(r"\w+", _fold(corpus)) if w in NUMBER_WORDS
        }
        numbers |= {n.lstrip("0") or "0" for n in numbers}
        said_times = set(times(corpus))
        days = {w for t in said_times for w in t.split() if w in _DAYS.split("|")}  # "Fri"
        return cls({_stem(w) for w in _NAME.findall(corpus)} | days, numbers, said_times)

    def grounds(self, claim: str) -> bool:
        folded = _fold(claim)
        if " " in claim or folded in ("yesterday", "tomorrow", "tonight"):  # a relative time
            return folded in self.times
        if claim[0].isdigit():
            return claim in self.numbers or (claim.lstrip("0") or "0") in self.numbers
        if folded in _COUNTED:
            return NUMBER_WORDS[folded] in self.numbers
        word = _stem(claim)
        if word in self.words:
            return True
        if len(word) < _NEAR_LENGTH:
            return False
        alike = [w for w in self.words if w[:1] == word[:1] and len(w) >= _NEAR_LENGTH]
        return bool(difflib.get_close_matches(word, alike, n=1, cutoff=_NEAR))


def ungrounded(text: str, evidence: Iterable[str]) -> list[str]:
    """The claims of ``text`` that appear nowhere in ``evidence``."""
    said = _Said.of(" ".join(evidence))
    return [claim for claim in claims(text) if not said.grounds(claim)]
