"""Full-text search with SQLite FTS5 and BM25 ranking."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from .filters import EpisodeFilter, MemoryFilter

__all__ = ["match_expression", "search_episodes", "search_memories"]


def match_expression(terms: Sequence[str]) -> str:
    """An FTS5 query that matches any of ``terms``, each quoted so no term is read as syntax."""
    quoted = ('"' + term.replace('"', '""') + '"' for term in terms if term)
    return " OR ".join(quoted)


def search_memories(
    conn: sqlite3.Connection, agent: str, terms: Sequence[str], where: MemoryFilter, limit: int
) -> list[tuple[int, float]]:
    """(memory seq, BM25 score, higher is better) of the best matches."""
    expression = match_expression(terms)
    if not expression:
        return []
    fragment, args = where.sql("m")
    rows = conn.execute(
        "SELECT m.seq, bm25(memories_fts) AS rank FROM memories_fts "
        "JOIN memories m ON m.seq = memories_fts.rowid "
        f"WHERE memories_fts MATCH ? AND m.agent = ? AND {fragment} ORDER BY rank LIMIT ?",
        (expression, agent, *args, limit),
    )
    return [(row[0], -row[1]) for row in rows]


def search_episodes(
    conn: sqlite3.Connection, agent: str, terms: Sequence[str], where: EpisodeFilter, limit: int
) -> list[tuple[int, float]]:
    """(episode seq, BM25 score, higher is better) of the best matches."""
    expression = match_expression(terms)
    if not expression:
        return []
    fragment, args = where.sql("ep")
    rows = conn.execute(
        "SELECT ep.seq, bm25(episodes_fts, 0.5, 1.0) AS rank FROM episodes_fts "
        "JOIN episodes ep ON ep.seq = episodes_fts.rowid "
        f"WHERE episodes_fts MATCH ? AND ep.agent = ? AND {fragment} ORDER BY rank LIMIT ?",
        (expression, agent, *args, limit),
    )
    return [(row[0], -row[1]) for row in rows]
