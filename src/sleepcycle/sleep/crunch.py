"""Crunch (no model): topics, duplicates, contradictions and repeats.

- Episodes are clustered by topic: in time order, each joins the most similar open cluster
  (cosine to the cluster's mean, with a bonus for the next turn of the same session) or starts
  a new one; clusters are capped at ``sleep.cluster_size`` so each fits a small model's prompt.
- Each cluster also shows, as context, the line just before each of its lines (in the same
  session) when another cluster took it: what a line answers is often said there, and a
  memory may cite it.
- Open thoughts join the cluster they are most similar to, or form their own.
- Each cluster is shown the memories most similar to it; memories not yet dreamt upon that no
  cluster takes form a review cluster, so every one of them is dreamt upon.
- Near-duplicate memories (cosine >= ``sleep.duplicate_similarity``), contradiction
  candidates (a memory and an episode about the same subject that name different values) and
  repeated statements across sessions become hints for the dreamer.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict

from ..grounding import claims
from ..records import Episode, Memory
from .context import SleepContext
from .gather import GatherOutput

__all__ = ["Cluster", "CrunchOutput", "run"]

ADJACENT_BONUS = 0.15
MEMORY_FLOOR = 0.2
REPEAT_SIMILARITY = 0.85


class Cluster(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    episodes: list[str] = []
    context: list[str] = []  # tonight's lines just before its own, shown and citable
    thoughts: list[str] = []
    memories: list[str] = []
    hints: list[str] = []


class CrunchOutput(BaseModel):
    model_config = ConfigDict(frozen=True)

    clusters: list[Cluster] = []
    duplicates: list[tuple[str, str, float]] = []
    contradictions: list[tuple[str, str, float]] = []
    repeats: list[list[str]] = []


def _cluster_episodes(
    episodes: list[Episode], vectors: NDArray[np.float32], size: int, threshold: float
) -> list[list[int]]:
    clusters: list[list[int]] = []
    sums: list[NDArray[np.float32]] = []
    for i, ep in enumerate(episodes):
        best, best_score = -1, -2.0
        for c, members in enumerate(clusters):
            if len(members) >= size:
                continue
            centroid = sums[c] / np.linalg.norm(sums[c])
            score = float(centroid @ vectors[i])
            last = episodes[members[-1]]
            if last.session == ep.session and members[-1] == i - 1:
                score += ADJACENT_BONUS
            if score > best_score:
                best, best_score = c, score
        if best >= 0 and best_score >= threshold:
            clusters[best].append(i)
            sums[best] = sums[best] + vectors[i]
        else:
            clusters.append([i])
            sums.append(vectors[i].copy())
    return clusters


def _values_differ(memory: Memory, episode: Episode) -> bool:
    """Same subject, new value: they share a name and each has one the other lacks."""
    a = {c.casefold() for c in claims(memory.text)}
    b = {c.casefold() for c in claims(episode.search_text)}
    return bool(a & b) and bool(a - b) and bool(b - a)


def run(ctx: SleepContext, gathered: GatherOutput) -> CrunchOutput:
    store, agent, settings = ctx.store, ctx.agent, ctx.settings
    episodes = store.episodes.get_many(agent, gathered.episodes)
    thoughts = [store.thoughts.get(agent, t) for t in gathered.thoughts]
    memories = store.memories.get_many(agent, [*gathered.shallow, *gathered.related])
    embed = ctx.host.embedder.embed
    ev = embed([e.search_text for e in episodes]) if episodes else np.empty((0, 384), np.float32)
    tv = embed([t.text for t in thoughts]) if thoughts else np.empty((0, 384), np.float32)
    mv = embed([m.text for m in memories]) if memories else np.empty((0, 384), np.float32)

    groups = _cluster_episodes(episodes, ev, settings.cluster_size, settings.cluster_similarity)
    centroids = [ev[g].mean(axis=0) for g in groups]
    thought_groups: dict[int, list[str]] = {}
    for i, t in enumerate(thoughts):
        scores = [float(c @ tv[i]) / float(np.linalg.norm(c)) for c in centroids]
        best = int(np.argmax(scores)) if scores else -1
        if best >= 0 and scores[best] >= settings.cluster_similarity:
            thought_groups.setdefault(best, []).append(t.id)
        else:
            groups.append([])
            centroids.append(tv[i])
            thought_groups[len(groups) - 1] = [t.id]

    shown: set[str] = set()
    cluster_memories: list[list[str]] = []
    for centroid in centroids:
        unit = centroid / max(float(np.linalg.norm(centroid)), 1e-9)
        similarity = mv @ unit if len(memories) else np.empty(0)
        order = np.argsort(-similarity)[: settings.related_memories]
        picked = [memories[j].id for j in order if similarity[j] >= MEMORY_FLOOR]
        shown.update(picked)
        cluster_memories.append(picked)
    left = [m for m in memories if m.id in set(gathered.shallow) and m.id not in shown]
    for start in range(0, len(left), max(settings.related_memories, 1)):
        groups.append([])
        cluster_memories.append([m.id for m in left[start : start + settings.related_memories]])

    duplicates = _duplicates(memories, mv, settings.duplicate_similarity)
    contradictions = _contradictions(episodes, ev, memories, mv, settings.duplicate_similarity)
    repeats = _repeats(episodes, ev)

    clusters = []
    for c, members in enumerate(groups):
        member_ids = [episodes[i].id for i in members]
        context = _context(episodes, members)
        mem_ids = cluster_memories[c]
        hints = _hints(member_ids, mem_ids, duplicates, contradictions, repeats)
        clusters.append(
            Cluster(
                id=f"c{c + 1}",
                episodes=member_ids,
                context=context,
                thoughts=thought_groups.get(c, []),
                memories=mem_ids,
                hints=hints,
            )
        )
    out = CrunchOutput(
        clusters=clusters,
        duplicates=duplicates,
        contradictions=contradictions,
        repeats=repeats,
    )
    ctx.note(
        "considered",
        f"{len(clusters)} clusters, {len(duplicates)} near-duplicate memory pairs, "
        f"{len(contradictions)} contradiction candidates, {len(repeats)} repeated statements",
        clusters=[c.model_dump() for c in clusters],
    )
    return out


def _context(episodes: list[Episode], members: list[int]) -> list[str]:
    """The line before each member, in its session, that the cluster does not hold."""
    inside = set(members)
    found: dict[str, None] = {}
    for i in members:
        j = i - 1
        if j >= 0 and j not in inside and episodes[j].session == episodes[i].session:
            found[episodes[j].id] = None
    return list(found)


def _duplicates(
    memories: list[Memory], vectors: NDArray[np.float32], threshold: float
) -> list[tuple[str, str, float]]:
    found = []
    if len(memories) > 1:
        sims = vectors @ vectors.T
        for i in range(len(memories)):
            for j in range(i + 1, len(memories)):
                if sims[i, j] >= threshold:
                    found.append((memories[i].id, memories[j].id, round(float(sims[i, j]), 3)))
    return found


def _contradictions(
    episodes: list[Episode],
    ev: NDArray[np.float32],
    memories: list[Memory],
    mv: NDArray[np.float32],
    ceiling: float,
) -> list[tuple[str, str, float]]:
    found = []
    if episodes and memories:
        sims = mv @ ev.T
        for i, memory in enumerate(memories):
            for j, episode in enumerate(episodes):
                if 0.45 <= sims[i, j] < ceiling and _values_differ(memory, episode):
                    found.append((memory.id, episode.id, round(float(sims[i, j]), 3)))
    return found


def _repeats(episodes: list[Episode], ev: NDArray[np.float32]) -> list[list[str]]:
    groups: list[list[str]] = []
    if len(episodes) > 1:
        sims = ev @ ev.T
        seen: set[int] = set()
        for i in range(len(episodes)):
            if i in seen:
                continue
            same = [
                j
                for j in range(i + 1, len(episodes))
                if sims[i, j] >= REPEAT_SIMILARITY and episodes[j].session != episodes[i].session
            ]
            if same:
                seen.update(same)
                groups.append([episodes[i].id] + [episodes[j].id for j in same])
    return groups


def _hints(
    episode_ids: list[str],
    memory_ids: list[str],
    duplicates: list[tuple[str, str, float]],
    contradictions: list[tuple[str, str, float]],
    repeats: list[list[str]],
) -> list[str]:
    """Hints in terms of real ids; the dream stage rewrites them with the prompt's labels."""
    here_e, here_m = set(episode_ids), set(memory_ids)
    hints = [
        f"{a} and {b} may say the same thing"
        for a, b, _ in duplicates
        if a in here_m and b in here_m
    ]
    hints += [
        f"{e} may update {m} (same subject, new value)"
        for m, e, _ in contradictions
        if m in here_m and e in here_e
    ]
    hints += [
        f"said {len(group)} times: {', '.join(g for g in group if g in here_e)}"
        for group in repeats
        if here_e & set(group)
    ]
    return hints
