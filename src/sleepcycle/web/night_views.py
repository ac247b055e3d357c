"""What the night pages show, shaped from the Mind API: a sleep's journal grouped by outcome,
its diff with each memory's state now, and review items with their verdict and targets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import NotFoundError
from ..mind import Mind
from ..records import JournalEntry, Memory, MemoryState, ReviewItem, Sleep, SleepStatus
from ..sleep import Diff
from ..sleep.history import Change
from ..sleep.journal import summary_lines
from .textdiff import Segment, lines, words

__all__ = ["ChangeView", "Night", "ReviewView", "night", "review_view"]

# Journal kinds by what became of the proposal (the rest show in the full journal only).
KEPT = frozenset({"committed", "approved"})
QUEUED = frozenset({"queued"})
REJECTED = frozenset({"rejected", "refused", "skipped", "dropped", "error"})
DIFF_GROUPS = ("added", "changed", "superseded", "retracted")


@dataclass(frozen=True)
class ChangeView:
    """One memory the sleep touched: its state before and after, the text's diff, and the
    memory as it is now (a rolled-back sleep's changes show as undone)."""

    memory_id: str
    op: str
    before: MemoryState | None
    after: MemoryState
    text: list[Segment]
    now: Memory | None


@dataclass(frozen=True)
class Night:
    sleep: Sleep
    summary: list[str]
    diff: Diff
    changes: list[tuple[str, list[ChangeView]]]
    kept: list[JournalEntry] = field(default_factory=list)
    queued: list[JournalEntry] = field(default_factory=list)
    rejected: list[JournalEntry] = field(default_factory=list)
    stages: list[tuple[str, list[JournalEntry]]] = field(default_factory=list)

    @property
    def rolled_back(self) -> bool:
        return self.sleep.status is SleepStatus.ROLLED_BACK

    @property
    def can_roll_back(self) -> bool:
        return self.sleep.status is SleepStatus.DONE and not self.sleep.dry_run


def _current(mind: Mind, memory_id: str) -> Memory | None:
    try:
        return mind.memory(memory_id)
    except NotFoundError:
        return None


def _change(mind: Mind, change: Change) -> ChangeView:
    before = change.before.text if change.before else ""
    return ChangeView(
        change.memory_id,
        change.op,
        change.before,
        change.after,
        words(before, change.after.text),
        _current(mind, change.memory_id),
    )


def _stages(entries: list[JournalEntry]) -> list[tuple[str, list[JournalEntry]]]:
    stages: list[tuple[str, list[JournalEntry]]] = []
    for entry in entries:
        if not stages or stages[-1][0] != entry.stage:
            stages.append((entry.stage, []))
        stages[-1][1].append(entry)
    return stages


def night(mind: Mind, sleep_id: str | None) -> Night:
    """A sleep (the latest when ``None``): summary, journal by outcome and stage, and diff."""
    sleep, entries = mind.journal(sleep_id)
    diff = mind.diff(sleep.id)
    changes = [(name, [_change(mind, c) for c in getattr(diff, name)]) for name in DIFF_GROUPS]
    return Night(
        sleep,
        summary_lines(sleep),
        diff,
        changes,
        kept=[e for e in entries if e.kind in KEPT],
        queued=[e for e in entries if e.kind in QUEUED],
        rejected=[e for e in entries if e.kind in REJECTED],
        stages=_stages(entries),
    )


@dataclass(frozen=True)
class ReviewView:
    """A review item with what a person needs to decide: the verifier's verdict, the
    episodes it cites, the memories it would change (as they read now), and for a persona
    update the change to the persona's text."""

    item: ReviewItem
    proposal: Mapping[str, Any]
    verdict: Mapping[str, Any]
    proposed_by: Mapping[str, Any]
    sources: list[str]
    targets: list[tuple[str, Memory | None]]
    persona: list[Segment]
    touched: list[tuple[str, str]]


def _touched(result: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """(outcome, memory id) for each memory an approval changed."""
    return [
        (outcome, memory_id)
        for outcome in DIFF_GROUPS
        for memory_id in (result or {}).get(outcome, [])
    ]


def review_view(mind: Mind, item: ReviewItem) -> ReviewView:
    payload = item.payload
    proposal: Mapping[str, Any] = payload.get("proposal") or {}
    persona: list[Segment] = []
    if item.op == "persona":
        current = mind.persona()
        persona = lines(current.text if current else "", str(payload.get("text", "")))
    return ReviewView(
        item,
        proposal,
        payload.get("verdict") or {},
        payload.get("proposed_by") or {},
        list(proposal.get("sources") or []),
        [(t, _current(mind, t)) for t in proposal.get("targets") or []],
        persona,
        _touched(item.result),
    )
