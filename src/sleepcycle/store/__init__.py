"""The store: the system of record, behind a contract (``store.contract``) that each
implementation meets; SQLite (WAL, one writer, migrations applied on open) is the built-in.

SQL lives only in this package. Everything outside it works with records
(``sleepcycle.records``), the filters defined here and the contract's Protocols.
"""

from .contract import (
    Adapters,
    Calls,
    Embeddings,
    Episodes,
    Journal,
    Locks,
    Memories,
    Persona,
    Reviews,
    Sleeps,
    Store,
    Thoughts,
    Tx,
    Watermarks,
)
from .filters import EpisodeFilter, MemoryFilter
from .locks import LockRow
from .registry import open_store, scheme_of, shown_url
from .sleeps import StageRow
from .sqlite import SqliteStore, sqlite_path

__all__ = [
    "Adapters",
    "Calls",
    "Embeddings",
    "EpisodeFilter",
    "Episodes",
    "Journal",
    "LockRow",
    "Locks",
    "Memories",
    "MemoryFilter",
    "Persona",
    "Reviews",
    "Sleeps",
    "SqliteStore",
    "StageRow",
    "Store",
    "Thoughts",
    "Tx",
    "Watermarks",
    "open_store",
    "scheme_of",
    "shown_url",
    "sqlite_path",
]
