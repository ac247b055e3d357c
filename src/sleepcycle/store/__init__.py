"""The store: SQLite with WAL, one writer, migrations applied on open.

SQL lives only in this package. Everything outside it works with records
(``sleepcycle.records``) and the filters defined here.
"""

from .filters import EpisodeFilter, MemoryFilter
from .sleeps import LockRow, StageRow
from .sqlite import Store, Tx

__all__ = ["EpisodeFilter", "LockRow", "MemoryFilter", "StageRow", "Store", "Tx"]
