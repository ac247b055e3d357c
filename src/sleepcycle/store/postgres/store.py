"""The PostgreSQL store: many agents in one database, several processes writing at once.

Writes: one transaction per ``write()`` on this process's write connection (a process-wide
lock keeps its own threads one at a time, as on SQLite); between processes PostgreSQL's row
locks and the advisory locks in ``repos`` keep what SQLite's single writer kept. Reads: a
connection per thread in autocommit, read-only, so each read sees what is committed.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import ParamSpec, TypeVar

import numpy as np
import psycopg
from numpy.typing import NDArray

from ...errors import StoreError
from ...records import ItemType
from ..adapters import AdapterRepo
from ..calls import CallRepo
from ..contract import Store
from ..embeddings import EmbeddingRepo
from ..episodes import EpisodeRepo
from ..filters import EpisodeFilter, MemoryFilter
from ..journal import JournalRepo
from ..locks import LockRepo, WatermarkRepo
from ..memories import MemoryRepo
from ..persona import PersonaRepo
from ..registry import shown_url
from ..review import ReviewRepo
from ..sleeps import SleepRepo
from ..sqlite import SqliteTx
from ..thoughts import ThoughtRepo
from .connection import PgConnection
from .repos import PgEmbeddingRepo, PgLockRepo, PgMemoryRepo, PgSleepRepo, PgThoughtRepo
from .schema import apply_migrations
from .search import text_search, vector_search

__all__ = ["PgStore", "PgTx"]

P = ParamSpec("P")
T = TypeVar("T")


class PgTx(SqliteTx):
    """One write transaction's repositories: the SQLite store's, with PostgreSQL's own where
    its SQL differs (``repos``)."""

    def __init__(self, conn: PgConnection, *, writing: bool = True):
        super().__init__(conn)
        self.thoughts = PgThoughtRepo(conn)
        self.memories = PgMemoryRepo(conn, writing=writing)
        self.embeddings = PgEmbeddingRepo(conn)
        self.sleeps = PgSleepRepo(conn)
        self.locks = PgLockRepo(conn, writing=writing)


def _connect(url: str, *, read_only: bool) -> PgConnection:
    try:
        raw = psycopg.connect(url, autocommit=True, connect_timeout=30)
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StoreError(
            f"cannot connect to the store at {shown_url(url)}: {first}; check that the server runs "
            "and the URL (user, host, database) is right"
        ) from None
    conn = PgConnection(raw)
    conn.script(["SET hnsw.iterative_scan = relaxed_order"])
    if read_only:
        conn.script(["SET default_transaction_read_only = on"])
    return conn


class PgStore(Store):
    """Every agent's memory in one PostgreSQL database (with pgvector)."""

    def __init__(self, url: str):
        self.url = url
        self._write_lock = threading.RLock()
        self._local = threading.local()
        self._readers: list[PgConnection] = []
        self._readers_lock = threading.Lock()
        self._writer = _connect(url, read_only=False)
        try:
            apply_migrations(self._writer)
        except psycopg.Error as exc:
            self._writer.close()
            raise StoreError(
                f"cannot migrate the store at {shown_url(url)}: {exc}; the pgvector extension "
                "must be available (CREATE EXTENSION vector, as a superuser, once)"
            ) from None
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def close(self) -> None:
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()
        with self._write_lock:
            self._writer.close()

    @contextlib.contextmanager
    def write(self) -> Iterator[PgTx]:
        with self._write_lock:
            conn = self._writer
            try:
                with conn.raw.transaction():
                    yield PgTx(conn)
            except psycopg.errors.RaiseException as exc:  # a rule of the schema
                raise StoreError(f"the store refused a write: {exc.diag.message_primary}") from None
            except psycopg.OperationalError as exc:
                raise StoreError(
                    f"cannot write to the store at {shown_url(self.url)}: {exc}; "
                    "nothing was written, try again"
                ) from None

    def submit(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(2, thread_name_prefix="sleepcycle-search")
            return self._pool.submit(fn, *args, **kwargs)

    def _reader(self) -> PgConnection:
        conn: PgConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.url, read_only=True)
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    def _reads(self) -> PgTx:
        return PgTx(self._reader(), writing=False)

    @property
    def episodes(self) -> EpisodeRepo:
        return self._reads().episodes

    @property
    def thoughts(self) -> ThoughtRepo:
        return self._reads().thoughts

    @property
    def memories(self) -> MemoryRepo:
        return self._reads().memories

    @property
    def persona(self) -> PersonaRepo:
        return self._reads().persona

    @property
    def embeddings(self) -> EmbeddingRepo:
        return self._reads().embeddings

    @property
    def sleeps(self) -> SleepRepo:
        return self._reads().sleeps

    @property
    def journal(self) -> JournalRepo:
        return self._reads().journal

    @property
    def calls(self) -> CallRepo:
        return self._reads().calls

    @property
    def locks(self) -> LockRepo:
        return self._reads().locks

    @property
    def watermarks(self) -> WatermarkRepo:
        return self._reads().watermarks

    @property
    def review(self) -> ReviewRepo:
        return self._reads().review

    @property
    def adapters(self) -> AdapterRepo:
        return self._reads().adapters

    def setting(self, key: str) -> str | None:
        row = self._reader().execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def agents(self) -> list[str]:
        return [row[0] for row in self._reader().execute("SELECT id FROM agents ORDER BY id")]

    def text_search(
        self,
        agent: str,
        item_type: ItemType,
        terms: Sequence[str],
        where: MemoryFilter | EpisodeFilter,
        limit: int,
    ) -> list[tuple[int, float]]:
        return text_search(self._reader(), agent, item_type, terms, where, limit)

    def vector_search(
        self,
        agent: str,
        item_type: ItemType,
        model: str,
        query: NDArray[np.float32],
        where: MemoryFilter | EpisodeFilter,
        limit: int,
    ) -> list[tuple[int, float]]:
        return vector_search(self._reader(), agent, item_type, model, query, where, limit)
