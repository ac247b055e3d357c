"""False copies of true memories, for judging verification (``quality.py``).

Each function takes one true statement (a LoCoMo reference observation about ``subject``) and
returns a corrupted copy, or ``None`` when the statement offers nothing to corrupt that way:

- ``entity``: a name or place (a capitalised word that is not a participant) swapped for
  another from the same conversation that its cited lines do not mention;
- ``number``: a number, a number word, a month, a weekday or a relative time changed;
- ``negation``: the statement negated ("never", or "not" after an auxiliary);
- ``speaker``: the other participant named as its subject;
- ``foreign``: a true statement from an unrelated session, to be cited to these turns.

The choices are seeded by the statement, so a run is repeatable. Nothing here is used to
build the project's models: LoCoMo is the evaluation.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

__all__ = ["KINDS", "entity", "foreign", "negation", "number", "speaker"]

KINDS = ("entity", "number", "negation", "speaker", "foreign")

_WORD = re.compile(r"\b[A-Z][\w'’-]*")
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()  # noqa: SIM905
NUMBER_WORDS = [
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "twenty",
    "thirty",
    "hundred",
]
RELATIVE = {
    "yesterday": "last month",
    "today": "last year",
    "tomorrow": "next year",
    "last week": "last year",
    "last weekend": "last summer",
    "last month": "last week",
    "last year": "last week",
    "next week": "next year",
    "next month": "next week",
    "next year": "next week",
    "recently": "years ago",
    "soon": "years ago",
}
AUXILIARIES = [
    "is",
    "are",
    "was",
    "were",
    "has",
    "have",
    "had",
    "can",
    "could",
    "will",
    "would",
    "should",
    "does",
    "did",
    "may",
    "might",
    "must",
]
_NOT_ENTITIES = {m.casefold() for m in (*MONTHS, *DAYS)} | {
    "i", "the", "a", "an", "she", "he", "they", "it", "this", "that", "her", "his", "their",
    "lgbtq", "mr", "mrs", "ms", "dr",
}  # fmt: skip


def _rng(text: str, kind: str) -> random.Random:
    return random.Random(f"{kind}:{text}")


def entities(text: str, participants: Sequence[str]) -> list[str]:
    """Capitalised words of ``text`` that name something other than a participant."""
    people = {p.casefold() for p in participants}
    found = []
    for match in _WORD.finditer(text):
        word = re.sub(r"['’]s?$", "", match.group())
        folded = word.casefold()
        if len(word) >= 3 and folded not in people and folded not in _NOT_ENTITIES:
            found.append(word)
    return list(dict.fromkeys(found))


def entity(text: str, participants: Sequence[str], pool: Sequence[str], cited: str) -> str | None:
    """One entity swapped for another of the conversation's, absent from the cited lines."""
    own = entities(text, participants)
    if not own:
        return None
    rng = _rng(text, "entity")
    target = rng.choice(own)
    if not re.search(rf"\b{re.escape(target)}\b", text):
        return None
    folded_cited = cited.casefold()
    options = [e for e in pool if e not in own and e.casefold() not in folded_cited and e != target]
    if not options:
        return None
    return re.sub(rf"\b{re.escape(target)}\b", rng.choice(options), text, count=1)


def number(text: str) -> str | None:
    """A number, number word, month, weekday or relative time changed to another."""
    rng = _rng(text, "number")
    digits = list(re.finditer(r"\b\d+\b", text))
    if digits:
        match = rng.choice(digits)
        value = int(match.group())
        changed = value + rng.choice((1, 2, 3)) if value < 1900 else value - rng.choice((1, 2))
        return text[: match.start()] + str(changed) + text[match.end() :]
    for names in (MONTHS, DAYS, NUMBER_WORDS):
        pattern = r"\b(" + "|".join(names) + r")\b"
        found = list(re.finditer(pattern, text, re.IGNORECASE))
        if found:
            match = rng.choice(found)
            word = match.group()
            others = [n for n in names if n.casefold() != word.casefold()]
            new = rng.choice(others)
            new = new.capitalize() if word[0].isupper() else new
            return text[: match.start()] + new + text[match.end() :]
    for phrase, other in RELATIVE.items():
        found_phrase = re.search(rf"\b{phrase}\b", text, re.IGNORECASE)
        if found_phrase:
            return text[: found_phrase.start()] + other + text[found_phrase.end() :]
    return None


def negation(text: str, subject: str) -> str | None:
    """The statement negated at its first verb after the subject (None if already negative)."""
    if re.search(r"\b(not|never|no|n't|nobody|nothing)\b|n’t", text, re.IGNORECASE):
        return None
    match = re.search(rf"\b{re.escape(subject)}(?:'s|’s)?\b", text)
    start = match.end() if match else 0
    tail = text[start:]
    words = list(re.finditer(r"[A-Za-z'’]+", tail))
    if not words:
        return None
    for w in words[:4]:
        if w.group().casefold() in AUXILIARIES:
            cut = start + w.end()
            return text[:cut] + " not" + text[cut:]
    first = words[0]
    cut = start + first.start()
    return text[:cut] + "never " + text[cut:]


def speaker(text: str, subject: str, other: str) -> str | None:
    """The other participant in place of the subject; where both are named they trade places
    ("A thanks B" becomes "B thanks A"), so the sentence still reads."""
    if not re.search(rf"\b{re.escape(subject)}\b", text):
        return None
    names = {subject: other, other: subject}
    pattern = rf"\b({re.escape(subject)}|{re.escape(other)})\b"
    return re.sub(pattern, lambda m: names[m.group()], text)


def foreign(text: str, others: Sequence[str]) -> str | None:
    """A statement from an unrelated session (``others``), chosen by a seed from ``text``."""
    if not others:
        return None
    return _rng(text, "foreign").choice(list(others))
