"""Question/answer pairs from memories: written by the dreamer, checked by code, then judged by
the verifier, as memories are.

Where code can find the answer in the memory itself (a name, a number, a date, or what follows
"is", "called", "in" ...), it picks the answer and the dreamer only writes questions for it: a
small model writes usable questions far more often than usable answers. Otherwise the dreamer
writes both. Either way an answer must be a span of the memory's text, and a question must
ask about the memory (share a word with it besides the answer) without giving the answer away.

Each memory gets ``pairs_per_memory + probes_per_memory`` questions; the first
``probes_per_memory`` that pass are held out as probes (never trained on), the rest become
training examples. Pairs are kept per memory version, so a memory that has not changed is not
asked about again on the next training.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, Field

from ..grounding import claims
from ..models import Message, ReplyError, parse_reply
from ..prompts import render
from ..recall import STOPWORDS
from .probes import normalize

__all__ = ["Ask", "Pair", "Source", "answers_in", "check_pair", "cloze", "pairs_for"]

T = TypeVar("T", bound=BaseModel)
_MAX_ANSWER_WORDS = 8
_TOKEN = re.compile(r"[\w'’\-]+(?:[.:,/][\w]+)*|[^\w\s]", re.UNICODE)
# What follows one of these (to the end of the clause) answers "what / where / who ...?".
_TAIL = re.compile(
    r"\b(?:is|are|was|were|called|named|in|at|from|to|likes?|loves?|prefers?|uses?)\s+"
    r"(?P<tail>[^,.;:!?]+?)\s*(?:[,.;:!?]|$)",
    re.IGNORECASE,
)
# Words any question may use that its memory need not contain.
_ASKING = frozenset(
    re.findall(
        r"\w+",
        "what which who whom whose where when why how much many name named called kind type "
        "sort do does did tell remember know favourite favorite person city town place "
        "country year day time job quick question fill blank",
    )
)
_LEADING = re.compile(r"^(?:the|a|an|my|her|his|their|its)\s+", re.IGNORECASE)


class Ask(Protocol):
    """Asks a role and returns its validated reply (a sleep's recorded ``ctx.ask``, or a
    plain call for ``sleepcycle train``)."""

    def __call__(
        self,
        role: str,
        key: str,
        messages: Sequence[Message],
        schema: Mapping[str, Any],
        parse: Callable[[str], T],
    ) -> T: ...


@dataclass(frozen=True, slots=True)
class Source:
    """What pairs are written about: a memory (at a version), or the persona."""

    id: str
    version: int
    text: str


@dataclass(frozen=True, slots=True)
class Pair:
    question: str
    answer: str
    source: str  # memory id, or "persona"


class _PairReply(BaseModel):
    question: str = Field(min_length=1, max_length=300)
    answer: str = Field(min_length=1, max_length=200)


class _PairsReply(BaseModel):
    pairs: list[_PairReply] = Field(max_length=16)


class _QuestionsReply(BaseModel):
    questions: list[str] = Field(max_length=16)


class _ScoresReply(BaseModel):
    scores: list[int] = Field(max_length=16)


def _pairs_schema(count: int) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "pairs": {
                "type": "array",
                "minItems": count,
                "maxItems": count,
                "items": {
                    "type": "object",
                    "properties": {
                        "question": {"type": "string", "maxLength": 160},
                        "answer": {"type": "string", "maxLength": 60},
                    },
                    "required": ["question", "answer"],
                    "additionalProperties": False,
                },
            }
        },
        "required": ["pairs"],
        "additionalProperties": False,
    }


def _questions_schema(count: int) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "questions": {
                "type": "array",
                "minItems": count,
                "maxItems": count,
                "items": {"type": "string", "minLength": 8, "maxLength": 160},
            }
        },
        "required": ["questions"],
        "additionalProperties": False,
    }


def _scores_schema(count: int) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "scores": {
                "type": "array",
                "minItems": count,
                "maxItems": count,
                "items": {"type": "integer", "enum": [0, 1]},
            }
        },
        "required": ["scores"],
        "additionalProperties": False,
    }


def check_pair(question: str, answer: str, text: str) -> str | None:
    """What is wrong with a pair for a memory's text, before any model judges it."""
    question, answer = question.strip(), answer.strip()
    said, asked, expected = normalize(text), normalize(question), normalize(answer)
    if not question.endswith("?"):
        return "the question does not end with a question mark"
    if not expected or len(expected.split()) > _MAX_ANSWER_WORDS:
        return f"the answer must be a few words (at most {_MAX_ANSWER_WORDS})"
    if f" {expected} " not in f" {said} ":
        return "the answer is not words of the memory"
    if f" {expected} " in f" {asked} ":
        return "the question gives the answer away"
    return _off_topic(asked, expected, said)


