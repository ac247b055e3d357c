"""Code checks (no model): what is wrong with a proposal before any model looks at it.

Each check has a name (``Problem.check``), so the journal, the verdicts and the quality
benchmark (``benchmarks/quality.py``) can say which one refused what. In order:

- ``shape``: the operation is complete (targets that exist and are active, evidence cited,
  an open thought to resolve);
- ``text``: it reads as a memory (long enough, no line labels, third person, no loops);
- ``worth``: it is worth keeping (more than a word or two, not a greeting or thanks alone,
  not a question turned into a fact);
- ``change``: it changes something (an edit that edits, an amend that adds);
- ``night``: a memory tonight already ends or rewrites takes no other such change;
- ``grounding``: its names, numbers and relative times are in its evidence: the cited lines
  and the few lines around them, the memories it rewrites, and the night's participants;
- ``speaker``: the person it is about said the cited lines, or is told or named in them;
- ``negation``: it does not negate what the cited lines affirm;
- ``similarity``: it says what the cited lines say (embedding cosine, and the share of its
  content words the lines hold);
- ``duplicate``: it does not repeat an active memory or a proposal accepted tonight.

A proposal may cite any of tonight's gathered episodes, not only its cluster's. The floors of
``similarity`` are settings (``sleep.evidence_similarity``, ``sleep.evidence_overlap``), set
from the benchmark.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..evidence import Line, addressed, aligned, content_words, coverage, negated, subject_of
from ..grounding import ungrounded
from ..records import Episode, ItemType, Memory, MemoryStatus, ThoughtStatus
from ..store import MemoryFilter
from .context import SleepContext
from .crunch import CrunchOutput
from .proposals import NEEDS_SOURCES, NEEDS_TARGETS, NEEDS_TEXT, Proposal

__all__ = ["CHECKS", "Checker", "Evidence", "Problem", "Support", "code_checks"]

CHECKS = (
    "shape", "text", "worth", "change", "night", "grounding", "speaker", "negation",
    "similarity", "duplicate",
)  # fmt: skip
CONTEXT_BEFORE = 3  # lines before a cited line that ground its names (what it answers)
CONTEXT_AFTER = 1
MIN_WORDS = 3
_LABEL = re.compile(r"\b[emt]\d{1,3}\b")
_FIRST_PERSON = re.compile(r"\b(I|I'm|I've|I'd|I'll|me|my|mine|myself)\b(?![-‑])")  # not me-time
_MIN_TEXT = 8
_PLEASANTRIES = frozenset(
    """hi hello hey greet greeting greets greeted thank thanks thanked bye goodbye good
    morning evening night nice chat chatting talk talking catch see later welcome wave""".split()  # noqa: SIM905
)
_ASKING = re.compile(
    r"\b(ask|asks|asked|asking|inquire[sd]?|wonder(s|ed|ing)?|curious|question|suggest(s|ed)?|"
    r"offer(s|ed)?|invite[sd]?|recommend(s|ed)?|encourage[sd]?|want(s|ed)? to know)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing a code check found wrong: the check's name and what to do about it."""

    check: str
    message: str


@dataclass(frozen=True, slots=True)
class Support:
    """How much of a proposal its cited lines carry: the best cosine to one of them and the
    share of its content words they hold."""

    similarity: float
    overlap: float


@dataclass(frozen=True, slots=True)
class Evidence:
    """What a proposal rests on: its cited lines, the lines around them, the memories it
    changes, and who took part tonight."""

    cited: list[Episode]
    around: list[Episode]
    targets: list[Memory]
    participants: list[str]

    @property
    def lines(self) -> list[Line]:
        return [Line(e.name, e.content) for e in self.cited]

    def texts(self) -> list[str]:
        """The cited lines and the targets' texts (what the memory must say)."""
        return [e.search_text for e in self.cited] + [m.text for m in self.targets]

    def corpus(self) -> list[str]:
        """Everything that grounds a name: the lines around the cited ones too."""
        return [e.search_text for e in self.around] + [m.text for m in self.targets]


