"""Recall, and the embedding of what is waiting for a vector."""

from __future__ import annotations

from collections.abc import Sequence

from ..recall import Mode, Recall, Scope, recall
from ..records import (
    ItemType,
    MemoryKind,
    MemoryStatus,
    Role,
)
from ..store import EpisodeFilter, MemoryFilter
from ..times import parse_time_or_none
from .base import MindBase, Progress, TimeLike

__all__ = ["Search"]


class Search(MindBase):
    def recall(
        self,
        query: str,
        *,
        k: int | None = None,
        scope: Scope | str = Scope.MEMORIES,
        kinds: Sequence[MemoryKind] = (),
        statuses: Sequence[MemoryStatus] = (MemoryStatus.ACTIVE,),
        roles: Sequence[Role] = (),
        sessions: Sequence[str] = (),
        since: TimeLike = None,
        until: TimeLike = None,
        mode: Mode | str = Mode.HYBRID,
    ) -> Recall:
        """The best memories and/or episodes for ``query``: BM25 and vectors, fused."""
        scope, mode = Scope(scope), Mode(mode)
        lower, upper = parse_time_or_none(since), parse_time_or_none(until)
        unembedded = 0
        if mode is not Mode.BM25:
            unembedded = self._embed_small_backlog(scope.item_types())
        settings = self.config.recall
        return recall(
            self.store,
            self.embedder,
            self.agent,
            query,
            scope=scope,
            memory_filter=MemoryFilter(tuple(kinds), tuple(statuses), lower, upper),
            episode_filter=EpisodeFilter(tuple(roles), tuple(sessions), lower, upper),
            mode=mode,
            k=k or settings.k,
            candidates=settings.candidates,
            text_weight=settings.text_weight,
            unembedded=unembedded,
        )

    def _embed_small_backlog(self, item_types: Sequence[ItemType]) -> int:
        backlog = sum(self.store.embeddings.count_pending(self.agent, t) for t in item_types)
        if 0 < backlog <= self.config.recall.embed_on_query:
            self.embed_pending(item_types=item_types)
            return 0
        return backlog

    def pending_embeddings(self) -> int:
        """Memories and episodes waiting for a vector."""
        return sum(self.store.embeddings.count_pending(self.agent, t) for t in ItemType)

    def embed_pending(
        self,
        *,
        item_types: Sequence[ItemType] = tuple(ItemType),
        progress: Progress | None = None,
        chunk: int = 256,
    ) -> int:
        """Compute vectors for everything queued; returns how many were embedded."""
        total = sum(self.store.embeddings.count_pending(self.agent, t) for t in item_types)
        done = 0
        for item_type in item_types:
            while True:
                pending = self.store.embeddings.pending(self.agent, item_type, chunk)
                if not pending:
                    break
                vectors = self.embedder.embed([text for _, text, _ in pending])
                rows = [
                    (seq, digest, vectors[i].tobytes())
                    for i, (seq, _, digest) in enumerate(pending)
                ]
                with self.store.write() as tx:
                    tx.embeddings.put(self.agent, item_type, self.embedder.model_id, rows)
                done += len(rows)
                if progress is not None:
                    progress(done, max(total, done))
        return done
