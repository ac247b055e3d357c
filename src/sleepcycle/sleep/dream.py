"""Dream (the dreamer, hot): per cluster, propose memory operations that cite their evidence.

The dreamer sees one cluster at a time: its episodes (``e1``...), the memories most related
to it (``m1``...), its open thoughts (``t1``...), the persona, and crunch's hints. A reply that
stays invalid after a retry is journaled as an error for that cluster; the night goes on.
"""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict

from ..models import ReplyError, parse_reply
from ..prompts import data, render
from . import draft
from .context import SleepContext
from .crunch import Cluster, CrunchOutput
from .proposals import Labels, ModelOps, Proposal, reply_schema

__all__ = ["DreamOutput", "cluster_labels", "example", "persona_block", "run"]

PER_OPERATION_TOKENS = 130  # a full operation at the schema's length limits


class DreamOutput(BaseModel):
    model_config = ConfigDict(frozen=True)

    proposals: list[Proposal] = []
    failed_clusters: list[str] = []


def cluster_labels(ctx: SleepContext, cluster: Cluster) -> Labels:
    """The cluster's labels: its lines with their context lines in time order (all citable),
    its memories and its thoughts."""
    store, agent = ctx.store, ctx.agent
    lines = store.episodes.get_many(agent, [*cluster.episodes, *cluster.context])
    lines.sort(key=lambda e: e.time)
    return Labels(
        episodes=lines,
        memories=store.memories.get_many(agent, cluster.memories),
        thoughts=[store.thoughts.get(agent, t) for t in cluster.thoughts],
    )


def persona_block(ctx: SleepContext) -> str:
    persona = ctx.host.persona()
    if persona is None:
        return "The assistant has no persona description yet."
    return f"The assistant describes itself so:\n{persona.text}"


def _parse(text: str) -> ModelOps:
    return parse_reply(text, ModelOps)


def example() -> tuple[str, str, set[str]]:
    """The worked example shown to the dreamer, and its texts (copies of them are dropped)."""
    sample = data("dream_example")
    texts = {op["text"].casefold() for op in sample["reply"]["operations"]}
    return "\n".join(sample["conversation"]), json.dumps(sample["reply"]), texts


def operations_budget(ctx: SleepContext) -> int:
    """As many operations as the dreamer's ``max_tokens`` can hold (a cut-off reply is lost)."""
    tokens = ctx.models.role("dreamer").max_tokens
    return max(1, min(ctx.settings.max_operations, (tokens - 20) // PER_OPERATION_TOKENS))


def proposers(ctx: SleepContext) -> tuple[bool, bool]:
    """Whether code drafts and whether the dreamer model dreams tonight (``sleep.dreamer``)."""
    mode = ctx.settings.dreamer
    if mode == "auto":
        # The bundled 135M model proposes nothing worth keeping; code drafts instead.
        mode = "draft" if ctx.models.bundled("dreamer") else "model"
    return mode in ("draft", "both"), mode in ("model", "both")


def _drafts(ctx: SleepContext, crunched: CrunchOutput) -> list[Proposal]:
    ids = list(dict.fromkeys(e for c in crunched.clusters for e in (*c.episodes, *c.context)))
    episodes = sorted(ctx.store.episodes.get_many(ctx.agent, ids), key=lambda e: e.time)
    drafted = draft.proposals(draft.draft(episodes, ctx.settings.draft_every), crunched, 1)
    for p in drafted:
        ctx.note("proposed", f"{p.describe()} (drafted by code)", proposal=p.model_dump())
    return drafted


def run(ctx: SleepContext, gathered_rejections: list[str], crunched: CrunchOutput) -> DreamOutput:
    drafting, dreaming = proposers(ctx)
    proposals: list[Proposal] = _drafts(ctx, crunched) if drafting and crunched.clusters else []
    failed: list[str] = []
    most = operations_budget(ctx)
    persona = persona_block(ctx)
    example_conversation, example_reply, example_texts = example()
    rejections = ""
    if gathered_rejections:
        listed = "\n".join(f"- {r}" for r in gathered_rejections[:8])
        rejections = f"\n\nRecent nights rejected these; do not propose them again:\n{listed}"
    for cluster in crunched.clusters if dreaming else []:
        ctx.check_stop()
        labels = cluster_labels(ctx, cluster)
        ops = labels.ops()
        prompt = render(
            "dream",
            persona=persona,
            episodes=labels.episode_block(),
            memories=labels.memory_block(),
            thoughts=labels.thought_block(),
            hints="\n".join(f"- {labels.relabel(h)}" for h in cluster.hints) or "(none)",
            ops=", ".join(ops),
            max_operations=most,
            rejections=rejections,
            example_conversation=example_conversation,
            example_reply=example_reply,
        )
        try:
            reply = ctx.ask(
                "dreamer",
                cluster.id,
                [{"role": "user", "content": prompt}],
                reply_schema(labels, most),
                _parse,
            )
        except ReplyError as exc:
            failed.append(cluster.id)
            ctx.note("error", f"cluster {cluster.id}: the dreamer gave no usable reply ({exc})")
            continue
        for op in reply.operations[:most]:
            if op.op not in ops:
                ctx.note("dropped", f"cluster {cluster.id}: {op.op} is not possible here")
                continue
            if op.text.strip().casefold() in example_texts:
                ctx.note("dropped", f"cluster {cluster.id}: copied the prompt's example")
                continue
            proposal = labels.to_proposal(op, f"p{len(proposals) + 1}", cluster.id)
            proposals.append(proposal)
            ctx.note("proposed", proposal.describe(), proposal=proposal.model_dump())
    ctx.note(
        "summary",
        f"{len(proposals)} operations proposed from {len(crunched.clusters)} clusters"
        + (f" ({sum(p.role == 'drafter' for p in proposals)} drafted by code)" if drafting else "")
        + (f"; {len(failed)} clusters gave no usable reply" if failed else ""),
    )
    return DreamOutput(proposals=proposals, failed_clusters=failed)