class Checker:
    """Code checks for one night: knows tonight's participants and accepted texts, and the
    memories tonight's accepted proposals already change (one change per memory a night)."""

    def __init__(self, ctx: SleepContext, crunched: CrunchOutput):
        self.ctx = ctx
        self.clusters = {c.id: c for c in crunched.clusters}
        self.accepted: list[tuple[str, NDArray[np.float32]]] = []
        self.resolved: set[str] = set()
        self.support: dict[str, Support] = {}  # proposal id -> measured by the checks
        # memory id -> (the accepted proposal that ends or rewrites it tonight, its op)
        self.ended: dict[str, tuple[str, str]] = {}
        self.rewritten: dict[str, tuple[str, str]] = {}
        night = [e for c in crunched.clusters for e in c.episodes]
        names = {e.name for e in ctx.store.episodes.get_many(ctx.agent, night) if e.name}
        user = ctx.host.config.user
        self.participants = sorted(names | ({user} if user and user != "user" else set()))

    def cluster_episodes(self, cluster: str) -> list[str]:
        found = self.clusters.get(cluster)
        return list(found.episodes) if found else []

    def evidence(self, p: Proposal, targets: list[Memory]) -> Evidence:
        ctx = self.ctx
        cited_ids = p.sources or (self.cluster_episodes(p.cluster) if p.op == "park" else [])
        cited = ctx.store.episodes.get_many(ctx.agent, cited_ids)
        around: dict[str, Episode] = {}
        for episode in cited:
            for near in ctx.store.episodes.around(
                ctx.agent, episode, CONTEXT_BEFORE, CONTEXT_AFTER
            ):
                around.setdefault(near.id, near)
        return Evidence(cited, list(around.values()), targets, self.participants)

    def _embed(self, text: str) -> NDArray[np.float32]:
        vector: NDArray[np.float32] = self.ctx.host.embedder.embed([text])[0]
        return vector

    def duplicate_of(self, p: Proposal) -> str | None:
        ctx = self.ctx
        limit = ctx.settings.duplicate_similarity
        vector = self._embed(p.text)
        hits = ctx.store.vector_search(
            ctx.agent, ItemType.MEMORY, ctx.host.embedder.model_id, vector, MemoryFilter(), 3
        )
        for seq, cosine in hits:
            memory = ctx.store.memories.by_seq([seq])[seq]
            if cosine >= limit and memory.id not in p.targets:
                return f'it repeats memory {memory.id} ("{memory.text}")'
        for text, other in self.accepted:
            if float(vector @ other) >= limit:
                return f'it repeats "{text}", accepted earlier tonight'
        return None

    def accept(self, p: Proposal) -> None:
        taken = self.ended if p.op in _ENDS else self.rewritten if p.op == "edit" else {}
        for target in p.targets:
            taken.setdefault(target, (p.id, p.op))
        if p.op == "resolve" and p.thought:
            self.resolved.add(p.thought)
        elif p.text:
            self.accepted.append((p.text, self._embed(p.text)))


def _shape_checks(ctx: SleepContext, p: Proposal, targets: list[Memory]) -> list[Problem]:
    """The operation is complete: targets, evidence and text as the operation needs them."""
    problems: list[Problem] = []
    need = NEEDS_TARGETS.get(p.op, 0)
    if len(targets) < need:
        problems.append(
            Problem(
                "shape",
                f"{p.op} needs {need} existing memories as targets, it names {len(targets)}",
            )
        )
    inactive = [m.id for m in targets if m.status is not MemoryStatus.ACTIVE]
    if inactive:
        problems.append(Problem("shape", f"target {inactive[0]} is no longer active"))
    if (p.op in NEEDS_SOURCES or p.op in ("retract", "resolve")) and not p.sources:
        problems.append(Problem("shape", f"{p.op} must cite the conversation lines it rests on"))
    if p.op in NEEDS_TEXT:
        problems += _text_checks(p)
    if p.op == "resolve":
        thought = ctx.store.thoughts.get(ctx.agent, p.thought) if p.thought else None
        if thought is None or thought.status is not ThoughtStatus.OPEN:
            problems.append(Problem("shape", "resolve must name an open thought"))
    return problems


def _text_checks(p: Proposal) -> list[Problem]:
    """The text reads as a memory: long enough, no labels, third person, not a loop."""
    words = re.findall(r"\w+", p.text.casefold())
    if len(p.text) < _MIN_TEXT or not re.search(r"[^\W\d_]{2}", p.text):
        return [Problem("text", "the text is missing or too short to be a memory")]
    if _LABEL.search(p.text):
        return [Problem("text", "the text quotes line labels (e1, m1) instead of saying something")]
    if _FIRST_PERSON.search(p.text):
        return [
            Problem("text", "write it in the third person, naming who it is about (not I or my)")
        ]
    trigrams = list(zip(words, words[1:], words[2:], strict=False))
    if len(words) >= 8 and (
        len(set(words)) < len(words) / 2 or len(set(trigrams)) < len(trigrams) * 0.8
    ):
        return [Problem("text", "the text repeats itself; say it once, briefly")]
    return []


