"""Full-text and vector search on PostgreSQL.

Text: BM25 (k1 1.2, b 0.75, as FTS5) from the agent's own counts, which triggers keep in
``fts_docs`` (rows, tokens), ``fts_terms`` (rows per lexeme) and ``fts_postings`` (each row's
lexemes with their frequency and the row's length). The query's lexemes are PostgreSQL's
English ``to_tsvector`` of its terms (a row matches when it has any of them); their postings
are read by an index-only scan and summed per row, so a query costs the postings of its own
terms, not a pass over every matching row. As on SQLite, the best ``limit * 4`` are filtered
(status, kind, session ...) and, when that leaves fewer than ``limit``, the filtered rows
are ranked exactly. The inverse document frequency is FTS5's,
``ln((N - df + 0.5) / (df + 0.5))`` with a floor of 1e-6, so a term in more than half the
agent's rows counts next to nothing, as on SQLite (see docs/design/postgres.md).

Vectors: cosine distance (``<=>``) on pgvector, through the per-model HNSW index (iterative
scans, so a filter that removes most rows still fills ``limit``); the score is the cosine.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from ...records import ItemType
from ..filters import EpisodeFilter, MemoryFilter
from .connection import PgConnection
from .repos import literal

__all__ = ["text_search", "vector_search"]


def _table(item_type: ItemType) -> str:
    return "memories" if item_type is ItemType.MEMORY else "episodes"


_K1 = 1.2
_B = 0.75
_OVERFETCH = 4


def text_search(
    conn: PgConnection,
    agent: str,
    item_type: ItemType,
    terms: Sequence[str],
    where: MemoryFilter | EpisodeFilter,
    limit: int,
) -> list[tuple[int, float]]:
    terms = [t for t in terms if t.strip()]
    if not terms or limit <= 0:
        return []
    fragment, args = where.sql("t")
    kind = item_type.value
    scored = (
        "WITH s AS (SELECT docs, tokens::float8 / greatest(docs, 1) AS avglen FROM fts_docs "
        "WHERE agent = ? AND item_type = ?), "
        "w AS MATERIALIZED (SELECT q.lexeme, greatest(ln((s.docs - coalesce(d.df, 0) + 0.5) "
        "/ (coalesce(d.df, 0) + 0.5)), 1e-6) AS idf "
        "FROM (SELECT DISTINCT lexeme FROM unnest(to_tsvector('english', ?))) q CROSS JOIN s "
        "LEFT JOIN fts_terms d ON d.agent = ? AND d.item_type = ? AND d.lexeme = q.lexeme), "
        "r AS (SELECT p.seq, sum(w.idf * p.tf * ? / (p.tf + ? * (? + ? * p.len / s.avglen))) "
        "AS score FROM w JOIN fts_postings p ON p.agent = ? AND p.item_type = ? "
        "AND p.lexeme = w.lexeme CROSS JOIN s GROUP BY p.seq"
    )
    stats = (agent, kind, " ".join(terms), agent, kind, _K1 + 1, _K1, 1 - _B, _B, agent, kind)
    table = _table(item_type)
    fetch = limit * _OVERFETCH
    rows = conn.execute(
        f"{scored} ORDER BY score DESC, p.seq LIMIT ?) "
        f"SELECT t.seq, r.score, (SELECT count(*) FROM r) FROM r JOIN {table} t "
        f"ON t.seq = r.seq WHERE {fragment} ORDER BY r.score DESC, t.seq LIMIT ?",
        (*stats, fetch, *args, limit),
    ).fetchall()
    # The filter left too few of the best `fetch`, and more rows matched: rank the filtered.
    if len(rows) < limit and (not rows or rows[0][2] >= fetch):
        rows = conn.execute(
            f"{scored}) SELECT t.seq, r.score FROM r JOIN {table} t ON t.seq = r.seq "
            f"WHERE {fragment} ORDER BY r.score DESC, t.seq LIMIT ?",
            (*stats, *args, limit),
        ).fetchall()
    return [(int(row[0]), float(row[1])) for row in rows]


def vector_search(
    conn: PgConnection,
    agent: str,
    item_type: ItemType,
    model: str,
    query: NDArray[np.float32],
    where: MemoryFilter | EpisodeFilter,
    limit: int,
) -> list[tuple[int, float]]:
    if limit <= 0:
        return []
    dim = len(query)
    fragment, args = where.sql("t")
    vector = f"e.vector::vector({dim})"
    rows = conn.execute(
        f"SELECT e.item_seq, 1 - ({vector} <=> ?::vector({dim})) AS score "
        f"FROM embeddings e JOIN {_table(item_type)} t ON t.seq = e.item_seq "
        f"WHERE e.model = ? AND e.item_type = ? AND e.agent = ? AND {fragment} "
        f"ORDER BY {vector} <=> ?::vector({dim}) LIMIT ?",
        (literal(query), model, item_type.value, agent, *args, literal(query), limit),
    ).fetchall()
    return sorted(((int(r[0]), float(r[1])) for r in rows), key=lambda r: -r[1])
