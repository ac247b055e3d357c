"""Verify and reshape: code checks, then the verifier (cold), then rewrites by the reshaper.

Every proposal first meets code: its targets exist and are active, it cites the evidence its
operation needs, its names, numbers and dates appear in that evidence, and it does not repeat
an active memory or a proposal already accepted tonight. Only then does the verifier model
score it 0 or 1 with reasons and feedback. A proposal that fails either goes to the reshaper
with the feedback and comes back as a new proposal (a new round) to be verified again; after
``sleep.reshape_rounds`` rounds it is rejected, and the journal keeps the last feedback.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from ..models import ReplyError, parse_reply
from ..prompts import render
from ..records import ItemType, Memory, MemoryStatus, ThoughtStatus
from ..store import MemoryFilter
from .context import SleepContext
from .crunch import CrunchOutput
from .dream import DreamOutput, cluster_labels
from .grounding import ungrounded
from .proposals import (
    NEEDS_SOURCES,
    NEEDS_TARGETS,
    NEEDS_TEXT,
    Labels,
    ModelOp,
    Proposal,
    operation_schema,
)

__all__ = ["Verdict", "VerifyOutput", "code_checks", "run"]

_LABEL = re.compile(r"\b[emt]\d{1,3}\b")
_FIRST_PERSON = re.compile(r"\b(I|I'm|I've|I'd|I'll|me|my|mine|myself)\b")
_MIN_TEXT = 8


class Verdict(BaseModel):
    model_config = ConfigDict(frozen=True)

    proposal: str
    passed: bool
    checks: list[str] = []
    score: int | None = None
    reasons: str = ""
    feedback: str = ""
    model: str | None = None


class VerifyOutput(BaseModel):
    model_config = ConfigDict(frozen=True)

    proposals: list[Proposal] = []
    verdicts: list[Verdict] = []
    accepted: list[str] = []
    rejected: list[str] = []
    rewrites: int = 0


class _VerifierReply(BaseModel):
    score: int = Field(ge=0, le=1)
    reasons: str = ""
    feedback: str = ""


_VERIFIER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "score": {"type": "integer", "enum": [0, 1]},
        "reasons": {"type": "string", "maxLength": 200},
        "feedback": {"type": "string", "maxLength": 200},
    },
    "required": ["score", "reasons", "feedback"],
    "additionalProperties": False,
}


class _Checker:
    """Code checks for one night: knows tonight's accepted texts to catch repeats, and the
    memories tonight's accepted proposals already change (one change per memory a night)."""

    def __init__(self, ctx: SleepContext, crunched: CrunchOutput):
        self.ctx = ctx
        self.clusters = {c.id: c for c in crunched.clusters}
        self.accepted: list[tuple[str, NDArray[np.float32]]] = []
        self.resolved: set[str] = set()
        # memory id -> (the accepted proposal that ends or rewrites it tonight, its op)
        self.ended: dict[str, tuple[str, str]] = {}
        self.rewritten: dict[str, tuple[str, str]] = {}

    def cluster_episodes(self, cluster: str) -> list[str]:
        found = self.clusters.get(cluster)
        return list(found.episodes) if found else []

    def similarity(self, text: str, evidence: list[str]) -> float:
        """The best cosine between the text and any one piece of its evidence."""
        vectors = self.ctx.mind.embedder.embed([text, *evidence])
        return float((vectors[1:] @ vectors[0]).max()) if evidence else 0.0

    def _embed(self, text: str) -> NDArray[np.float32]:
        vector: NDArray[np.float32] = self.ctx.mind.embedder.embed([text])[0]
        return vector

    def duplicate_of(self, p: Proposal) -> str | None:
        ctx = self.ctx
        limit = ctx.settings.duplicate_similarity
        vector = self._embed(p.text)
        hits = ctx.store.vector_search(
            ctx.agent, ItemType.MEMORY, ctx.mind.embedder.model_id, vector, MemoryFilter(), 3
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


def _shape_checks(ctx: SleepContext, p: Proposal, targets: list[Memory]) -> list[str]:
    """The operation is complete: targets, evidence and text as the operation needs them."""
    problems: list[str] = []
    need = NEEDS_TARGETS.get(p.op, 0)
    if len(targets) < need:
        problems.append(
            f"{p.op} needs {need} existing memories as targets, it names {len(targets)}"
        )
    inactive = [m.id for m in targets if m.status is not MemoryStatus.ACTIVE]
    if inactive:
        problems.append(f"target {inactive[0]} is no longer active")
    if (p.op in NEEDS_SOURCES or p.op in ("retract", "resolve")) and not p.sources:
        problems.append(f"{p.op} must cite the conversation lines it rests on")
    if p.op in NEEDS_TEXT:
        problems += _text_checks(p)
    if p.op == "resolve":
        thought = ctx.store.thoughts.get(ctx.agent, p.thought) if p.thought else None
        if thought is None or thought.status is not ThoughtStatus.OPEN:
            problems.append("resolve must name an open thought")
    return problems


def _text_checks(p: Proposal) -> list[str]:
    """The text reads as a memory: long enough, no labels, third person, not a loop."""
    words = re.findall(r"\w+", p.text.casefold())
    if len(p.text) < _MIN_TEXT or not re.search(r"[^\W\d_]{2}", p.text):
        return ["the text is missing or too short to be a memory"]
    if _LABEL.search(p.text):
        return ["the text quotes line labels (e1, m1) instead of saying something"]
    if _FIRST_PERSON.search(p.text):
        return ["write it in the third person, naming who it is about (not I or my)"]
    trigrams = list(zip(words, words[1:], words[2:], strict=False))
    if len(words) >= 8 and (
        len(set(words)) < len(words) / 2 or len(set(trigrams)) < len(trigrams) * 0.8
    ):
        return ["the text repeats itself; say it once, briefly"]
    return []


def _change_checks(p: Proposal, targets: list[Memory]) -> list[str]:
    """The operation changes something."""
    if p.op == "edit" and targets and p.text.strip() == targets[0].text.strip():
        return ["the edit does not change the memory"]
    if p.op == "amend" and targets and p.text.casefold() in targets[0].text.casefold():
        return ["the memory already says that"]
    linked = len(targets) >= 2 and any(a.id == targets[1].id for a in targets[0].associations)
    if p.op == "link" and linked:
        return ["the memories are already linked"]
    return []


_ENDS = ("retract", "supersede", "merge")


def _night_conflicts(p: Proposal, checker: _Checker) -> list[str]:
    """A memory tonight already ends takes no other change; one it rewrites takes no second
    rewrite (links and amends stack)."""
    for target in p.targets:
        if p.op != "link" and target in checker.ended:
            by, op = checker.ended[target]
            return [f"memory {target} is already ended tonight ({op} by {by})"]
        if p.op in (*_ENDS, "edit") and target in checker.rewritten:
            by, op = checker.rewritten[target]
            return [f"memory {target} is already rewritten tonight ({op} by {by})"]
    return []


def code_checks(ctx: SleepContext, p: Proposal, checker: _Checker) -> list[str]:
    """What is wrong with a proposal before any model looks at it (empty: nothing)."""
    targets = ctx.store.memories.get_many(ctx.agent, p.targets)
    problems = _shape_checks(ctx, p, targets) + _change_checks(p, targets)
    if p.op == "resolve" and p.thought in checker.resolved:
        problems.append("that thought is already resolved tonight")
    problems += _night_conflicts(p, checker)
    if problems or not p.text or p.op in ("retract", "link"):
        return problems
    cited = p.sources or (checker.cluster_episodes(p.cluster) if p.op == "park" else [])
    evidence = [e.search_text for e in ctx.store.episodes.get_many(ctx.agent, cited)]
    evidence += [m.text for m in targets]
    missing = ungrounded(p.text, evidence)
    if missing:
        problems.append(
            "not in the evidence: "
            + ", ".join(missing[:5])
            + " (use only names, numbers and dates from the cited lines)"
        )
    else:
        similarity = checker.similarity(p.text, evidence)
        if similarity < ctx.settings.evidence_similarity:
            problems.append(
                f"it says little of what the cited lines say (similarity {similarity:.2f}); "
                "cite the lines it comes from, or say what they say"
            )
    if not problems and p.op in ("add", "insight", "supersede", "merge"):
        repeat = checker.duplicate_of(p)
        if repeat:
            problems.append(repeat)
    return problems


def _describe(ctx: SleepContext, p: Proposal) -> str:
    """The proposal in words, with the texts it changes (for the verifier)."""
    targets = ctx.store.memories.get_many(ctx.agent, p.targets)
    named = "; ".join(f'memory "{m.text}"' for m in targets)
    what = {"add": f"remember ({p.kind.value})", "insight": "remember the insight"}.get(p.op, p.op)
    parts = [what]
    if named:
        parts.append(named)
    if p.text:
        parts.append(f'as "{p.text}"' if p.op in ("edit", "supersede", "merge") else f'"{p.text}"')
    if p.reason:
        parts.append(f"(reason: {p.reason})")
    return " ".join(parts)


def _verify_one(ctx: SleepContext, p: Proposal, checker: _Checker) -> Verdict:
    problems = code_checks(ctx, p, checker)
    if problems:
        return Verdict(
            proposal=p.id,
            passed=False,
            checks=problems,
            reasons="; ".join(problems),
            feedback="; ".join(problems),
        )
    sources = ctx.store.episodes.get_many(ctx.agent, p.sources)
    targets = ctx.store.memories.get_many(ctx.agent, p.targets)
    prompt = render(
        "verify",
        operation=_describe(ctx, p),
        sources="\n".join(f"- {e.search_text}" for e in sources) or "(none)",
        targets="\n".join(f"- {m.text}" for m in targets) or "(none)",
    )
    try:
        reply = ctx.ask(
            "verifier",
            p.id,
            [{"role": "user", "content": prompt}],
            _VERIFIER_SCHEMA,
            lambda text: parse_reply(text, _VerifierReply),
        )
    except ReplyError as exc:
        return Verdict(
            proposal=p.id,
            passed=False,
            reasons=f"the verifier gave no usable reply ({exc})",
            feedback="state the change plainly and cite its evidence",
        )
    model = ctx.models.role("verifier").model_id
    return Verdict(
        proposal=p.id,
        passed=reply.score == 1,
        score=reply.score,
        reasons=reply.reasons.strip(),
        feedback=reply.feedback.strip() or reply.reasons.strip(),
        model=model,
    )


def _reshape(
    ctx: SleepContext, p: Proposal, verdict: Verdict, labels: Labels, round_: int
) -> Proposal | None:
    ops = labels.ops()
    prompt = render(
        "reshape",
        operation=labels.relabel(p.describe(labels)),
        feedback=verdict.feedback or verdict.reasons or "it was not supported by the evidence",
        episodes=labels.episode_block(),
        memories=labels.memory_block(),
    )
    try:
        op = ctx.ask(
            "reshaper",
            f"{p.id}.{round_}",
            [{"role": "user", "content": prompt}],
            operation_schema(labels, ops),
            lambda text: parse_reply(text, ModelOp),
        )
    except ReplyError as exc:
        ctx.note("error", f"{p.id}: the reshaper gave no usable reply ({exc})")
        return None
    if op.op not in ops:
        return None
    return labels.to_proposal(
        op, f"{p.id.split('r')[0]}r{round_}", p.cluster, round=round_, parent=p.id, role="reshaper"
    )


def run(ctx: SleepContext, crunched: CrunchOutput, dreamt: DreamOutput) -> VerifyOutput:
    checker = _Checker(ctx, crunched)
    clusters = {c.id: c for c in crunched.clusters}
    labels: dict[str, Labels] = {}
    proposals = list(dreamt.proposals)
    verdicts: list[Verdict] = []
    accepted: list[str] = []
    rejected: list[str] = []
    rewrites = 0
    pending = list(proposals)
    for round_ in range(ctx.settings.reshape_rounds + 1):
        failed: list[tuple[Proposal, Verdict]] = []
        for p in pending:
            ctx.check_stop()
            verdict = _verify_one(ctx, p, checker)
            verdicts.append(verdict)
            if verdict.passed:
                accepted.append(p.id)
                checker.accept(p)
                ctx.note("passed", f"{p.id} {p.describe()}: {verdict.reasons}", proposal=p.id)
            else:
                failed.append((p, verdict))
                ctx.note("failed", f"{p.id} {p.describe()}: {verdict.reasons}", proposal=p.id)
        pending = []
        for p, verdict in failed:
            if round_ == ctx.settings.reshape_rounds:
                rejected.append(p.id)
                ctx.note(
                    "rejected", f"{p.describe()} (last feedback: {verdict.feedback})", proposal=p.id
                )
                continue
            ctx.stage, stage = "reshape", ctx.stage
            try:
                if p.cluster not in labels:
                    labels[p.cluster] = cluster_labels(ctx, clusters[p.cluster])
                rewritten = _reshape(ctx, p, verdict, labels[p.cluster], round_ + 1)
            finally:
                ctx.stage = stage
            if rewritten is None:
                rejected.append(p.id)
                ctx.note(
                    "rejected",
                    f"{p.describe()} (the rewrite failed; last feedback: {verdict.feedback})",
                    proposal=p.id,
                )
                continue
            rewrites += 1
            proposals.append(rewritten)
            pending.append(rewritten)
            ctx.note(
                "rewritten",
                f"{p.id} -> {rewritten.id} {rewritten.describe()}",
                proposal=rewritten.id,
            )
    asked = [v for v in verdicts if v.score is not None]
    ctx.note(
        "summary",
        f"{len(accepted)} accepted, {len(rejected)} rejected, {rewrites} rewrites; the verifier "
        f"passed {sum(v.passed for v in asked)} of {len(asked)} it was asked about",
    )
    return VerifyOutput(
        proposals=proposals,
        verdicts=verdicts,
        accepted=accepted,
        rejected=rejected,
        rewrites=rewrites,
    )
