"""Hybrid recall: BM25 over FTS5 and cosine over MiniLM vectors, fused by a convex combination.

Each ranking (per item type: memories, episodes) keeps its top ``candidates``; their scores are
min-max normalised within the ranking (best 1, last 0) and an item's fused score is
``text_weight * bm25 + (1 - text_weight) * cosine`` (0 for a ranking it is absent from). On
LoCoMo this beat reciprocal rank fusion at every depth (docs/design/retrieval.md): RRF with its
usual k = 60 lets any item both rankings agree on outrank the best item of either.
"""

from __future__ import annotations

import heapq
import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from enum import StrEnum

from .embed import Embedder
from .errors import InputError
from .records import Episode, ItemType, Memory
from .store import EpisodeFilter, MemoryFilter, Store
from .times import format_time

__all__ = ["Hit", "Mode", "Recall", "Scope", "query_terms", "recall"]

_WORD = re.compile(r"\w+", re.UNICODE)
# Function words that match nearly everything and only slow BM25 down.
STOPWORDS = frozenset(
    """a about above after again all also am an and any are as at be because been before being
    below between both but by can could did do does doing done down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself
    yourselves""".split()  # noqa: SIM905 - a word list reads best as text
)


# FTS5 floors the IDF of a term found in half the documents or more at 1e-6, so a match on
# such terms alone scores near zero: that is no evidence, and ranking by it would only add
# noise to the fusion (every memory that names the user, ordered by length). BM25 alone keeps
# them (ranked last): in a store of a few items every term is in half of them.
MIN_BM25 = 1e-3


class Scope(StrEnum):
    MEMORIES = "memories"
    EPISODES = "episodes"
    BOTH = "both"

    def item_types(self) -> tuple[ItemType, ...]:
        if self is Scope.MEMORIES:
            return (ItemType.MEMORY,)
        if self is Scope.EPISODES:
            return (ItemType.EPISODE,)
        return (ItemType.MEMORY, ItemType.EPISODE)


class Mode(StrEnum):
    HYBRID = "hybrid"
    BM25 = "bm25"
    VECTOR = "vector"


@dataclass(frozen=True, slots=True)
class Hit:
    """One recalled memory or episode, with its fused score and the scores behind it."""

    item_type: ItemType
    id: str
    text: str
    score: float
    bm25: float | None
    cosine: float | None
    sources: tuple[str, ...]
    memory: Memory | None = None
    episode: Episode | None = None

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "type": self.item_type.value,
            "id": self.id,
            "text": self.text,
            "score": round(self.score, 6),
            "bm25": None if self.bm25 is None else round(self.bm25, 4),
            "cosine": None if self.cosine is None else round(self.cosine, 4),
            "sources": list(self.sources),
        }
        if self.memory is not None:
            out["memory"] = self.memory.to_json()
        if self.episode is not None:
            ep = self.episode
            out["episode"] = {
                "id": ep.id,
                "session": ep.session,
                "role": ep.role.value,
                "name": ep.name,
                "time": format_time(ep.time),
                "meta": dict(ep.meta),
                "consolidated_in": ep.consolidated_in,
            }
        return out


@dataclass(frozen=True, slots=True)
class Recall:
    """The answer to one recall: hits best first, and what may be missing from it."""

    query: str
    mode: Mode
    hits: tuple[Hit, ...]
    unembedded: int
    elapsed_ms: float

    def to_json(self) -> dict[str, object]:
        return {
            "query": self.query,
            "mode": self.mode.value,
            "unembedded": self.unembedded,
            "elapsed_ms": round(self.elapsed_ms, 2),
            "hits": [h.to_json() for h in self.hits],
        }


def query_terms(query: str) -> list[str]:
    """Lower-cased words of the query without function words (kept if nothing else is left)."""
    words = [w for w in _WORD.findall(query.lower()) if len(w) > 1 or w.isdigit()]
    content = [w for w in words if w not in STOPWORDS]
    return list(dict.fromkeys(content or words))