def _off_topic(asked: str, expected: str, said: str) -> str | None:
    """A question must use the memory's words (besides the answer's) and no other content
    word: "What is Maya's cat called?" does not fit "Maya lives in Tromsø"."""
    known = {_stem(w) for w in said.split()} - {_stem(w) for w in expected.split()}
    content = {
        _stem(w) for w in asked.split() if len(w) > 1 and w not in STOPWORDS and w not in _ASKING
    }
    if not content & known:
        return "the question shares no word with the memory"
    unknown = sorted(content - known)
    if unknown:
        return f"the question asks about what the memory does not say: {', '.join(unknown)}"
    return None


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") else word


def cloze(text: str, answer: str) -> str | None:
    """The memory's sentence with the answer asked for: "Maya lives in Tromsø." and "Tromsø"
    give "Maya lives where?". None when the answer is not found."""
    for sentence in re.split(r"(?<=[.!?])\s+", text.strip()):
        match = re.search(rf"(?:\b(in|at|from)\s+)?{re.escape(answer)}", sentence)
        if match is None:
            continue
        asked = "where" if match.group(1) else "what"
        question = sentence[: match.start()] + asked + sentence[match.end() :]
        return question.rstrip(" .!?;:,") + "?"
    return None


def answers_in(text: str) -> list[str]:
    """Answers code can pick from a memory: its names and numbers (but the first, the one it
    is about), then what follows "is", "called", "in" and the like; shortest first, at most
    three."""
    spans = _capitalised_runs(text)
    found = spans[1:] if spans and text.strip().startswith(spans[0]) else spans
    for match in _TAIL.finditer(text):
        tail = _LEADING.sub("", match["tail"].strip())
        if 0 < len(tail.split()) <= 4:
            found.append(tail)
    unique: dict[str, str] = {}
    for answer in found:
        unique.setdefault(normalize(answer), answer)
    said = f" {normalize(text)} "
    picked = [
        a
        for key, a in unique.items()
        if key and f" {key} " in said and len(key.split()) <= _MAX_ANSWER_WORDS
    ]
    picked.sort(key=lambda a: len(a.split()))
    apart = [a for i, a in enumerate(picked) if not any(_within(b, a) for b in picked[:i])]
    return apart[:3]


def _within(short: str, long: str) -> bool:
    return f" {normalize(short)} " in f" {normalize(long)} "


def _capitalised_runs(text: str) -> list[str]:
    """Runs of capitalised words and numbers (names, places, dates), in order; a possessive
    ends a run ("Maya's" gives "Maya")."""
    runs: list[str] = []
    current: list[str] = []
    for token in [*_TOKEN.findall(text), "."]:
        bare = re.sub(r"['’]s$", "", token)
        if bare[:1].isupper() or bare[:1].isdigit():
            current.append(bare)
            if bare != token:  # possessive
                runs.append(" ".join(current))
                current = []
            continue
        if current:
            runs.append(" ".join(current))
            current = []
    return [r for r in runs if r.lower() not in {"i", "i'm"}]


def _subject(text: str) -> str:
    names = [c for c in claims(text) if not c[0].isdigit()]
    return names[0] if names else "the person"


def pairs_for(
    source: Source, count: int, ask: Ask, *, note: Callable[[str, str], None]
) -> list[Pair]:
    """Up to ``count`` pairs for one memory that pass the code checks and the verifier."""
    answers = answers_in(source.text)
    written = (
        _questions_for(source, answers, count, ask, note)
        if answers
        else _pairs_written(source, count, ask, note)
    )
    kept: list[_PairReply] = []
    seen: set[str] = set()
    for pair in written:
        problem = check_pair(pair.question, pair.answer, source.text)
        if problem is None and normalize(pair.question) in seen:
            problem = "the question repeats another"
        if problem:
            note("failed", f'{source.id}: "{pair.question}" -> "{pair.answer}": {problem}')
            continue
        seen.add(normalize(pair.question))
        kept.append(pair)
    judged = _judged(source, kept, ask, note)
    written_pairs = [Pair(p.question.strip(), p.answer.strip(), source.id) for p in judged]
    # The dreamer's questions first (the first are held out as probes), then code's, so
    # that with none of the dreamer's the plain cloze is the probe and its variants train.
    seen = {normalize(p.question) for p in written_pairs}
    extra = [p for p in _clozes(source, answers) if normalize(p.question) not in seen]
    if extra and not written_pairs:
        note("pairs", f"{source.id}: no question of the dreamer's passed; using code's")
    return written_pairs + extra


