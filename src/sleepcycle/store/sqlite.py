"""The SQLite store: the system of record.

One writer: every write goes through :meth:`Store.write`, which holds a process-wide lock and a
``BEGIN IMMEDIATE`` transaction on the single write connection, so a unit of work (an ingested
file, an import, a sleep's commit) lands whole or not at all. Readers get their own connection
per thread (WAL lets them read while the writer writes) opened with ``query_only``, so a read
path cannot write by mistake.

WAL checkpoints run on a background thread rather than inside whichever write happens to cross
SQLite's automatic threshold: that write used to take 3-5 ms instead of 0.2 ms (one recorded
turn in ~70), which is what an agent waiting on ``record`` would feel.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import ParamSpec, TypeVar

import numpy as np
from numpy.typing import NDArray

from ..errors import ConfigError, StoreError
from ..records import ItemType
from ..times import format_time, now
from .adapters import AdapterRepo
from .calls import CallRepo
from .columns import row_filter
from .contract import Store
from .embeddings import EmbeddingRepo
from .episodes import EpisodeRepo
from .filters import EpisodeFilter, MemoryFilter
from .freshness import Freshness
from .graph import GraphFile
from .journal import JournalRepo
from .locks import LockRepo, WatermarkRepo
from .memories import MemoryRepo
from .migrations import apply_migrations
from .persona import PersonaRepo
from .registry import StoreKind
from .review import ReviewRepo
from .search import new_text_index, text_index_search
from .sleeps import SleepRepo
from .sql import Connection
from .textindex import TextIndex
from .thoughts import ThoughtRepo
from .vectors import VectorIndex

__all__ = ["STORE", "SqliteStore", "SqliteTx", "sqlite_path"]

log = logging.getLogger("sleepcycle.store")
P = ParamSpec("P")
T = TypeVar("T")


class SqliteTx:
    """One write transaction: repositories bound to the write connection (any SQL connection
    with ``?`` placeholders; the PostgreSQL store's transaction is this one with a few
    repositories of its own)."""

    def __init__(self, conn: Connection):
        self.conn = conn
        self.episodes = EpisodeRepo(conn)
        self.thoughts = ThoughtRepo(conn)
        self.memories = MemoryRepo(conn)
        self.persona = PersonaRepo(conn)
        self.embeddings = EmbeddingRepo(conn)
        self.sleeps = SleepRepo(conn)
        self.journal = JournalRepo(conn)
        self.calls = CallRepo(conn)
        self.locks = LockRepo(conn)
        self.watermarks = WatermarkRepo(conn)
        self.review = ReviewRepo(conn)
        self.adapters = AdapterRepo(conn)

    def set_setting(self, key: str, value: str) -> None:
        self.conn.execute(
            "INSERT INTO settings (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def ensure_agent(self, agent: str) -> None:
        self.conn.execute(
            "INSERT INTO agents (id, created) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (agent, format_time(now())),
        )


def _connect(path: Path, *, read_only: bool) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout = 30000")
        if read_only:
            conn.execute("PRAGMA query_only = ON")
        else:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA wal_autocheckpoint = 0")  # see _Checkpointer
    except sqlite3.DatabaseError as exc:
        if "readonly" in str(exc) or "unable to open" in str(exc):
            fix = "the file or its directory is not writable; fix that or use another --home"
        else:
            fix = "check the path, or move the file aside to start a new store"
        raise StoreError(f"cannot open the store at {path}: {exc}; {fix}") from None
    return conn


def _check_path(path: Path) -> None:
    """Refuse what cannot be (or is not) a store before SQLite makes one of it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"cannot create the home directory {path.parent}: {exc.strerror}; give a writable "
            "one with --home or SLEEPCYCLE_HOME"
        ) from None
    wal = path.with_name(path.name + "-wal")
    if path.is_file() and path.stat().st_size == 0 and not wal.exists():
        # SQLite would take an empty file for a new database: a truncated store would open
        # as an empty one, and the next write would make that look real.
        raise StoreError(
            f"the store at {path} is an empty file, not a database; if it was truncated, "
            "restore it from a backup, or delete it to start a new store"
        )


