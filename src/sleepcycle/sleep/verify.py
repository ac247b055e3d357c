"""Verify and reshape: code checks, then the verifier (cold), then rewrites by the reshaper.

Every proposal first meets code (``checks``): it is complete and worth keeping, its names,
numbers and dates appear in its evidence, it is about the person who said or was told the
cited lines, it does not negate them, it says what they say, and it does not repeat an active
memory or a proposal already accepted tonight. Only then does the verifier model judge it:
on the bundled model (``verify.judge = auto``) a judge adapter answers Yes or No and is read
by its token probabilities (rejected when No is above ``verify.reject_above``), except
where its cited lines plainly carry it (``verify.settled_similarity`` and
``verify.settled_overlap``), which the code checks settle alone, since the small judge errs
most there; on any other
model it writes a 0/1 score with reasons and feedback. A proposal that fails either goes to
the reshaper with the feedback and comes back as a new proposal (a new round) to be verified
again; after ``sleep.reshape_rounds`` rounds it is rejected (a draft by code is not
reshaped), and the journal keeps the last feedback.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..evidence import judge_question
from ..models import ReplyError, parse_reply
from ..prompts import render
from .checks import Checker, Support, code_checks
from .context import SleepContext
from .crunch import CrunchOutput
from .dream import DreamOutput, cluster_labels
from .proposals import Labels, ModelOp, Proposal, operation_schema

__all__ = ["Verdict", "VerifyOutput", "run"]


class Verdict(BaseModel):
    model_config = ConfigDict(frozen=True)

    proposal: str
    passed: bool
    checks: list[str] = []  # what the code checks found, in words
    failed: list[str] = []  # the names of the code checks that failed (``checks.CHECKS``)
    score: int | None = None
    follows: float | None = None  # the judge's probability that it follows from its lines
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


def _verify_one(ctx: SleepContext, p: Proposal, checker: Checker) -> Verdict:
    problems = code_checks(ctx, p, checker)
    if problems:
        said = [problem.message for problem in problems]
        return Verdict(
            proposal=p.id,
            passed=False,
            checks=said,
            failed=list(dict.fromkeys(problem.check for problem in problems)),
            reasons="; ".join(said),
            feedback="; ".join(said),
        )
    sources = ctx.store.episodes.get_many(ctx.agent, p.sources)
    if p.text and p.op in _JUDGED and ctx.models.judge() is not None:
        settled = _settled(ctx, checker.support.get(p.id))
        if settled is not None:
            return Verdict(proposal=p.id, passed=True, score=1, reasons=settled)
        return _judge(ctx, p, [e.search_text for e in sources])
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


_JUDGED = ("add", "insight", "edit", "supersede", "merge", "amend")


def _settled(ctx: SleepContext, support: Support | None) -> str | None:
    """Why the code checks settle a proposal without the judge (None: ask the judge). A small
    judge errs most on what its lines plainly say; it is asked about the rest."""
    settings = ctx.host.config.verify
    if support is None or support.similarity < settings.settled_similarity:
        return None
    if support.overlap < settings.settled_overlap:
        return None
    return (
        f"settled by the code checks: similarity {support.similarity:.2f} to the cited lines, "
        f"which hold {support.overlap:.0%} of its words"
    )


def _judge(ctx: SleepContext, p: Proposal, lines: list[str]) -> Verdict:
    """The judge's Yes or No, by its probabilities: rejected when No is likely enough."""
    assert p.text is not None
    question = judge_question(lines, p.text)
    choice = ctx.choose(p.id, [{"role": "user", "content": question}], ("Yes", "No"))
    no = choice.probability("No")
    passed = no <= ctx.host.config.verify.reject_above
    follows = f"the judge gives {1 - no:.2f} that it follows from the cited lines"
    return Verdict(
        proposal=p.id,
        passed=passed,
        score=int(passed),
        follows=round(1 - no, 4),
        reasons=follows,
        feedback="" if passed else "say only what the cited lines say, about who said it",
        model=choice.model,
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
    ctx.models.judge()  # a judge that cannot be built says so before any proposal is read
    checker = Checker(ctx, crunched)
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
            if round_ == ctx.settings.reshape_rounds or p.role == "drafter":  # code's words stay
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
