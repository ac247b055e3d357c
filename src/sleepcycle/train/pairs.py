"""Question/answer pairs from memories: written by the dreamer, checked by code, then judged by
the verifier, as memories are.

Each memory gets ``pairs_per_memory + probes_per_memory`` questions; the first
``probes_per_memory`` that pass are held out as probes (never trained on), the rest become
training examples. Pairs are kept per memory version, so a memory that has not changed is not
asked about again on the next training.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, Field

from ..models import Message, ReplyError, parse_reply
from ..prompts import render
from ..sleep.grounding import claims, ungrounded
from .probes import normalize

__all__ = ["Ask", "Pair", "Source", "check_pair", "pairs_for"]

T = TypeVar("T", bound=BaseModel)
_MAX_ANSWER_WORDS = 12


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
    if not question.endswith("?"):
        return "the question does not end with a question mark"
    if not normalize(answer) or len(answer.split()) > _MAX_ANSWER_WORDS:
        return f"the answer must be a few words (at most {_MAX_ANSWER_WORDS})"
    missing = ungrounded(answer, [text])
    if missing:
        return f"the answer says what the memory does not: {', '.join(missing[:3])}"
    said = set(normalize(text).split())
    if not set(normalize(answer).split()) & said:
        return "the answer shares no word with the memory"
    if normalize(answer) in normalize(question):
        return "the question gives the answer away"
    return None


def _subject(text: str) -> str:
    names = [c for c in claims(text) if not c[0].isdigit()]
    return names[0] if names else "the person"


def pairs_for(
    source: Source, count: int, ask: Ask, *, note: Callable[[str, str], None]
) -> list[Pair]:
    """Up to ``count`` pairs for one memory that pass the code checks and the verifier."""
    prompt = render("train_pairs", memory=source.text, count=count, subject=_subject(source.text))
    key = f"{source.id}.v{source.version}"
    try:
        written = ask(
            "dreamer",
            f"pairs:{key}",
            [{"role": "user", "content": prompt}],
            _pairs_schema(count),
            lambda reply: parse_reply(reply, _PairsReply),
        )
    except ReplyError as exc:
        note("error", f"{source.id}: the dreamer gave no usable questions ({exc})")
        return []
    kept: list[_PairReply] = []
    seen: set[str] = set()
    for pair in written.pairs:
        problem = check_pair(pair.question, pair.answer, source.text)
        if problem is None and normalize(pair.question) in seen:
            problem = "the question repeats another"
        if problem:
            note("failed", f'{source.id}: "{pair.question}" -> "{pair.answer}": {problem}')
            continue
        seen.add(normalize(pair.question))
        kept.append(pair)
    judged = _judged(source, kept, ask, note)
    return [Pair(p.question.strip(), p.answer.strip(), source.id) for p in judged]


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
