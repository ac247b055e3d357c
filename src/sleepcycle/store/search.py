"""Full-text search with BM25 ranking: FTS5's, through an in-memory index of its tokens.

``text_search`` ranks through a ``TextIndex`` (``textindex.py``), which scores as FTS5's
``bm25()`` does from the same tokens, kept current here from two feeds: new episodes (by
``seq``; episodes are never changed) and changed memories (by ``rev``, the store-wide change
counter). The FTS5 tables stay the reference and the fallback for a query the index cannot
rank (a word FTS5 reads as a phrase).

FTS5 itself ranks every row that matches any query term. Joining each of those rows to its
table to apply the agent and status filters doubled the cost at 100k memories, so the FTS5
path first takes the best ``limit * 4`` matches from the FTS index alone and filters only
those; when the filters leave too few (a store shared by many agents), it ranks the filtered
rows exactly instead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..records import ItemType, MemoryKind, MemoryStatus, Role
from .columns import EPOCH, KIND_CODES, ROLE_CODES, STATUS_CODES, row_filter
from .filters import EpisodeFilter, MemoryFilter
from .freshness import Freshness
from .sql import Connection
from .textindex import Document, TextIndex

__all__ = [
    "match_expression",
    "new_text_index",
    "search_episodes",
    "search_memories",
    "text_index_search",
]

_OVERFETCH = 4
_FEED_LIMIT = 20_000
# bm25() column weights of each FTS5 table: episodes weigh the speaker's name half
WEIGHTS = {ItemType.MEMORY: (1.0,), ItemType.EPISODE: (0.5, 1.0)}


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
    weights = "".join(f", {w}" for w in WEIGHTS[ItemType.EPISODE])
    return _search(conn, "episodes", weights, agent, terms, where, limit)


def new_text_index(item_type: ItemType) -> TextIndex:
    return TextIndex(WEIGHTS[item_type])


def _sync(conn: Connection, index: TextIndex, item_type: ItemType) -> None:
    """Bring ``index`` up to date with every committed row. Call with ``index.lock`` held."""
    while _apply_feed(conn, index, item_type) == _FEED_LIMIT:
        pass
    index.settle()


def _apply_feed(conn: Connection, index: TextIndex, item_type: ItemType) -> int:
    if item_type is ItemType.MEMORY:
        rows = conn.execute(
            f"SELECT seq, agent, text, kind, status, {EPOCH.format('valid_from')}, "
            f"{EPOCH.format('valid_to')}, rev FROM memories WHERE rev > ? ORDER BY rev LIMIT ?",
            (index.mark, _FEED_LIMIT),
        ).fetchall()
        documents = [
            Document(
                r[0],
                r[1],
                KIND_CODES[MemoryKind(r[3])],
                STATUS_CODES[MemoryStatus(r[4])],
                -math.inf if r[5] is None else r[5],
                math.inf if r[6] is None else r[6],
                (r[2],),
            )
            for r in rows
        ]
    else:
        rows = conn.execute(
            f"SELECT seq, agent, name, content, role, session, {EPOCH.format('time')} "
            "FROM episodes WHERE seq > ? ORDER BY seq LIMIT ?",
            (index.mark, _FEED_LIMIT),
        ).fetchall()
        label = index.columns.label
        documents = [
            Document(r[0], r[1], ROLE_CODES[Role(r[4])], label(r[5]), r[6], r[6], (r[2], r[3]))
            for r in rows
        ]
    if not rows:
        return 0
    index.upsert(documents)
    index.mark = rows[-1][-1] if item_type is ItemType.MEMORY else rows[-1][0]
    return len(rows)


def text_index_search(
    conn: Connection,
    index: TextIndex,
    item_type: ItemType,
    agent: str,
    words: Sequence[str],
    where: MemoryFilter | EpisodeFilter,
    limit: int,
    freshness: Freshness,
) -> list[tuple[int, float]]:
    """``search_memories`` / ``search_episodes`` through ``index``: the same ranking.
    ``freshness``: the feeds are skipped when nothing was committed since ``conn`` ran them."""
    with index.lock:
        terms = index.terms(words)
        if terms is None:  # a word FTS5 reads as a phrase: FTS5 ranks it
            if isinstance(where, MemoryFilter):
                return search_memories(conn, agent, words, where, limit)
            return search_episodes(conn, agent, words, where, limit)
        if (version := freshness.stale(conn)) is not None:
            _sync(conn, index, item_type)
            freshness.synced(conn, version)
        return index.search(agent, terms, row_filter(where, index.columns), limit)