def _questions_for(
    source: Source, answers: list[str], count: int, ask: Ask, note: Callable[[str, str], None]
) -> list[_PairReply]:
    """Questions the dreamer writes for answers code picked; a spare one per answer, since
    some fail the checks."""
    per = -(-count // len(answers)) + 1
    written: list[_PairReply] = []
    for index, answer in enumerate(answers):
        prompt = render(
            "train_questions",
            memory=source.text,
            answer=answer,
            count=per,
            subject=_subject(source.text),
        )
        try:
            reply = ask(
                "dreamer",
                f"questions:{source.id}.v{source.version}:{index}",
                [{"role": "user", "content": prompt}],
                _questions_schema(per),
                lambda text: parse_reply(text, _QuestionsReply),
            )
        except ReplyError as exc:
            note("error", f'{source.id}: the dreamer wrote no questions for "{answer}" ({exc})')
            continue
        written.extend(_PairReply(question=q, answer=answer) for q in reply.questions if q.strip())
    return written


def _clozes(source: Source, answers: list[str]) -> list[Pair]:
    """Questions made by code from the memory's own words, always grounded: the plain cloze
    ("Maya lives where?") first, then the same asked in other words. They let a memory be
    learned when the dreamer's questions all fail (the bundled 135M model's mostly do)."""
    pairs = []
    for answer in answers:
        question = cloze(source.text, answer)
        if question is None:
            continue
        blank = _blank(source.text, answer)
        for variant in (question, *(f"{lead} {question}" for lead in _LEADS), blank):
            if variant and check_pair(variant, answer, source.text) is None:
                pairs.append(Pair(variant, answer, source.id))
    return pairs


_LEADS = ("Do you remember?", "Quick question:")


def _blank(text: str, answer: str) -> str | None:
    for sentence in re.split(r"(?<=[.!?])\s+", text.strip()):
        if answer in sentence:
            filled = sentence.replace(answer, "___", 1).rstrip(" .!?;:,")
            return f"Fill in the blank: {filled}?"
    return None


def _pairs_written(
    source: Source, count: int, ask: Ask, note: Callable[[str, str], None]
) -> list[_PairReply]:
    """Questions and answers both written by the dreamer (no answer code could pick)."""
    prompt = render("train_pairs", memory=source.text, count=count, subject=_subject(source.text))
    try:
        written = ask(
            "dreamer",
            f"pairs:{source.id}.v{source.version}",
            [{"role": "user", "content": prompt}],
            _pairs_schema(count),
            lambda reply: parse_reply(reply, _PairsReply),
        )
    except ReplyError as exc:
        note("error", f"{source.id}: the dreamer gave no usable questions ({exc})")
        return []
    return list(written.pairs)


def _judged(
    source: Source, pairs: list[_PairReply], ask: Ask, note: Callable[[str, str], None]
) -> list[_PairReply]:
    if not pairs:
        return []
    listed = "\n".join(f"{i}. {p.question} -> {p.answer}" for i, p in enumerate(pairs, 1))
    prompt = render("train_verify", memory=source.text, pairs=listed)
    try:
        judged = ask(
            "verifier",
            f"pairs:{source.id}.v{source.version}",
            [{"role": "user", "content": prompt}],
            _scores_schema(len(pairs)),
            lambda reply: parse_reply(reply, _ScoresReply),
        )
    except ReplyError as exc:
        note("error", f"{source.id}: the verifier gave no usable scores ({exc})")
        return []
    passed = []
    for pair, score in zip(pairs, judged.scores, strict=False):
        if score == 1:
            passed.append(pair)
        else:
            said = f'"{pair.question}" -> "{pair.answer}"'
            note("failed", f"{source.id}: {said}: the verifier said 0")
    return passed
