"""What a sleep changed (diff), and undoing it (rollback).

Rollback restores every memory the sleep touched to the state it had before the sleep, as new
versions authored by the user (history is kept: nothing is deleted), retracts the memories it
added, reopens the thoughts it resolved or dreamt upon, discards the questions it parked,
unmarks the memories it marked deep (dreamt upon), restores the persona, and returns its
episodes to unconsolidated so the next sleep takes them again. A memory changed after the
sleep (by hand, or by a later sleep) is not overwritten unless forced.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ConflictError, InputError
from ..records import (
    Author,
    Memory,
    MemoryChange,
    MemoryState,
    MemoryStatus,
    MemoryVersion,
    Op,
    Outcome,
    SleepStatus,
    ThoughtStatus,
)
from ..store import Store
from ..times import now

if TYPE_CHECKING:
    from ..host import Host

__all__ = ["Diff", "RollbackReport", "diff", "rollback"]


@dataclass(frozen=True)
class Change:
    memory_id: str
    op: str
    before: MemoryState | None
    after: MemoryState

    def to_json(self) -> dict[str, Any]:
        return {
            "memory": self.memory_id,
            "op": self.op,
            "before": self.before.to_json() if self.before else None,
            "after": self.after.to_json(),
        }


@dataclass(frozen=True)
class Diff:
    """What a sleep did to memory: first state before it, last state after it, per memory."""

    sleep_id: str
    added: list[Change] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)
    retracted: list[Change] = field(default_factory=list)
    superseded: list[Change] = field(default_factory=list)
    thoughts: list[dict[str, Any]] = field(default_factory=list)
    persona: list[int] = field(default_factory=list)
    episodes: int = 0
    dreamt_upon: list[str] = field(default_factory=list)  # marked deep, content unchanged

    @property
    def empty(self) -> bool:
        return not (self.added or self.changed or self.retracted or self.superseded)

    def to_json(self) -> dict[str, Any]:
        return {
            "sleep": self.sleep_id,
            "added": [c.to_json() for c in self.added],
            "changed": [c.to_json() for c in self.changed],
            "retracted": [c.to_json() for c in self.retracted],
            "superseded": [c.to_json() for c in self.superseded],
            "thoughts": self.thoughts,
            "persona_versions": self.persona,
            "episodes_consolidated": self.episodes,
            "dreamt_upon": self.dreamt_upon,
        }


def _by_memory(versions: list[MemoryVersion]) -> dict[str, list[MemoryVersion]]:
    grouped: dict[str, list[MemoryVersion]] = {}
    for v in versions:
        grouped.setdefault(v.memory_id, []).append(v)
    return grouped


def _dreamt_upon(store: Store, sleep_id: str) -> list[str]:
    """The memories a sleep's commit marked deep, from its checkpoint."""
    for stage in store.sleeps.stages(sleep_id):
        if stage.name == "commit" and stage.checkpoint:
            data = json.loads(stage.checkpoint)
            if not data.get("dry_run"):
                return [str(x) for x in data.get("dreamt_upon", [])]
    return []


def diff(host: Host, sleep_id: str) -> Diff:
    sleep_id = host.store.sleeps.resolve(host.agent, sleep_id)
    store, agent = host.store, host.agent
    out = Diff(
        sleep_id,
        thoughts=[
            {"id": t.id, "status": t.status.value, "text": t.text, "note": t.note}
            for t in store.thoughts.changed_by(agent, sleep_id)
        ],
        persona=[p.version for p in store.persona.by_sleep(agent, sleep_id)],
        episodes=len(store.episodes.consolidated_by(agent, sleep_id)),
        dreamt_upon=_dreamt_upon(store, sleep_id),
    )
    for memory_id, versions in _by_memory(
        store.memories.versions_by_sleep(agent, sleep_id)
    ).items():
        change = Change(memory_id, versions[-1].op.value, versions[0].before, versions[-1].after)
        if change.before is None:
            out.added.append(change)
        elif change.after.status is MemoryStatus.RETRACTED:
            out.retracted.append(change)
        elif change.after.status is MemoryStatus.SUPERSEDED:
            out.superseded.append(change)
        else:
            out.changed.append(change)
    return out


@dataclass(frozen=True)
class RollbackReport:
    sleep_id: str
    restored: list[str]
    retracted: list[str]
    thoughts: list[str]
    episodes: int
    persona_version: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "sleep": self.sleep_id,
            "restored": self.restored,
            "retracted": self.retracted,
            "thoughts_reopened": self.thoughts,
            "episodes_returned": self.episodes,
            "persona_version": self.persona_version,
        }


def rollback(host: Host, sleep_id: str, *, force: bool = False) -> RollbackReport:
    store, agent = host.store, host.agent
    sleep = store.sleeps.get(agent, store.sleeps.resolve(agent, sleep_id))
    if sleep.status is SleepStatus.ROLLED_BACK:
        raise InputError(f"sleep {sleep.id} is already rolled back")
    if sleep.status is not SleepStatus.DONE or sleep.dry_run:
        raise InputError(
            f"sleep {sleep.id} did not commit anything ({sleep.status.value}); nothing to roll back"
        )
    author = Author.user(host.config.user)
    reason = f"rollback of sleep {sleep.id}"
    grouped = _by_memory(store.memories.versions_by_sleep(agent, sleep.id))
    restored: list[str] = []
    retracted: list[str] = []
    with store.write() as tx:
        plan: list[tuple[Memory, MemoryVersion, MemoryVersion]] = []
        for memory_id, versions in grouped.items():
            current = tx.memories.get(agent, memory_id)
            if current.version != versions[-1].version and not force:
                raise ConflictError(
                    f"memory {memory_id} changed after sleep {sleep.id} (now version "
                    f"{current.version}); review it, or roll back with --force"
                )
            plan.append((current, versions[0], versions[-1]))
        for current, first, _ in plan:
            if first.before is None:
                after = current.state.but(
                    status=MemoryStatus.RETRACTED, valid_to=current.valid_to or now()
                )
                op = Op.RETRACT
                retracted.append(current.id)
            else:
                after, op = first.before, Op.RESTORE
                restored.append(current.id)
            if after != current.state:
                tx.memories.apply(
                    agent,
                    [MemoryChange(current.id, op, after, author, current.version, reason)],
                    check=False,
                )
        reopened = []
        for thought in tx.thoughts.changed_by(agent, sleep.id):
            tx.thoughts.set_status(agent, thought.id, ThoughtStatus.OPEN, note=reason)
            reopened.append(thought.id)
        for thought in tx.thoughts.created_by(agent, sleep.id):
            tx.thoughts.set_status(agent, thought.id, ThoughtStatus.DISCARDED, note=reason)
        episodes = tx.episodes.consolidated_by(agent, sleep.id)
        tx.episodes.mark_consolidated(agent, episodes, None)
        tx.memories.mark_deep(agent, _dreamt_upon(store, sleep.id), deep=False)
        persona_version = None
        written = tx.persona.by_sleep(agent, sleep.id)
        if written:
            earlier = [p for p in tx.persona.versions(agent) if p.version < written[0].version]
            persona_version = tx.persona.add(
                agent,
                earlier[-1].text if earlier else "",
                pinned=earlier[-1].pinned if earlier else (),
                author=author,
                reason=reason,
            ).version
        tx.sleeps.finish(sleep.id, SleepStatus.ROLLED_BACK, Outcome.DONE)
    return RollbackReport(sleep.id, restored, retracted, reopened, len(episodes), persona_version)
