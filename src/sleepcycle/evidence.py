"""Reading a proposed memory against the lines it cites: who it is about, what it negates, and
how much of it the lines say.

A chat line means different things depending on who says it: in "Caroline: I went to a support
group", *I* is Caroline; in "Caroline: glad you had fun, Mel", *you* is Melanie. A memory about
a participant must rest on a line that speaks about them: one they said themselves, or one
that addresses them (*you*) or names them (first names and their short forms, "Mel"). What
decides is whom the line says the memory's words of: the nearest *I*, *you* or name before
each of them, where a name only called out ("Hey Mel,") says nothing of Mel. A negation is
read over the words it negates: "don't give up" grounds "not to give up", and an unrelated
"isn't" in the same line grounds no other "not".

These are code checks on surface form, tuned on a benchmark (``benchmarks/quality.py``): they
catch a memory that names the wrong person, negates what was said, or says something the lines
do not, and they can be fooled by paraphrase. The verifier model reads the same lines after
them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .grounding import fold, stem
from .prompts import render
from .recall import STOPWORDS

__all__ = [
    "Line",
    "addressed",
    "aligned",
    "content_words",
    "coverage",
    "judge_question",
    "negated",
    "subject_of",
]

_WORD = re.compile(r"[^\W\d_][\w'’-]*")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\s+[-–—]\s+|\n+")
_NEGATION = re.compile(
    r"\b(not|never|no|nobody|nothing|none|neither|nor|without|cannot|hardly|nah|nope)\b|"
    r"n['’]t\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Line:
    """One cited line: who said it (None when unnamed, as the assistant often is) and what."""

    speaker: str | None
    text: str


def content_words(text: str, ignore: Iterable[str] = ()) -> set[str]:
    """The stems of the words that carry meaning: no function words, no names in ``ignore``."""
    skip = {fold(x) for x in ignore}
    found: set[str] = set()
    for word in _WORD.findall(text):
        folded = re.sub(r"['’]s$", "", fold(word))
        if len(folded) >= 3 and folded not in STOPWORDS and folded not in skip:
            found.add(stem(folded))
    return found


def sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE.split(text) if s.strip()] or [text]


def aligned(claim: str, text: str, ignore: Iterable[str] = (), most: int = 1) -> str:
    """The sentence of ``text`` that shares most content words with ``claim`` (with
    ``most``, that many of the best, in the order of the text)."""
    names = list(ignore)
    words = content_words(claim, names)
    parts = sentences(text)
    ranked = sorted(range(len(parts)), key=lambda i: -len(words & content_words(parts[i], names)))
    return " ".join(parts[i] for i in sorted(ranked[:most]))


def coverage(claim: str, evidence: Sequence[str], ignore: Iterable[str] = ()) -> float:
    """The share of the claim's content words that the evidence has (1.0 with none)."""
    names = list(ignore)
    words = content_words(claim, names)
    if not words:
        return 1.0
    said: set[str] = set()
    for text in evidence:
        said |= content_words(text, names)
    return len(words & said) / len(words)


def _named(text: str, person: str) -> bool:
    """Whether ``text`` names ``person``, in full or by a short form ("Mel", "Deb")."""
    full = fold(person)
    for word in _WORD.findall(text):
        folded = re.sub(r"['’]s$", "", fold(word))
        if folded == full or (word[0].isupper() and len(folded) >= 3 and full.startswith(folded)):
            return True
    return False


def subject_of(claim: str, participants: Iterable[str]) -> str | None:
    """The participant a claim names first (its subject, in the way memories are written)."""
    first: tuple[int, str] | None = None
    for person in participants:
        match = re.search(rf"\b{re.escape(person)}\b", claim)
        if match and (first is None or match.start() < first[0]):
            first = (match.start(), person)
    return first[1] if first else None


def addressed(claim: str, lines: Sequence[Line], participants: Sequence[str]) -> bool:
    """Whether the cited lines speak about the person the claim is about: said by them, or
    (when the claim does not also name the speaker) telling them or naming them.

    Whom the line says the claim's words of decides (``_holders``): "Hey Nate, I love this
    cake" is about the speaker, not Nate (who is only called by name); "You're so talented"
    is about the one addressed, even when the speaker is the claim's subject, unless the
    claim is the subject's act towards them ("encourages", "thanks"); words said of no one
    lean to the speaker."""
    subject = subject_of(claim, participants)
    if subject is None:
        return True
    names_both = sum(1 for p in participants if re.search(rf"\b{re.escape(p)}\b", claim)) > 1
    for line in lines:
        if line.speaker is None:
            return True
        holders = _holders(claim, line.text, participants)
        told = holders[_ADDRESSEE]
        if fold(line.speaker) == fold(subject):
            if told > holders.total() - told and not names_both and not _ACTS.search(claim):
                continue  # the speaker says it of the one they talk to
            return True
        if names_both:
            continue  # "A thanks B" rests on A's line: A is the one acting
        if told + holders[subject] > holders[_SPEAKER]:
            return True
    return False


