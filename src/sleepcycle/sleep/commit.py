"""Commit (no model): the only stage that writes memory, in one transaction.

Accepted proposals become memory versions authored by the sleep (stage and model) with their
reason and verdict, or, for the operations ``[review]`` says to propose, wait in the review
queue for a person; superseded memories get ``valid_to`` and a link to what replaced them;
retractions are tombstones; parked questions become thoughts and answered ones are resolved;
memories dreamt upon are marked deep; the night's episodes are marked consolidated and the
watermark advances; the persona gets its new version. The stage's checkpoint and the sleep's
end are written in the same transaction (``finish``), so a crash leaves either all of it or
none of it. A dry run does all of this and rolls it back, so its journal says exactly what
would have changed.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, ConfigDict

from ..errors import SleepcycleError
from ..records import ThoughtStatus
from ..store import Tx
from .apply import Applier
from .context import SleepContext
from .gather import GatherOutput
from .persona import PersonaOutput
from .review import queue_persona, queue_proposal, verdict_json
from .verify import VerifyOutput

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
    queued: list[str] = []
    episodes: int = 0
    persona_version: int | None = None
    skipped: list[str] = []
    dreamt_upon: list[str] = []  # memories marked deep; rollback unmarks them
    dry_run: bool = False


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
    review = ctx.host.config.review
    result: CommitOutput | None = None
    try:
        with ctx.store.write() as tx:
            night = Applier(
                tx,
                ctx.agent,
                ctx.sleep_id,
                author=lambda p: ctx.author("dream" if p.round == 0 else "reshape", p.role),
                verdict=lambda p: verdict_json(p, verdicts[p.id]),
                score=lambda p: verdicts[p.id].score,
            )
            queued: list[str] = []
            for pid in verified.accepted:
                p = proposals[pid]
                if review.mode(p.op) == "propose":
                    item = queue_proposal(tx, ctx, p, verdicts[p.id])
                    queued.append(item)
                    verb = "would queue" if ctx.dry_run else "queued"
                    ctx.note(
                        "queued", f"{verb} {p.id} {p.describe()} for review ({item})", proposal=p.id
                    )
                    continue
                try:
                    night.apply(p)
                except SleepcycleError as exc:  # e.g. a memory edited by hand during the sleep
                    night.out["skipped"].append(p.id)
                    ctx.note("skipped", f"{p.id} {p.describe()}: {exc}", proposal=p.id)
                    continue
                verb = "would commit" if ctx.dry_run else "committed"
                ctx.note("committed", f"{verb} {p.id} {p.describe()}", proposal=p.id)
            for p in (proposals[pid] for pid in verified.accepted):
                later = proposals.get(p.superseded_by or "")
                if later is not None and night.supersede_within(p, later):
                    ctx.note(
                        "committed",
                        f"{p.id} is superseded by {later.id}, a later statement of it",
                        proposal=p.id,
                    )
            dreamt_upon = [m for m in gathered.shallow if m not in night.touched]
            tx.memories.mark_deep(ctx.agent, dreamt_upon)
            resolved = set(night.out["thoughts_resolved"])
            dreamt = [t for t in gathered.thoughts if t not in resolved]
            for thought_id in dreamt:
                tx.thoughts.set_status(
                    ctx.agent, thought_id, ThoughtStatus.DREAMT, sleep_id=ctx.sleep_id
                )
            tx.episodes.mark_consolidated(ctx.agent, gathered.episodes, ctx.sleep_id)
            if gathered.watermark[1] > tx.watermarks.get(ctx.agent):
                tx.watermarks.set(ctx.agent, gathered.watermark[1])
            version = None
            if persona.text is not None and review.persona == "propose":
                queued.append(queue_persona(tx, ctx, persona))
                ctx.note("queued", f"queued the persona update for review ({queued[-1]})")
            elif persona.text is not None:
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
                dreamt_upon=dreamt_upon,
                queued=queued,
                thoughts_dreamt=dreamt,
                episodes=len(gathered.episodes),
                persona_version=version,
                dry_run=ctx.dry_run,
            )
            ctx.note(
                "summary",
                ("dry run, nothing written: would add " if ctx.dry_run else "added ")
                + f"{len(result.added)}, changed {len(result.changed)}, retracted "
                f"{len(result.retracted)}, superseded {len(result.superseded)}, queued "
                f"{len(queued)} for review; {len(gathered.episodes)} episodes consolidated",
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
