"""Full-text search with SQLite FTS5 and BM25 ranking.

FTS5 ranks every row that matches any query term. Joining each of those rows to its table to
apply the agent and status filters doubled the cost at 100k memories, so the search first takes
the best ``limit * 4`` matches from the FTS index alone and filters only those; when the filters
leave too few (a store shared by many agents), it ranks the filtered rows exactly instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from .filters import EpisodeFilter, MemoryFilter
from .sql import Connection

__all__ = ["match_expression", "search_episodes", "search_memories"]

_OVERFETCH = 4


def match_expression(terms: Sequence[str]) -> str:
    """An FTS5 query that matches any of ``terms``, each quoted so no term is read as syntax."""
    quoted = ('"' + term.replace('"', '""') + '"' for term in terms if term)
    return " OR ".join(quoted)


def _search(
    conn: Connection,
    table: str,
    weights: str,
    agent: str,
    terms: Sequence[str],
    where: MemoryFilter | EpisodeFilter,
    limit: int,
) -> list[tuple[int, float]]:
    expression = match_expression(terms)
    if not expression or limit <= 0:
        return []
    fts = f"{table}_fts"
    fragment, args = where.sql("t")
    fetch = limit * _OVERFETCH
    rows = conn.execute(
        f"SELECT t.seq, f.score FROM (SELECT rowid, bm25({fts}{weights}) AS score FROM {fts} "
        f"WHERE {fts} MATCH ? ORDER BY score LIMIT ?) f JOIN {table} t ON t.seq = f.rowid "
        f"WHERE t.agent = ? AND {fragment} ORDER BY f.score LIMIT ?",
        (expression, fetch, agent, *args, limit),
    ).fetchall()
    if len(rows) < limit:
        matched = conn.execute(
            f"SELECT COUNT(*) FROM {fts} WHERE {fts} MATCH ?", (expression,)
        ).fetchone()[0]
        if matched > fetch:
            rows = conn.execute(
                f"SELECT t.seq, bm25({fts}{weights}) AS score FROM {fts} "
                f"JOIN {table} t ON t.seq = {fts}.rowid "
                f"WHERE {fts} MATCH ? AND t.agent = ? AND {fragment} ORDER BY score LIMIT ?",
                (expression, agent, *args, limit),
            ).fetchall()
    return [(row[0], -row[1]) for row in rows]


def search_memories(
    conn: Connection, agent: str, terms: Sequence[str], where: MemoryFilter, limit: int
) -> list[tuple[int, float]]:
    """(memory seq, BM25 score, higher is better) of the best matches."""
    return _search(conn, "memories", "", agent, terms, where, limit)


def search_episodes(
    conn: Connection, agent: str, terms: Sequence[str], where: EpisodeFilter, limit: int
) -> list[tuple[int, float]]:
    """(episode seq, BM25 score, higher is better) of the best matches; the speaker's name
    weighs half as much as the content."""
    return _search(conn, "episodes", ", 0.5, 1.0", agent, terms, where, limit)