_SPEAKER, _ADDRESSEE = "speaker", "addressee"
_FIRST_WORDS = frozenset(
    "i i'm i've i'd i'll me my mine myself we we're we've we'd we'll our ours ourselves us".split()  # noqa: SIM905
)
_SECOND_WORDS = frozenset(
    "you you're you've you'd you'll your yours yourself yourselves ya u".split()  # noqa: SIM905
)
_THIRD_WORDS = frozenset("he he's she she's his her hers him they they're their them".split())  # noqa: SIM905
_CALLING = frozenset(
    """hey hi hello thanks thank congrats congratulations wow yeah yep yes yup oh ok okay
    sorry dear aw aww well no nope haha lol omg hmm ah great sure cool right good""".split()  # noqa: SIM905
)
_ASKING_WORDS = frozenset(
    """do does did have has had are is was were can could would will should any what how why
    when where who which whose""".split()  # noqa: SIM905
)
# what a subject does to or says to someone: "Gina encourages Jon" rests on Gina's "you can"
_ACTS = re.compile(
    r"\b(ask|say|tell|encourag|advis|suggest|recommend|remind|thank|appreciat|support|prais|"
    r"compliment|congratulat|admir|reassur|assur|motivat|inspir|offer|invit|urg|wish|hope|"
    r"comfort|agree|express|mention|share|note|point|acknowledg|believ|apolog|"
    r"check|reach|reply|respond|answer|cheer|applaud|commend|celebrat|welcom|warn|caution|"
    r"emphasi|stress|insist|explain|describ|discuss|highlight|talk|promis|reflect)\w*",
    re.IGNORECASE,
)


def _tokens(text: str) -> list[re.Match[str]]:
    return list(_WORD.finditer(text.replace("’", "'")))


def _vocative(text: str, match: re.Match[str], before: re.Match[str] | None) -> bool:
    """Whether the word at ``match`` calls someone by name ("Hey Nate," "Thanks, Jon!")
    rather than saying something of them."""
    after = text[match.end() :].lstrip()
    if after and after[0] not in ",!.?;:":
        return False
    between = text[before.end() : match.start()] if before else text[: match.start()]
    return before is None or "," in between or fold(before.group()) in _CALLING


def _is_name(word: str, participants: Sequence[str]) -> bool:
    return any(_named(word, person) for person in participants)


def _holders(claim: str, text: str, participants: Sequence[str]) -> Counter[str | None]:
    """Of whom the line says what the claim says: for each of the claim's words in it, the
    nearest person word before it in its sentence (``_SPEAKER`` for I or we, ``_ADDRESSEE``
    for you, a participant's name, None for he, she or they), counted twice; a word with no
    person word before it ("it's stunning") counts once, as the speaker's. A question says
    nothing of the one it asks ("do you hike?"), though "you painted that?" does."""
    words = content_words(claim, participants)
    found: Counter[str | None] = Counter()
    for sentence in sentences(text.replace("’", "'")):
        opening = _WORD.match(sentence.lstrip())
        asks = sentence.rstrip().endswith("?") and bool(
            opening and fold(opening.group()) in _ASKING_WORDS
        )
        tokens = _tokens(sentence)
        for at, m in enumerate(tokens):
            word = stem(re.sub(r"'s$", "", fold(m.group())))
            if word in words and not _is_name(m.group(), participants):
                holder = _person_before(sentence, tokens, at, participants, asks)
                if holder == _NO_ONE:
                    found[_SPEAKER] += 1
                else:
                    found[holder] += 2
    return found


_NO_ONE = "no one"


def _person_before(
    sentence: str, tokens: list[re.Match[str]], at: int, participants: Sequence[str], asks: bool
) -> str | None:
    """The person the nearest person word before ``tokens[at]`` stands for (``_NO_ONE``
    when there is none)."""
    for i in range(at - 1, -1, -1):
        near = tokens[i]
        folded = fold(near.group())
        if folded in _FIRST_WORDS:
            return _SPEAKER
        if folded in _SECOND_WORDS:
            return None if asks else _ADDRESSEE
        if folded in _THIRD_WORDS:
            return None
        if _is_name(near.group(), participants) and not _vocative(
            sentence, near, tokens[i - 1] if i else None
        ):
            return next(p for p in participants if _named(near.group(), p))
    return _NO_ONE


def negated(claim: str, lines: Sequence[Line], participants: Sequence[str]) -> bool:
    """Whether the claim negates what its lines affirm: a negation of the claim has no
    negation in the lines over the same words ("encourages him not to give up" rests on
    "don't give up"; "isn't always easy, but it's important" does not make "it is not
    important" so). A negation with no words after it needs one in the sentence that carries
    the claim."""
    if not _NEGATION.search(claim):
        return False
    said = [scope for line in lines for scope in _negated_words(line.text, participants, 5)]
    for scope in _negated_words(claim, participants, 4):
        if scope and not any(_overlap(scope, other) for other in said):
            return True
        if not scope and not any(
            _NEGATION.search(aligned(claim, line.text, participants)) for line in lines
        ):
            return True
    return False


def _negated_words(text: str, ignore: Sequence[str], span: int) -> list[set[str]]:
    """For each negation in ``text``, the stems of the content words of the ``span`` words
    after it, in its sentence."""
    scopes = []
    for sentence in sentences(text.replace("’", "'")):
        tokens = [m.group() for m in _tokens(sentence)]
        for i, token in enumerate(tokens):
            if _NEGATION.fullmatch(token) or re.search(r"n't$", token, re.IGNORECASE):
                scopes.append(content_words(" ".join(tokens[i + 1 : i + 1 + span]), ignore))
    return scopes


def _overlap(a: set[str], b: set[str]) -> bool:
    """Whether two sets of stems share a word, counting "giv" and "give" as one."""
    return any(
        x == y or (min(len(x), len(y)) >= 3 and (x.startswith(y) or y.startswith(x)))
        for x in a
        for y in b
    )


JUDGE_LINE_CHARS = 600  # a cited line longer than this is shown by its start


def judge_question(lines: Sequence[str], memory: str) -> str:
    """The verifier's judge's question: does ``memory`` follow from ``lines``? (The judge
    adapter is trained on this wording: ``sleepcycle.train.judgedata``.)"""
    shown = "\n".join(f"- {line[:JUDGE_LINE_CHARS]}" for line in lines) or "(none)"
    return render("judge", lines=shown, memory=memory)
