"""Commit (no model): the only stage that writes memory, in one transaction.

Accepted proposals become memory versions authored by the sleep (stage and model) with their
reason and verdict; superseded memories get ``valid_to`` and a link to what replaced them;
retractions are tombstones; parked questions become thoughts and answered ones are resolved;
memories dreamt upon are marked deep; the night's episodes are marked consolidated and the
watermark advances; the persona gets its new version. The stage's checkpoint and the sleep's
end are written in the same transaction (``finish``), so a crash leaves either all of it or
none of it. A dry run does all of this and rolls it back, so its journal says exactly what
would have changed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from .. import changes
from ..errors import SleepcycleError
from ..ids import content_id
from ..records import (
    Association,
    Author,
    MemoryChange,
    MemoryKind,
    MemoryStatus,
    Op,
    Thought,
    ThoughtKind,
    ThoughtStatus,
)
from ..store import Tx
from ..times import now
from .context import SleepContext
from .gather import GatherOutput
from .persona import PersonaOutput
from .proposals import Proposal
from .verify import Verdict, VerifyOutput

__all__ = ["CommitOutput", "run"]


class CommitOutput(BaseModel):
    model_config = ConfigDict(frozen=True)

    added: list[str] = []
    changed: list[str] = []
    retracted: list[str] = []
    superseded: list[str] = []
    thoughts_parked: list[str] = []
    thoughts_resolved: list[str] = []
    thoughts_dreamt: list[str] = []
    episodes: int = 0
    persona_version: int | None = None
    skipped: list[str] = []
    dry_run: bool = False


class _Night:
    """Applies accepted proposals inside one write transaction."""

    def __init__(self, ctx: SleepContext, tx: Tx, verdicts: dict[str, Verdict]):
        self.ctx, self.tx, self.verdicts = ctx, tx, verdicts
        self.out: dict[str, list[str]] = {
            k: []
            for k in (
                "added", "changed", "retracted", "superseded", "thoughts_parked",
                "thoughts_resolved", "skipped",
            )
        }  # fmt: skip
        self.touched: set[str] = set()

    def author(self, p: Proposal) -> Author:
        stage = "dream" if p.round == 0 else "reshape"
        return self.ctx.author(stage, p.role)

    def verdict(self, p: Proposal) -> dict[str, Any]:
        v = self.verdicts[p.id]
        return {
            "proposal": p.id,
            "round": p.round,
            "score": v.score,
            "reasons": v.reasons,
            "verifier": v.model,
            "checks": "passed",
        }

    def _times(self, p: Proposal) -> list[datetime]:
        return [e.time for e in self.tx.episodes.get_many(self.ctx.agent, p.sources)]

    def _write(self, change: MemoryChange) -> None:
        self.tx.memories.apply(self.ctx.agent, [change])
        self.touched.add(change.memory_id)

    def _new(
        self, p: Proposal, kind: MemoryKind, sources: list[str], links: list[Association]
    ) -> str:
        times = self._times(p)
        change = changes.add(
            p.text,
            author=self.author(p),
            kind=kind,
            sources=sources,
            valid_from=min(times) if times else None,
            score=self.verdicts[p.id].score,
            deep=True,
            reason=p.reason or None,
        )
        state = change.after.but(associations=tuple(links))
        change = MemoryChange(
            change.memory_id, Op.ADD, state, change.author, None, change.reason, self.verdict(p)
        )
        self._write(change)
        self.out["added"].append(change.memory_id)
        return change.memory_id

    def _update(self, p: Proposal, memory_id: str, op: Op, **fields: Any) -> None:
        current = self.tx.memories.get(self.ctx.agent, memory_id)
        after = current.state.but(deep=True, **fields)
        reason = p.reason or None
        self._write(
            MemoryChange(
                memory_id, op, after, self.author(p), current.version, reason, self.verdict(p)
            )
        )

    def apply(self, p: Proposal) -> None:
        agent, tx = self.ctx.agent, self.tx
        targets = tx.memories.get_many(agent, p.targets)
        score = self.verdicts[p.id].score
        if p.op in ("add", "insight"):
            self._new(p, p.kind, p.sources, [])
        elif p.op == "edit":
            m = targets[0]
            self._update(
                p, m.id, Op.EDIT, text=p.text, score=score,
                sources=tuple(dict.fromkeys((*m.sources, *p.sources))),
            )  # fmt: skip
            self.out["changed"].append(m.id)
        elif p.op == "amend":
            m = targets[0]
            joined = changes.amend(m, p.text, author=self.author(p)).after.text
            self._update(
                p,
                m.id,
                Op.AMEND,
                text=joined,
                sources=tuple(dict.fromkeys((*m.sources, *p.sources))),
            )
            self.out["changed"].append(m.id)
        elif p.op == "retract":
            m = targets[0]
            times = self._times(p)
            self._update(
                p,
                m.id,
                Op.RETRACT,
                status=MemoryStatus.RETRACTED,
                valid_to=max(times, default=now()),
            )
            self.out["retracted"].append(m.id)
        elif p.op == "supersede":
            old = targets[0]
            new = self._new(p, old.kind, p.sources, [Association(old.id, "supersedes")])
            start = min(self._times(p), default=now())
            self._update(
                p, old.id, Op.SUPERSEDE, status=MemoryStatus.SUPERSEDED, valid_to=start,
                associations=(*old.associations, Association(new, "superseded_by")),
            )  # fmt: skip
            self.out["superseded"].append(old.id)
        elif p.op == "merge":
            sources = list(dict.fromkeys([s for m in targets for s in m.sources] + p.sources))
            links = [Association(m.id, "merged_from") for m in targets]
            new = self._new(p, targets[0].kind, sources, links)
            for m in targets:
                self._update(
                    p, m.id, Op.MERGE, status=MemoryStatus.SUPERSEDED,
                    associations=(*m.associations, Association(new, "merged_into")),
                )  # fmt: skip
                self.out["superseded"].append(m.id)
        elif p.op == "link":
            a, b = targets[0], targets[1]
            kept = tuple(x for x in a.associations if x.id != b.id)
            self._update(p, a.id, Op.LINK, associations=(*kept, Association(b.id, p.relation)))
            self.out["changed"].append(a.id)
        elif p.op == "park":
            stamp = now()
            thought = Thought(
                id=content_id("th", agent, "parked", p.text, self.ctx.sleep_id),
                agent=agent, kind=ThoughtKind.PARKED, text=p.text, created=stamp, updated=stamp,
                sources=tuple(p.sources), meta={"created_by_sleep": self.ctx.sleep_id},
            )  # fmt: skip
            tx.thoughts.add([thought])
            self.out["thoughts_parked"].append(thought.id)
        elif p.op == "resolve" and p.thought:
            note = p.text or p.reason or "answered by the conversation"
            tx.thoughts.set_status(
                agent, p.thought, ThoughtStatus.RESOLVED, sleep_id=self.ctx.sleep_id, note=note
            )
            self.out["thoughts_resolved"].append(p.thought)


def run(
    ctx: SleepContext,
    gathered: GatherOutput,
    verified: VerifyOutput,
    persona: PersonaOutput,
    finish: Callable[[Tx, CommitOutput], None],
) -> CommitOutput:
    """Apply the night; ``finish(tx, output)`` runs inside the same transaction."""
    proposals = {p.id: p for p in verified.proposals}
    verdicts = {v.proposal: v for v in verified.verdicts}
    result: CommitOutput | None = None
    try:
        with ctx.store.write() as tx:
            night = _Night(ctx, tx, verdicts)
            for pid in verified.accepted:
                p = proposals[pid]
                try:
                    night.apply(p)
                except SleepcycleError as exc:  # e.g. a memory edited by hand during the sleep
                    night.out["skipped"].append(p.id)
                    ctx.note("skipped", f"{p.id} {p.describe()}: {exc}", proposal=p.id)
                    continue
                verb = "would commit" if ctx.dry_run else "committed"
                ctx.note("committed", f"{verb} {p.id} {p.describe()}", proposal=p.id)
            dreamt_upon = [m for m in gathered.shallow if m not in night.touched]
            tx.memories.mark_deep(ctx.agent, dreamt_upon)
            resolved = set(night.out["thoughts_resolved"])
            dreamt = [t for t in gathered.thoughts if t not in resolved]
            for thought_id in dreamt:
                tx.thoughts.set_status(
                    ctx.agent, thought_id, ThoughtStatus.DREAMT, sleep_id=ctx.sleep_id
                )
            tx.episodes.mark_consolidated(ctx.agent, gathered.episodes, ctx.sleep_id)
            if gathered.watermark[1] > tx.sleeps.watermark(ctx.agent):
                tx.sleeps.set_watermark(ctx.agent, gathered.watermark[1])
            version = None
            if persona.text is not None:
                current = tx.persona.current(ctx.agent)
                version = tx.persona.add(
                    ctx.agent,
                    persona.text,
                    pinned=current.pinned if current else (),
                    author=ctx.author("persona", "foreground"),
                    reason="REM: " + "; ".join(persona.applied),
                ).version
            result = CommitOutput(
                **night.out,
                thoughts_dreamt=dreamt,
                episodes=len(gathered.episodes),
                persona_version=version,
                dry_run=ctx.dry_run,
            )
            ctx.note(
                "summary",
                ("dry run, nothing written: would add " if ctx.dry_run else "added ")
                + f"{len(result.added)}, changed {len(result.changed)}, retracted "
                f"{len(result.retracted)}, superseded {len(result.superseded)}; "
                f"{len(gathered.episodes)} episodes consolidated",
            )
            if ctx.dry_run:
                raise _DryRun
            finish(tx, result)
    except _DryRun:
        pass
    assert result is not None
    return result


class _DryRun(Exception):
    """Rolls a dry run's commit back after it has been planned in full."""
