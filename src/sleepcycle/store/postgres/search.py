"""Full-text and vector search on PostgreSQL.

Text: the query terms OR'ed as ``plainto_tsquery('english', term)`` each, ranked by
``ts_rank_cd`` over the generated ``fts`` column (episodes weigh the speaker's name as half
the content, as on SQLite). ``ts_rank_cd`` is cover density, not BM25: it has no inverse
document frequency, so a rare term does not outweigh a common one the way it does in FTS5
(see docs/design/postgres.md).

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
    query = " || ".join("plainto_tsquery('english', ?)" for _ in terms)
    fragment, args = where.sql("t")
    rows = conn.execute(
        f"WITH q AS (SELECT {query} AS query) "
        "SELECT t.seq, ts_rank_cd('{0.1, 0.2, 0.5, 1.0}', t.fts, q.query) AS score "
        f"FROM {_table(item_type)} t, q WHERE t.fts @@ q.query AND t.agent = ? AND {fragment} "
        "ORDER BY score DESC, t.seq LIMIT ?",
        (*terms, agent, *args, limit),
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
