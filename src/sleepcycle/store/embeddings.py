"""Embedding rows: one vector per (item, model), replaced when the item's text changes.

Vectors are written after the fact, in batches (``Mind.embed_pending``), so recording a turn
never waits on the embedding model. Two feeds keep an in-memory ``VectorIndex`` current: new
embedding rows (by ``seq``) and changed memory rows (by ``rev``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..records import ItemType, MemoryKind, MemoryStatus, Role, episode_text
from .codec import text_hash
from .columns import EPOCH, KIND_CODES, ROLE_CODES, STATUS_CODES
from .contract import Pending
from .sql import Connection
from .vectors import VectorIndex

__all__ = ["EmbeddingRepo", "Pending"]

_FEED_LIMIT = 20_000


class EmbeddingRepo:
    def __init__(self, conn: Connection):
        self.conn = conn

    # writes -----------------------------------------------------------------------------

    def put(
        self,
        agent: str,
        item_type: ItemType,
        model: str,
        rows: Sequence[tuple[int, str, bytes]],
    ) -> None:
        """Store (item seq, text hash, float32 bytes) rows, replacing older vectors, and take
        the items off the queue unless their text changed since it was read."""
        for item_seq, digest, vector in rows:
            self.conn.execute(
                "DELETE FROM embeddings WHERE item_type = ? AND item_seq = ? AND model = ?",
                (item_type.value, item_seq, model),
            )
            self.conn.execute(
                "INSERT INTO embeddings (agent, item_type, item_seq, model, text_hash, vector) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (agent, item_type.value, item_seq, model, digest, vector),
            )
            if item_type is ItemType.MEMORY:
                self.conn.execute(
                    "DELETE FROM embedding_queue WHERE item_type = 'memory' AND item_seq = ? "
                    "AND (SELECT text_hash FROM memories WHERE seq = ?) = ?",
                    (item_seq, item_seq, digest),
                )
            else:
                self.conn.execute(
                    "DELETE FROM embedding_queue WHERE item_type = 'episode' AND item_seq = ?",
                    (item_seq,),
                )

    def requeue_for(self, model: str) -> int:
        """Queue every item that has no vector from ``model`` for its current text (used when
        the configured model changes). Returns how many were queued."""
        memories = self.conn.execute(
            "INSERT INTO embedding_queue SELECT 'memory', m.seq, m.agent "
            "FROM memories m WHERE NOT EXISTS (SELECT 1 FROM embeddings e WHERE "
            "e.item_type = 'memory' AND e.item_seq = m.seq AND e.model = ? "
            "AND e.text_hash = m.text_hash) ON CONFLICT DO NOTHING",
            (model,),
        )
        episodes = self.conn.execute(
            "INSERT INTO embedding_queue SELECT 'episode', ep.seq, ep.agent "
            "FROM episodes ep WHERE NOT EXISTS (SELECT 1 FROM embeddings e WHERE "
            "e.item_type = 'episode' AND e.item_seq = ep.seq AND e.model = ?) "
            "ON CONFLICT DO NOTHING",
            (model,),
        )
        return memories.rowcount + episodes.rowcount

    # reads ------------------------------------------------------------------------------

    def pending(self, agent: str, item_type: ItemType, limit: int) -> list[Pending]:
        """Queued items (new, or whose text changed), oldest first."""
        if item_type is ItemType.MEMORY:
            rows = self.conn.execute(
                "SELECT m.seq, m.text, m.text_hash FROM embedding_queue q "
                "JOIN memories m ON m.seq = q.item_seq "
                "WHERE q.agent = ? AND q.item_type = 'memory' ORDER BY q.item_seq LIMIT ?",
                (agent, limit),
            )
            return [(row[0], row[1], row[2]) for row in rows]
        rows = self.conn.execute(
            "SELECT ep.seq, ep.name, ep.content FROM embedding_queue q "
            "JOIN episodes ep ON ep.seq = q.item_seq "
            "WHERE q.agent = ? AND q.item_type = 'episode' ORDER BY q.item_seq LIMIT ?",
            (agent, limit),
        )
        out: list[Pending] = []
        for seq, name, content in rows:
            text = episode_text(name, content)
            out.append((seq, text, text_hash(text)))
        return out

    def count_pending(self, agent: str, item_type: ItemType) -> int:
        row = self.conn.execute(
            "SELECT COUNT(*) FROM embedding_queue WHERE agent = ? AND item_type = ?",
            (agent, item_type.value),
        ).fetchone()
        return int(row[0])

    def sync(self, index: VectorIndex, agent: str, item_type: ItemType, model: str) -> None:
        """Bring ``index`` up to date with this agent's rows. Call with ``index.lock`` held."""
        if index.vector_mark == 0:
            row = self.conn.execute(
                "SELECT COUNT(*) FROM embeddings WHERE agent = ? AND item_type = ? AND model = ?",
                (agent, item_type.value, model),
            ).fetchone()
            index.reserve(int(row[0]))
        if item_type is ItemType.MEMORY:
            if index.vector_mark == 0:
                # First load: the vector feed joins current filter columns, so only changes
                # made after this point need the change feed.
                row = self.conn.execute(
                    "SELECT COALESCE(MAX(rev), 0) FROM memories WHERE agent = ?", (agent,)
                ).fetchone()
                index.meta_mark = int(row[0])
            else:
                self._sync_memory_filters(index, agent)
        while self._load_vectors(index, agent, item_type, model) == _FEED_LIMIT:
            pass

    def _sync_memory_filters(self, index: VectorIndex, agent: str) -> None:
        rows = self.conn.execute(
            f"SELECT seq, kind, status, {EPOCH.format('valid_from')}, "
            f"{EPOCH.format('valid_to')}, rev FROM memories WHERE agent = ? AND rev > ? "
            "ORDER BY rev",
            (agent, index.meta_mark),
        ).fetchall()
        if not rows:
            return
        index.update_filters(
            [r[0] for r in rows],
            [KIND_CODES[MemoryKind(r[1])] for r in rows],
            [STATUS_CODES[MemoryStatus(r[2])] for r in rows],
            [-np.inf if r[3] is None else r[3] for r in rows],
            [np.inf if r[4] is None else r[4] for r in rows],
        )
        index.meta_mark = rows[-1][5]

    def _load_vectors(self, index: VectorIndex, agent: str, item_type: ItemType, model: str) -> int:
        if item_type is ItemType.MEMORY:
            sql = (
                f"SELECT e.seq, e.item_seq, e.vector, m.kind, m.status, "
                f"{EPOCH.format('m.valid_from')}, "
                f"{EPOCH.format('m.valid_to')} "
                "FROM embeddings e JOIN memories m ON m.seq = e.item_seq "
                "WHERE e.agent = ? AND e.item_type = 'memory' AND e.model = ? AND e.seq > ? "
                "ORDER BY e.seq LIMIT ?"
            )
        else:
            sql = (
                f"SELECT e.seq, e.item_seq, e.vector, ep.role, ep.session, "
                f"{EPOCH.format('ep.time')}, "
                f"{EPOCH.format('ep.time')} "
                "FROM embeddings e JOIN episodes ep ON ep.seq = e.item_seq "
                "WHERE e.agent = ? AND e.item_type = 'episode' AND e.model = ? AND e.seq > ? "
                "ORDER BY e.seq LIMIT ?"
            )
        rows = self.conn.execute(sql, (agent, model, index.vector_mark, _FEED_LIMIT)).fetchall()
        if not rows:
            return 0
        vectors = np.frombuffer(b"".join(r[2] for r in rows), dtype=np.float32)
        vectors = vectors.reshape(len(rows), index.dim)
        if item_type is ItemType.MEMORY:
            kinds = [KIND_CODES[MemoryKind(r[3])] for r in rows]
            statuses = [STATUS_CODES[MemoryStatus(r[4])] for r in rows]
        else:
            kinds = [ROLE_CODES[Role(r[3])] for r in rows]
            statuses = [index.columns.label(r[4]) for r in rows]
        index.upsert(
            [r[1] for r in rows],
            vectors,
            kinds,
            statuses,
            [-np.inf if r[5] is None else r[5] for r in rows],
            [np.inf if r[6] is None else r[6] for r in rows],
            marks=[r[0] for r in rows],
        )
        index.vector_mark = rows[-1][0]
        return len(rows)
