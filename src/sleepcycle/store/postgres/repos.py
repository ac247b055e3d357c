"""The repositories where PostgreSQL needs its own SQL; the rest are the SQLite store's own.

- Locks: ``get`` inside a write takes the agent's advisory transaction lock first, so two
  processes that both find an agent's sleep lock free cannot both take it (SQLite's single
  writer gave that for free).
- Memories: the row a change is computed from is read ``FOR UPDATE``, so two writers of the
  same memory serialise and the second sees the first's version (and is refused as stale).
- JSON lookups use ``jsonb`` operators; sleeps are ordered by their identity column.
- Embeddings are pgvector values; the vector index is PostgreSQL's (``store.postgres.search``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from ...records import ItemType, Sleep, Thought
from ..embeddings import EmbeddingRepo
from ..locks import LockRepo, LockRow
from ..memories import _ROW, MemoryRepo
from ..sleeps import SleepRepo, _sleep
from ..sql import Row
from ..thoughts import _COLUMNS as _THOUGHT_COLUMNS
from ..thoughts import ThoughtRepo, _thought
from .connection import PgConnection

__all__ = ["PgEmbeddingRepo", "PgLockRepo", "PgMemoryRepo", "PgSleepRepo", "PgThoughtRepo"]

_SLEEP = "id, agent, status, outcome, trigger, dry_run, started, ended, stats, error"


class PgSleepRepo(SleepRepo):
    def find(self, agent: str, *, limit: int | None = None) -> list[Sleep]:
        sql = f"SELECT {_SLEEP} FROM sleeps WHERE agent = ? ORDER BY started DESC, seq DESC"
        args: list[object] = [agent]
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return [_sleep(row) for row in self.conn.execute(sql, args)]


class PgThoughtRepo(ThoughtRepo):
    def created_by(self, agent: str, sleep_id: str) -> list[Thought]:
        rows = self.conn.execute(
            f"SELECT {_THOUGHT_COLUMNS} FROM thoughts WHERE agent = ? "
            "AND meta::jsonb ->> 'created_by_sleep' = ? ORDER BY seq",
            (agent, sleep_id),
        )
        return [_thought(row) for row in rows]


class PgMemoryRepo(MemoryRepo):
    def __init__(self, conn: PgConnection, *, writing: bool):
        super().__init__(conn)
        self.writing = writing

    def _row(self, memory_id: str) -> Row | None:
        lock = " FOR UPDATE" if self.writing else ""
        row: Row | None = self.conn.execute(
            f"SELECT {_ROW} FROM memories WHERE id = ?{lock}", (memory_id,)
        ).fetchone()
        return row

    def linked_from(self, agent: str, memory_id: str) -> list[tuple[str, str]]:
        rows = self.conn.execute(
            "SELECT m.id, a.value ->> 'relation' FROM memories m, "
            "jsonb_array_elements(m.associations::jsonb) a WHERE m.agent = ? "
            "AND a.value ->> 'id' = ? ORDER BY m.seq",
            (agent, memory_id),
        )
        return [(row[0], row[1]) for row in rows]


class PgLockRepo(LockRepo):
    def __init__(self, conn: PgConnection, *, writing: bool):
        super().__init__(conn)
        self.writing = writing

    def get(self, agent: str) -> LockRow | None:
        if self.writing:  # whoever reads the lock to take it holds the agent until commit
            self.conn.execute("SELECT pg_advisory_xact_lock(hashtext(?))", (f"lock:{agent}",))
        return super().get(agent)


class PgEmbeddingRepo(EmbeddingRepo):
    def __init__(self, conn: PgConnection):
        super().__init__(conn)
        self.pg = conn

    def put(
        self,
        agent: str,
        item_type: ItemType,
        model: str,
        rows: Sequence[tuple[int, str, bytes]],
    ) -> None:
        # The index first: CREATE INDEX takes a SHARE lock on the table, which waits for
        # every other writer's inserts; taken after this transaction's own inserts, two
        # writers would wait for each other (a deadlock).
        for dim in {len(raw) // 4 for _, _, raw in rows}:
            ensure_index(self.pg, model, dim)
        for item_seq, digest, raw in rows:
            vector = np.frombuffer(raw, dtype=np.float32)
            self.conn.execute(
                "INSERT INTO embeddings (agent, item_type, item_seq, model, text_hash, vector) "
                "VALUES (?, ?, ?, ?, ?, ?::vector) ON CONFLICT (item_type, item_seq, model) "
                "DO UPDATE SET text_hash = excluded.text_hash, vector = excluded.vector",
                (agent, item_type.value, item_seq, model, digest, literal(vector)),
            )
            if item_type is ItemType.MEMORY:
                self.conn.execute(
                    "DELETE FROM embedding_queue WHERE item_type = 'memory' AND item_seq = ? "
                    "AND EXISTS (SELECT 1 FROM memories WHERE seq = ? AND text_hash = ?)",
                    (item_seq, item_seq, digest),
                )
            else:
                self.conn.execute(
                    "DELETE FROM embedding_queue WHERE item_type = 'episode' AND item_seq = ?",
                    (item_seq,),
                )


def literal(vector: NDArray[np.float32]) -> str:
    """pgvector's text form of a vector."""
    return "[" + ",".join(f"{float(x):.7g}" for x in vector) + "]"


def index_name(model: str, dim: int) -> str:
    return "embeddings_hnsw_" + hashlib.sha256(f"{model}:{dim}".encode()).hexdigest()[:12]


def ensure_index(conn: PgConnection, model: str, dim: int) -> None:
    """The HNSW index (cosine) over ``model``'s vectors of ``dim`` dimensions, created when
    missing. Looking it up locks nothing, so writers that find it do not serialise on it."""
    name = index_name(model, dim)
    if conn.execute("SELECT to_regclass(?)", (name,)).fetchone() != (None,):
        return
    # Two first writers would both create it: the second waits here for the first's commit.
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(?))", (name,))
    if conn.execute("SELECT to_regclass(?)", (name,)).fetchone() != (None,):
        return
    quoted = model.replace("'", "''")
    conn.script(
        [
            f"CREATE INDEX IF NOT EXISTS {index_name(model, dim)} ON embeddings USING hnsw "
            f"((vector::vector({dim})) vector_cosine_ops) WHERE model = '{quoted}'"
        ]
    )