def _rollback(conn: sqlite3.Connection) -> None:
    with contextlib.suppress(sqlite3.Error):  # SQLite may have rolled back already
        conn.execute("ROLLBACK")


def _write_failed(path: Path, exc: sqlite3.Error) -> StoreError:
    """One line for a write SQLite refused; the transaction was rolled back whole."""
    text = str(exc)
    if "full" in text:
        fix = "free some disk space and try again"
    elif "readonly" in text or "read-only" in text:
        fix = "the file or its directory is read-only; make it writable or use another --home"
    elif "locked" in text or "busy" in text:
        fix = "another process holds it; try again"
    else:
        fix = "the file may be damaged; restore it from a backup"
    return StoreError(f"cannot write to the store at {path}: {text}; {fix} (nothing was written)")


class _Checkpointer:
    """Copies WAL pages into the database shortly after writes, off the writer's path.

    A passive checkpoint never waits, so under a steady stream of writes the WAL is never
    reset and keeps growing (9 GB while a benchmark loaded 1M memories into a 2.8 GB
    database). Past ``wal_limit`` bytes the checkpoint waits for readers and truncates it."""

    def __init__(self, path: Path, delay: float = 0.5, wal_limit: int = 256 * 2**20):
        self.path = path
        self.delay = delay
        self.wal_limit = wal_limit
        self._wal = path.with_name(path.name + "-wal")
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sleepcycle-wal", daemon=True)
        self._thread.start()

    def nudge(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            while True:
                self._wake.wait()
                if self._stop.wait(self.delay):  # let a burst of writes finish first
                    break
                self._wake.clear()
                if self._stop.is_set():  # close() came between the wait and the clear
                    break
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                    if self._wal_size() > self.wal_limit:
                        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                except sqlite3.Error as exc:  # retried on the next write
                    log.warning("WAL checkpoint of %s failed: %s", self.path, exc)
        finally:
            conn.close()

    def _wal_size(self) -> int:
        try:
            return self._wal.stat().st_size
        except OSError:
            return 0

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join()


def sqlite_path(url: str | Path) -> Path:
    """The file a ``sqlite:///...`` URL (or a plain path) names."""
    text = str(url)
    if text.startswith("sqlite://"):
        text = text[len("sqlite://") :]
        if not text.startswith("/"):
            raise ConfigError(
                f"store URL {str(url)!r}: a SQLite URL names an absolute path, "
                "sqlite:///abs/path.db (three slashes)"
            )
        text = "/" + text.lstrip("/")  # sqlite:////abs/path.db (SQLAlchemy's form) too
    if not text:
        raise ConfigError("the store URL names no file; e.g. sqlite:///abs/path.db")
    return Path(text).expanduser()


class SqliteStore(Store):
    """The SQLite system of record for every agent under one home directory."""

    def __init__(
        self, path: Path, *, exact_limit: int = 20_000, rerank: int = 1_000, ann_from: int = 0
    ):
        self.path = path
        self.url = f"sqlite://{path.resolve()}"
        self.exact_limit = exact_limit
        self.rerank = rerank
        self.ann_from = ann_from
        self._write_lock = threading.RLock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._indexes: dict[tuple[str, ItemType, str], VectorIndex] = {}
        self._text_indexes: dict[ItemType, TextIndex] = {}
        self._freshness: dict[object, Freshness] = {}  # per index key: see freshness.py
        self._indexes_lock = threading.Lock()
        _check_path(path)
        self._writer = _connect(path, read_only=False)
        try:
            apply_migrations(self._writer)
        except sqlite3.DatabaseError as exc:
            self._writer.close()
            raise StoreError(
                f"cannot migrate the store at {path}: {exc}; the file may be damaged, "
                "restore it from a backup or move it aside"
            ) from None
        self._checkpointer = _Checkpointer(path)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def close(self) -> None:
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None
        self._checkpointer.close()
        for index in self._text_indexes.values():
            index.close()
        with self._indexes_lock:
            vector_indexes = list(self._indexes.values())
        for vectors in vector_indexes:
            vectors.close()
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()
        with self._write_lock:
            self._writer.close()

    # writes -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def write(self) -> Iterator[SqliteTx]:
        """A write transaction: everything inside lands together or not at all."""
        with self._write_lock:
            conn = self._writer
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise _write_failed(self.path, exc) from None
            try:
                yield SqliteTx(conn)
                conn.execute("COMMIT")
            except (sqlite3.OperationalError, sqlite3.DataError) as exc:  # disk full, ...
                _rollback(conn)
                raise _write_failed(self.path, exc) from None
            except BaseException:
                _rollback(conn)
                raise
            self._checkpointer.nudge()

    # reads ------------------------------------------------------------------------------

    def submit(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Run a read on the store's search threads (each has its own read connection)."""
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(2, thread_name_prefix="sleepcycle-search")
            return self._pool.submit(fn, *args, **kwargs)

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path, read_only=True)
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    @property
    def episodes(self) -> EpisodeRepo:
        return EpisodeRepo(self._reader())

    @property
    def thoughts(self) -> ThoughtRepo:
        return ThoughtRepo(self._reader())

    @property
    def memories(self) -> MemoryRepo:
        return MemoryRepo(self._reader())

    @property
    def persona(self) -> PersonaRepo:
        return PersonaRepo(self._reader())

    @property
    def embeddings(self) -> EmbeddingRepo:
        return EmbeddingRepo(self._reader())

    @property
    def sleeps(self) -> SleepRepo:
        return SleepRepo(self._reader())

    @property
    def journal(self) -> JournalRepo:
        return JournalRepo(self._reader())

    @property
    def calls(self) -> CallRepo:
        return CallRepo(self._reader())

    @property
    def locks(self) -> LockRepo:
        return LockRepo(self._reader())

    @property
    def watermarks(self) -> WatermarkRepo:
        return WatermarkRepo(self._reader())

    @property
    def review(self) -> ReviewRepo:
        return ReviewRepo(self._reader())

    @property
    def adapters(self) -> AdapterRepo:
        return AdapterRepo(self._reader())

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
        """(item seq, BM25 score) of the best full-text matches for any of ``terms``."""
        if not terms or limit <= 0:
            return []
        with self._indexes_lock:
            index = self._text_indexes.get(item_type)
            if index is None:
                index = self._text_indexes[item_type] = new_text_index(item_type)
                self._freshness[item_type] = Freshness()
            freshness = self._freshness[item_type]
        conn = self._reader()
        return text_index_search(conn, index, item_type, agent, terms, where, limit, freshness)

    def _graph_file(self, agent: str, item_type: ItemType, model: str) -> GraphFile:
        """Where the graph of one agent's vectors from ``model`` is saved: ``index/`` beside
        the database, named by a digest (agent names and model ids may hold any character)."""
        digest = hashlib.sha256(f"{agent}\0{model}".encode()).hexdigest()[:24]
        return GraphFile(self.path.parent / "index", f"{item_type.value}-{digest}")

    def settle_indexes(self) -> None:
        """Wait for any vector graph being built (benchmarks, tests, a warm-up)."""
        with self._indexes_lock:
            vector_indexes = list(self._indexes.values())
        for index in vector_indexes:
            index.settle()

    def vector_search(
        self,
        agent: str,
        item_type: ItemType,
        model: str,
        query: NDArray[np.float32],
        where: MemoryFilter | EpisodeFilter,
        limit: int,
    ) -> list[tuple[int, float]]:
        """(item seq, cosine) of the nearest stored vectors from ``model``."""
        key = (agent, item_type, model)
        with self._indexes_lock:
            index = self._indexes.get(key)
            if index is None:
                index = VectorIndex(
                    len(query),
                    exact_limit=self.exact_limit,
                    rerank=self.rerank,
                    ann_from=self.ann_from,
                    graph_file=self._graph_file(agent, item_type, model),
                )
                self._indexes[key] = index
                self._freshness[key] = Freshness()
            freshness = self._freshness[key]
        conn = self._reader()
        with index.lock:
            if (version := freshness.stale(conn)) is not None:
                EmbeddingRepo(conn).sync(index, agent, item_type, model)
                freshness.synced(conn, version)
            return index.search(query, row_filter(where, index.columns), limit)


def _open(url: str, options: Mapping[str, int]) -> SqliteStore:
    return SqliteStore(sqlite_path(url), **options)


STORE = StoreKind("sqlite", _open)
