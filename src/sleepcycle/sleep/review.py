"""The review queue: what a sleep proposed instead of applying, and a person's decision.

The commit stage queues an accepted operation when ``[review]`` says ``propose`` for it. A
queued item stays out of memory (and so out of recall) until a person approves it; the change
is then applied as a version authored by that person, keeping the sleep's verdict and naming the
item. Approving an item whose memories changed since the sleep proposed it is refused unless
forced. Rejecting it records the decision, and the sleeps that follow are told what was
rejected so they do not propose it again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import ConflictError, InputError
from ..ids import random_id
from ..records import Author, JournalEntry, ReviewItem, ReviewStatus
from ..store import Tx
from ..times import now
from .apply import Applier
from .context import SleepContext
from .persona import PersonaOutput
from .proposals import Proposal
from .verify import Verdict

if TYPE_CHECKING:
    from ..host import Host

__all__ = ["approve", "queue_persona", "queue_proposal", "reject", "verdict_json"]


def verdict_json(p: Proposal, v: Verdict) -> dict[str, Any]:
    return {
        "proposal": p.id,
        "round": p.round,
        "score": v.score,
        "reasons": v.reasons,
        "verifier": v.model,
        "checks": "passed",
    }


def queue_proposal(tx: Tx, ctx: SleepContext, p: Proposal, v: Verdict) -> str:
    """Queue an accepted operation for review; its id."""
    targets = tx.memories.get_many(ctx.agent, p.targets)
    author = ctx.author("dream" if p.round == 0 else "reshape", p.role)
    item = ReviewItem(
        id=random_id("rev"),
        agent=ctx.agent,
        sleep_id=ctx.sleep_id,
        op=p.op,
        summary=p.describe(),
        payload={
            "proposal": p.model_dump(mode="json"),
            "verdict": verdict_json(p, v),
            "proposed_by": {"stage": author.stage, "model": author.model},
            "versions": {m.id: m.version for m in targets},
        },
        status=ReviewStatus.PENDING,
        created=now(),
    )
    tx.review.add(item)
    return item.id


def queue_persona(tx: Tx, ctx: SleepContext, persona: PersonaOutput) -> str:
    """Queue the night's persona update for review; its id."""
    current = tx.persona.current(ctx.agent)
    item = ReviewItem(
        id=random_id("rev"),
        agent=ctx.agent,
        sleep_id=ctx.sleep_id,
        op="persona",
        summary="persona: " + "; ".join(persona.applied),
        payload={
            "text": persona.text,
            "applied": persona.applied,
            "base_version": current.version if current else 0,
        },
        status=ReviewStatus.PENDING,
        created=now(),
    )
    tx.review.add(item)
    return item.id


def _pending(tx: Tx, agent: str, item_id: str) -> ReviewItem:
    item = tx.review.get(agent, tx.review.resolve(agent, item_id))
    if item.status is not ReviewStatus.PENDING:
        raise InputError(f"review item {item.id} was already {item.status.value}")
    return item


def _journal(tx: Tx, item: ReviewItem, kind: str, text: str) -> None:
    if item.sleep_id:
        entry = JournalEntry(item.sleep_id, "review", kind, text, now(), {"review": item.id})
        tx.journal.add(item.agent, [entry])


def approve(
    host: Host,
    item_id: str,
    *,
    reason: str | None = None,
    force: bool = False,
    by: str | None = None,
) -> ReviewItem:
    """Apply a queued operation as a change by the person approving it (``by``; config
    ``user`` by default)."""
    person = by or host.config.user
    with host.store.write() as tx:
        item = _pending(tx, host.agent, item_id)
        note = reason or f"approved review item {item.id} from sleep {item.sleep_id}"
        if item.op == "persona":
            result = _approve_persona(tx, host, item, person, note, force)
        else:
            result = _approve_operation(tx, host, item, person, note, force)
        tx.review.decide(
            host.agent, item.id, ReviewStatus.APPROVED, by=person, note=reason, result=result
        )
        _journal(tx, item, "approved", f"approved by {person}: {item.summary}")
    return host.store.review.get(host.agent, item.id)


def _approve_operation(
    tx: Tx, host: Host, item: ReviewItem, person: str, note: str, force: bool
) -> dict[str, Any]:
    p = Proposal.model_validate(item.payload["proposal"])
    versions: dict[str, int] = item.payload.get("versions", {})
    for memory in tx.memories.get_many(host.agent, list(versions)):
        if memory.version != versions[memory.id] and not force:
            raise ConflictError(
                f"memory {memory.id} changed since the sleep proposed this (version "
                f"{versions[memory.id]}, now {memory.version}); review it, or approve with --force"
            )
    verdict = {**item.payload["verdict"], "review": item.id, "approved_by": person}
    applier = Applier(
        tx,
        host.agent,
        item.sleep_id or "",
        author=lambda _: Author.user(person),
        verdict=lambda _: verdict,
        score=lambda _: item.payload["verdict"].get("score"),
    )
    applier.apply(p.model_copy(update={"reason": note}))
    return applier.out


def _approve_persona(
    tx: Tx, host: Host, item: ReviewItem, person: str, note: str, force: bool
) -> dict[str, Any]:
    current = tx.persona.current(host.agent)
    base = item.payload.get("base_version", 0)
    if (current.version if current else 0) != base and not force:
        raise ConflictError(
            f"the persona changed since the sleep proposed this (version {base}, now "
            f"{current.version if current else 0}); review it, or approve with --force"
        )
    text = str(item.payload["text"])
    pinned = current.pinned if current else ()
    missing = [line for line in pinned if line not in text.splitlines()]
    if missing:
        raise ConflictError(f"the proposed persona drops the pinned line {missing[0]!r}")
    version = tx.persona.add(
        host.agent, text, pinned=pinned, author=Author.user(person), reason=note
    )
    return {"persona_version": version.version}


def reject(
    host: Host, item_id: str, *, reason: str | None = None, by: str | None = None
) -> ReviewItem:
    """Decline a queued operation; later sleeps are told it was rejected."""
    person = by or host.config.user
    with host.store.write() as tx:
        item = _pending(tx, host.agent, item_id)
        tx.review.decide(host.agent, item.id, ReviewStatus.REJECTED, by=person, note=reason)
        because = f" ({reason})" if reason else ""
        _journal(tx, item, "rejected", f"{item.summary}: rejected by {person}{because}")
    return host.store.review.get(host.agent, item.id)
