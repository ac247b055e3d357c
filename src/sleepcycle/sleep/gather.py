"""Gather (no model): what tonight's sleep works on.

The day's unconsolidated episodes (oldest first, up to ``sleep.max_episodes``; the rest wait
for the next sleep), open thoughts, memories not yet dreamt upon (added during the day by a
person or the agent), active memories related to the day's conversations (by recall), and what
recent sleeps rejected, so the dreamer is not led to propose it again. Questions an earlier
sleep parked are taken up again only when something new arrives.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from ..records import MemoryStatus, ThoughtStatus
from ..store import MemoryFilter
from .context import SleepContext

__all__ = ["GatherOutput", "run"]


class GatherOutput(BaseModel):
    model_config = ConfigDict(frozen=True)

    episodes: list[str] = []
    thoughts: list[str] = []
    shallow: list[str] = []
    related: list[str] = []
    rejections: list[str] = []
    watermark: tuple[int, int] = (0, 0)
    new_thoughts: int = 0

    @property
    def empty(self) -> bool:
        """Nothing new: questions an earlier sleep parked wait for new episodes."""
        return not (self.episodes or self.new_thoughts or self.shallow)


def _related(ctx: SleepContext, texts: list[str], exclude: set[str]) -> list[str]:
    related: dict[str, None] = {}
    for text in texts:
        hits = ctx.host.recall(text[:2000], k=ctx.settings.related_memories).hits
        related.update((h.id, None) for h in hits if h.id not in exclude)
    return list(related)


def run(ctx: SleepContext) -> GatherOutput:
    agent, store = ctx.agent, ctx.store
    episodes = store.episodes.find(agent, unconsolidated=True, limit=ctx.settings.max_episodes)
    thoughts = store.thoughts.find(agent, statuses=[ThoughtStatus.OPEN])
    shallow = [
        m
        for m in store.memories.find(agent, MemoryFilter(statuses=(MemoryStatus.ACTIVE,)))
        if not m.deep
    ]
    ctx.host.embed_pending()
    sessions: dict[str, list[str]] = {}
    for ep in episodes:
        sessions.setdefault(ep.session, []).append(ep.search_text)
    texts = [" ".join(lines) for lines in sessions.values()] + [t.text for t in thoughts]
    related = _related(ctx, texts, {m.id for m in shallow})
    seqs = store.episodes.seqs([e.id for e in episodes])
    watermark = (min(seqs.values(), default=0), max(seqs.values(), default=0))
    out = GatherOutput(
        episodes=[e.id for e in episodes],
        thoughts=[t.id for t in thoughts],
        shallow=[m.id for m in shallow],
        related=related,
        rejections=store.journal.rejections(agent, limit=20),
        watermark=watermark,
        new_thoughts=sum(1 for t in thoughts if "created_by_sleep" not in t.meta),
    )
    pending = store.episodes.count(agent, unconsolidated=True) - len(episodes)
    ctx.note(
        "considered",
        f"{len(episodes)} episodes from {len(sessions)} sessions, {len(thoughts)} open thoughts, "
        f"{len(shallow)} memories not yet dreamt upon, {len(related)} related memories"
        + (f"; {pending} more episodes wait for the next sleep" if pending > 0 else ""),
        episodes=len(episodes),
        thoughts=len(thoughts),
        shallow=len(shallow),
        related=len(related),
    )
    return out