def worth_checks(p: Proposal, evidence: Evidence) -> list[Problem]:
    """A memory says something about someone: not a word or two, not a greeting or thanks
    alone, not a question, and not what a line asks someone turned into a fact about them."""
    if p.op not in ("add", "insight", "supersede", "merge", "edit") or not p.text:
        return []
    words = re.findall(r"[^\W\d_][\w'’-]*|\d+", p.text)
    if len(words) < MIN_WORDS:
        return [
            Problem(
                "worth",
                f'"{p.text}" is too short to be worth remembering; say who it is about and what',
            )
        ]
    meaningful = content_words(p.text, evidence.participants)
    if meaningful and meaningful <= {w[:5] for w in _PLEASANTRIES} | _PLEASANTRIES:
        return [Problem("worth", "a greeting or thanks alone is not worth remembering")]
    if p.text.rstrip().endswith("?"):
        return [Problem("worth", "a memory states something; this asks a question")]
    lines = evidence.lines
    names = evidence.participants
    subject = subject_of(p.text, names)
    told = subject is None or any(line.speaker == subject for line in lines)
    if lines and not told and not _ASKING.search(p.text):
        asked = [aligned(p.text, line.text, names) for line in lines]
        if all(sentence.rstrip().endswith("?") for sentence in asked):
            return [
                Problem(
                    "worth",
                    "the cited lines ask this as a question; they do not say it is so (say that "
                    "someone asked, or cite the answer)",
                )
            ]
    return []


def _change_checks(p: Proposal, targets: list[Memory]) -> list[Problem]:
    """The operation changes something."""
    if p.op == "edit" and targets and p.text.strip() == targets[0].text.strip():
        return [Problem("change", "the edit does not change the memory")]
    if p.op == "amend" and targets and p.text.casefold() in targets[0].text.casefold():
        return [Problem("change", "the memory already says that")]
    linked = len(targets) >= 2 and any(a.id == targets[1].id for a in targets[0].associations)
    if p.op == "link" and linked:
        return [Problem("change", "the memories are already linked")]
    return []


_ENDS = ("retract", "supersede", "merge")


def _night_conflicts(p: Proposal, checker: Checker) -> list[Problem]:
    """A memory tonight already ends takes no other change; one it rewrites takes no second
    rewrite (links and amends stack)."""
    for target in p.targets:
        if p.op != "link" and target in checker.ended:
            by, op = checker.ended[target]
            return [Problem("night", f"memory {target} is already ended tonight ({op} by {by})")]
        if p.op in (*_ENDS, "edit") and target in checker.rewritten:
            by, op = checker.rewritten[target]
            return [
                Problem("night", f"memory {target} is already rewritten tonight ({op} by {by})")
            ]
    return []


def reading_checks(
    ctx: SleepContext, p: Proposal, evidence: Evidence, measured: dict[str, Support]
) -> list[Problem]:
    """The text against its evidence: grounded, about the right person, the right polarity,
    saying what the lines say (how much they say of it goes in ``measured``)."""
    missing = ungrounded(p.text, [*evidence.corpus(), *evidence.participants])
    if missing:
        return [
            Problem(
                "grounding",
                "not in the evidence: "
                + ", ".join(missing[:5])
                + " (use only names, numbers and dates from the cited lines)",
            )
        ]
    names = evidence.participants
    lines = evidence.lines if p.op != "park" else []  # a parked question tells nothing yet
    if lines and not addressed(p.text, lines, names):
        return [
            Problem(
                "speaker",
                "the cited lines are not about the person it names: they were said by someone "
                "else and do not tell or name them (check who said it)",
            )
        ]
    if lines and negated(p.text, lines, names):
        return [Problem("negation", "it negates what the cited lines say (they say no such 'not')")]
    texts = evidence.texts()
    similarity = ctx_similarity(ctx, p.text, texts)
    overlap = coverage(p.text, texts, names)
    measured[p.id] = Support(similarity, overlap)
    settings = ctx.settings
    if similarity < settings.evidence_similarity or (
        similarity < settings.evidence_similarity_high and overlap < settings.evidence_overlap
    ):
        return [
            Problem(
                "similarity",
                f"it says little of what the cited lines say (similarity {similarity:.2f}, "
                f"{overlap:.0%} of its words); cite the lines it comes from, or say what they say",
            )
        ]
    return []


def ctx_similarity(ctx: SleepContext, text: str, evidence: list[str]) -> float:
    """The best cosine between the text and any one piece of its evidence."""
    if not evidence:
        return 0.0
    vectors = ctx.host.embedder.embed([text, *evidence])
    return float((vectors[1:] @ vectors[0]).max())


def code_checks(ctx: SleepContext, p: Proposal, checker: Checker) -> list[Problem]:
    """What is wrong with a proposal before any model looks at it (empty: nothing)."""
    targets = ctx.store.memories.get_many(ctx.agent, p.targets)
    problems = _shape_checks(ctx, p, targets) + _change_checks(p, targets)
    if p.op == "resolve" and p.thought in checker.resolved:
        problems.append(Problem("night", "that thought is already resolved tonight"))
    problems += _night_conflicts(p, checker)
    if problems or not p.text or p.op in ("retract", "link"):
        return problems
    evidence = checker.evidence(p, targets)
    problems += worth_checks(p, evidence)
    if problems:
        return problems
    problems += reading_checks(ctx, p, evidence, checker.support)
    if not problems and p.op in ("add", "insight", "supersede", "merge"):
        repeat = checker.duplicate_of(p)
        if repeat:
            problems.append(Problem("duplicate", repeat))
    return problems