def recall(
    store: Store,
    embedder: Embedder,
    agent: str,
    query: str,
    *,
    scope: Scope = Scope.MEMORIES,
    memory_filter: MemoryFilter | None = None,
    episode_filter: EpisodeFilter | None = None,
    mode: Mode = Mode.HYBRID,
    k: int = 10,
    candidates: int = 50,
    text_weight: float = 0.7,
    unembedded: int = 0,
) -> Recall:
    """The ``k`` best memories and/or episodes for ``query``."""
    started = time.perf_counter()
    if not query.strip():
        raise InputError("empty query; say what to recall")
    if k < 1:
        raise InputError(f"k must be at least 1, got {k}")
    pool = max(candidates, k)
    wheres: dict[ItemType, MemoryFilter | EpisodeFilter] = {
        item_type: (memory_filter or MemoryFilter())
        if item_type is ItemType.MEMORY
        else (episode_filter or EpisodeFilter())
        for item_type in scope.item_types()
    }
    # Full-text searches run on the store's search threads while this thread embeds the query
    # and searches vectors: the two halves are independent and each waits on different work.
    # With nothing to overlap (one BM25 search alone) the handoff would only add latency.
    terms = query_terms(query) if mode is not Mode.VECTOR else []
    run = store.submit if mode is not Mode.BM25 or len(wheres) > 1 else _now
    text_jobs = {
        item_type: run(store.text_search, agent, item_type, terms, where, pool)
        for item_type, where in wheres.items()
        if terms
    }
    rankings: list[tuple[ItemType, list[tuple[int, float]], str]] = []
    if mode is not Mode.BM25:
        vector = embedder.embed([query])[0]
        for item_type, where in wheres.items():
            found = store.vector_search(agent, item_type, embedder.model_id, vector, where, pool)
            rankings.append((item_type, found, "cosine"))
    for item_type, job in text_jobs.items():
        found = job.result()
        if mode is Mode.HYBRID:  # alone, BM25 keeps its weak matches: they are all it has
            found = [x for x in found if x[1] >= MIN_BM25]
        rankings.append((item_type, found, "bm25"))
    weights = {"bm25": 1.0, "cosine": 1.0}
    if mode is Mode.HYBRID:
        weights = {"bm25": text_weight, "cosine": 1.0 - text_weight}
    hits = _fuse(store, rankings, k, weights)
    elapsed = (time.perf_counter() - started) * 1000
    return Recall(query, mode, tuple(hits), unembedded, elapsed)


def _now(
    fn: Callable[..., list[tuple[int, float]]], /, *args: object
) -> Future[list[tuple[int, float]]]:
    """``fn(*args)`` run here, as a finished future (``Store.submit``'s shape)."""
    done: Future[list[tuple[int, float]]] = Future()
    done.set_result(fn(*args))
    return done


def _fuse(
    store: Store,
    rankings: Sequence[tuple[ItemType, list[tuple[int, float]], str]],
    k: int,
    weights: dict[str, float],
) -> list[Hit]:
    fused: dict[tuple[ItemType, int], float] = {}
    raw: dict[tuple[ItemType, int], dict[str, float]] = {}
    for item_type, ranking, signal in rankings:
        if not ranking:
            continue
        top, worst = ranking[0][1], ranking[-1][1]
        spread = top - worst
        for seq, value in ranking:
            key = (item_type, seq)
            norm = (value - worst) / spread if spread > 0 else 1.0
            fused[key] = fused.get(key, 0.0) + weights[signal] * norm
            raw.setdefault(key, {})[signal] = value
    # ties broken by item type, then seq: the same order on every run
    ranked = ((-score, key[0].value, key[1], key) for key, score in fused.items())
    best = [key for *_, key in heapq.nsmallest(k, ranked)]
    memories = store.memories.by_seq([s for t, s in best if t is ItemType.MEMORY])
    episodes = store.episodes.by_seq([s for t, s in best if t is ItemType.EPISODE])
    hits: list[Hit] = []
    for key in best:
        item_type, seq = key
        signals = raw[key]
        if item_type is ItemType.MEMORY:
            memory = memories[seq]
            hits.append(
                Hit(
                    item_type,
                    memory.id,
                    memory.text,
                    fused[key],
                    signals.get("bm25"),
                    signals.get("cosine"),
                    memory.sources,
                    memory=memory,
                )
            )
        else:
            episode = episodes[seq]
            hits.append(
                Hit(
                    item_type,
                    episode.id,
                    episode.search_text,
                    fused[key],
                    signals.get("bm25"),
                    signals.get("cosine"),
                    (episode.id,),
                    episode=episode,
                )
            )
    return hits
