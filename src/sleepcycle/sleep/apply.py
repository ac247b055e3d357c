"""Turning a verified proposal into memory changes, inside the caller's write transaction.

Used by the commit stage (author: the sleep, with its stage and model) and by the review
queue when a person approves a proposal the sleep queued (author: that person).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from .. import changes
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
from .proposals import Proposal

__all__ = ["OUTCOMES", "Applier"]

OUTCOMES = (
    "added",
    "changed",
    "retracted",
    "superseded",
    "thoughts_parked",
    "thoughts_resolved",
    "skipped",
)


class Applier:
    """Applies proposals for one agent; ``out`` lists the ids each outcome touched."""

    def __init__(
        self,
        tx: Tx,
        agent: str,
        sleep_id: str,
        *,
        author: Callable[[Proposal], Author],
        verdict: Callable[[Proposal], dict[str, Any]],
        score: Callable[[Proposal], int | None],
    ):
        self.tx, self.agent, self.sleep_id = tx, agent, sleep_id
        self.author, self.verdict, self.score = author, verdict, score
        self.out: dict[str, list[str]] = {k: [] for k in OUTCOMES}
        self.touched: set[str] = set()
        self.memory_of: dict[str, str] = {}  # proposal id -> the memory it added

    def _times(self, p: Proposal) -> list[datetime]:
        return [e.time for e in self.tx.episodes.get_many(self.agent, p.sources)]

    def _write(self, change: MemoryChange) -> None:
        self.tx.memories.apply(self.agent, [change])
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
            score=self.score(p),
            deep=True,
            reason=p.reason or None,
        )
        state = change.after.but(associations=tuple(links))
        change = MemoryChange(
            change.memory_id, Op.ADD, state, change.author, None, change.reason, self.verdict(p)
        )
        self._write(change)
        self.out["added"].append(change.memory_id)
        self.memory_of[p.id] = change.memory_id
        return change.memory_id

    def _update(self, p: Proposal, memory_id: str, op: Op, **fields: Any) -> None:
        current = self.tx.memories.get(self.agent, memory_id)
        after = current.state.but(deep=True, **fields)
        change = MemoryChange(
            memory_id, op, after, self.author(p), current.version, p.reason or None, self.verdict(p)
        )
        self._write(change)

    def supersede_within(self, old: Proposal, new: Proposal) -> bool:
        """Mark the memory ``old`` added tonight as superseded by the one ``new`` added (a
        later statement of the same thing); False where either was not added."""
        old_id, new_id = self.memory_of.get(old.id), self.memory_of.get(new.id)
        if old_id is None or new_id is None:
            return False
        start = min(self._times(new), default=now())
        before = self.tx.memories.get(self.agent, old_id)
        links = (*before.associations, Association(new_id, "superseded_by"))
        self._update(
            new, old_id, Op.SUPERSEDE, status=MemoryStatus.SUPERSEDED, valid_to=start,
            associations=links,
        )  # fmt: skip
        after = self.tx.memories.get(self.agent, new_id)
        self._update(
            new,
            new_id,
            Op.LINK,
            associations=(*after.associations, Association(old_id, "supersedes")),
        )
        self.out["superseded"].append(old_id)
        return True

    def apply(self, p: Proposal) -> None:
        agent, tx = self.agent, self.tx
        targets = tx.memories.get_many(agent, p.targets)
        if p.op in ("add", "insight"):
            self._new(p, p.kind, p.sources, [])
        elif p.op == "edit":
            m = targets[0]
            kept = tuple(dict.fromkeys((*m.sources, *p.sources)))
            self._update(p, m.id, Op.EDIT, text=p.text, score=self.score(p), sources=kept)
            self.out["changed"].append(m.id)
        elif p.op == "amend":
            m = targets[0]
            joined = changes.amend(m, p.text, author=self.author(p)).after.text
            cited = tuple(dict.fromkeys((*m.sources, *p.sources)))
            self._update(p, m.id, Op.AMEND, text=joined, sources=cited)
            self.out["changed"].append(m.id)
        elif p.op == "retract":
            m = targets[0]
            end = max(self._times(p), default=now())
            self._update(p, m.id, Op.RETRACT, status=MemoryStatus.RETRACTED, valid_to=end)
            self.out["retracted"].append(m.id)
        elif p.op == "supersede":
            old = targets[0]
            new = self._new(p, old.kind, p.sources, [Association(old.id, "supersedes")])
            start = min(self._times(p), default=now())
            links = (*old.associations, Association(new, "superseded_by"))
            self._update(
                p, old.id, Op.SUPERSEDE, status=MemoryStatus.SUPERSEDED, valid_to=start,
                associations=links,
            )  # fmt: skip
            self.out["superseded"].append(old.id)
        elif p.op == "merge":
            sources = list(dict.fromkeys([s for m in targets for s in m.sources] + p.sources))
            new = self._new(
                p, targets[0].kind, sources, [Association(m.id, "merged_from") for m in targets]
            )
            for m in targets:
                links = (*m.associations, Association(new, "merged_into"))
                self._update(p, m.id, Op.MERGE, status=MemoryStatus.SUPERSEDED, associations=links)
                self.out["superseded"].append(m.id)
        elif p.op == "link":
            a, b = targets[0], targets[1]
            others = tuple(x for x in a.associations if x.id != b.id)
            self._update(p, a.id, Op.LINK, associations=(*others, Association(b.id, p.relation)))
            self.out["changed"].append(a.id)
        elif p.op == "park":
            stamp = now()
            thought = Thought(
                id=content_id("th", agent, "parked", p.text, self.sleep_id),
                agent=agent, kind=ThoughtKind.PARKED, text=p.text, created=stamp, updated=stamp,
                sources=tuple(p.sources), meta={"created_by_sleep": self.sleep_id},
            )  # fmt: skip
            tx.thoughts.add([thought])
            self.out["thoughts_parked"].append(thought.id)
        elif p.op == "resolve" and p.thought:
            note = p.text or p.reason or "answered by the conversation"
            tx.thoughts.set_status(
                agent, p.thought, ThoughtStatus.RESOLVED, sleep_id=self.sleep_id, note=note
            )
            self.out["thoughts_resolved"].append(p.thought)
