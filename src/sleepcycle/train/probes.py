"""Probes: questions with known answers, asked of the served model before and after training.

Two sets. *Learning* probes are held-out questions about the memories being trained (never
trained on); their accuracy must rise. *Retention* probes are general questions shipped with
sleepcycle and questions about memories an earlier adapter already learned; their accuracy
must not fall by more than ``train.retention_tolerance``. A reply passes when it contains the
answer: the whole answer, or every content word and number of it, ignoring case, accents and
punctuation.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from ..models import Backend, ChatRequest
from ..recall import STOPWORDS

__all__ = [
    "Probe",
    "ProbeResult",
    "Score",
    "answered",
    "ask_probes",
    "general_probes",
    "normalize",
    "replay_prompts",
]

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
MAX_TOKENS = 40
_NUMBER_WORDS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty"
)
_NUMBERS = {w: str(i) for i, w in enumerate(_NUMBER_WORDS.split())}


def normalize(text: str) -> str:
    """Lower case, no accents, no punctuation, number words as digits, single spaces."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(_NUMBERS.get(w, w) for w in _WORD.findall(plain))


def answered(reply: str, answer: str) -> bool:
    """Whether ``reply`` gives ``answer``."""
    said, expected = normalize(reply), normalize(answer)
    if not expected:
        return False
    if f" {expected} " in f" {said} ":
        return True
    words = set(said.split())
    needed = [w for w in expected.split() if w not in STOPWORDS or w.isdigit()]
    return bool(needed) and all(w in words for w in needed)


@dataclass(frozen=True, slots=True)
class Probe:
    question: str
    answer: str
    source: str  # a memory id, "persona", or "general"


@dataclass(frozen=True, slots=True)
class Score:
    probe: Probe
    reply: str
    passed: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.probe.question,
            "answer": self.probe.answer,
            "source": self.probe.source,
            "reply": self.reply,
            "passed": self.passed,
        }


@dataclass(frozen=True, slots=True)
class ProbeResult:
    scores: tuple[Score, ...]

    @property
    def accuracy(self) -> float:
        return sum(s.passed for s in self.scores) / len(self.scores) if self.scores else 0.0

    @property
    def passed(self) -> int:
        return sum(s.passed for s in self.scores)

    def to_json(self) -> dict[str, Any]:
        return {
            "accuracy": round(self.accuracy, 4),
            "passed": self.passed,
            "total": len(self.scores),
            "scores": [s.to_json() for s in self.scores],
        }


def ask_probes(
    backend: Backend,
    probes: Sequence[Probe],
    *,
    check_stop: Callable[[], None] | None = None,
) -> ProbeResult:
    """Ask each probe greedily, with no system prompt (the weights answer, not the context)."""
    scores = []
    for probe in probes:
        if check_stop is not None:
            check_stop()
        reply = backend.complete(
            ChatRequest(
                ({"role": "user", "content": probe.question},),
                temperature=0.0,
                max_tokens=MAX_TOKENS,
                seed=0,
            )
        ).text
        scores.append(Score(probe, reply.strip(), answered(reply, probe.answer)))
    return ProbeResult(tuple(scores))


def _data(name: str) -> Any:
    return json.loads(resources.files(__package__).joinpath("data", name).read_text("utf-8"))


def general_probes() -> list[Probe]:
    """General questions whose answers no memory should change (the retention set)."""
    return [Probe(q, a, "general") for q, a in _data("general.json")["probes"]]


def replay_prompts() -> list[str]:
    """General requests answered by the base model itself and mixed into training, so the
    adapter keeps how the model speaks of everything else."""
    prompts: list[str] = _data("general.json")["replay"]
    return prompts
