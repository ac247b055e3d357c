"""Filter columns for the in-memory indexes: kind, status and a time interval per row.

The vector index and the text index keep, for each row they hold, the few values a recall
filters on, as small numpy arrays: a filter is then a vectorised pass over the rows (or over
the candidates) instead of a join back to the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..records import MemoryKind, MemoryStatus, Role
from .filters import EpisodeFilter, MemoryFilter

__all__ = [
    "EPOCH",
    "KIND_CODES",
    "ROLE_CODES",
    "STATUS_CODES",
    "FilterColumns",
    "RowFilter",
    "row_filter",
]

KIND_CODES = {k: i for i, k in enumerate(MemoryKind)}
STATUS_CODES = {s: i for i, s in enumerate(MemoryStatus)}
ROLE_CODES = {r: i for i, r in enumerate(Role)}
# A stored time as Unix seconds, in SQL: the time columns hold floats.
EPOCH = "(julianday({}) - 2440587.5) * 86400.0"

Ints = Sequence[int] | NDArray[np.int64]
Floats = Sequence[float] | NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class RowFilter:
    """Rows to keep: codes of allowed kinds and statuses (empty = any) and a time window.

    A row passes the window when its interval [start, end] overlaps [since, until). For
    episodes the kind column holds the role and the status column the session."""

    kinds: tuple[int, ...] = ()
    statuses: tuple[int, ...] = ()
    since: float | None = None
    until: float | None = None


class FilterColumns:
    """Growable filter columns, one entry per row position."""

    def __init__(self) -> None:
        self.labels: dict[str, int] = {}  # episode sessions, stored in the status column
        self.kind = np.empty(0, np.int32)
        self.status = np.empty(0, np.int32)
        self.start = np.empty(0, np.float64)
        self.end = np.empty(0, np.float64)

    def label(self, text: str) -> int:
        """A small integer standing for ``text`` (an episode's session) in these columns."""
        return self.labels.setdefault(text, len(self.labels))

    def reserve(self, used: int, rows: int) -> None:
        """Room for ``rows`` rows, keeping the first ``used``."""
        if rows <= len(self.kind):
            return
        for name in ("kind", "status", "start", "end"):
            old = getattr(self, name)
            new = np.empty(rows, dtype=old.dtype)
            new[:used] = old[:used]
            setattr(self, name, new)

    def set(
        self,
        positions: NDArray[np.int64],
        kinds: Ints,
        statuses: Ints,
        starts: Floats,
        ends: Floats,
    ) -> None:
        self.kind[positions] = kinds
        self.status[positions] = statuses
        self.start[positions] = starts
        self.end[positions] = ends

    def compact(self, keep: NDArray[np.integer[Any]]) -> None:
        """Move the rows at positions ``keep`` (ascending) to the front, in order."""
        for name in ("kind", "status", "start", "end"):
            column = getattr(self, name)
            column[: len(keep)] = column[keep]

    def mask(
        self, where: RowFilter, rows: NDArray[np.integer[Any]] | slice
    ) -> NDArray[np.bool_] | None:
        """Which of ``rows`` pass ``where``; None when every row does."""
        mask: NDArray[np.bool_] | None = None

        def narrow(more: NDArray[np.bool_]) -> None:
            nonlocal mask
            mask = more if mask is None else mask & more

        for column, allowed in ((self.kind, where.kinds), (self.status, where.statuses)):
            if allowed:
                codes = column[rows]
                narrow(codes == allowed[0] if len(allowed) == 1 else np.isin(codes, allowed))
        if where.until is not None:
            narrow(self.start[rows] < where.until)
        if where.since is not None:
            narrow(self.end[rows] > where.since)
        # (the usual case: every row active) callers skip applying a mask that removes nothing
        return None if mask is None or mask.all() else mask


def row_filter(where: MemoryFilter | EpisodeFilter, columns: FilterColumns) -> RowFilter:
    """``where`` in the codes of ``columns`` (times as Unix seconds)."""
    since = where.since.timestamp() if where.since is not None else None
    until = where.until.timestamp() if where.until is not None else None
    if isinstance(where, MemoryFilter):
        return RowFilter(
            kinds=tuple(KIND_CODES[k] for k in where.kinds),
            statuses=tuple(STATUS_CODES[s] for s in where.statuses),
            since=since,
            until=until,
        )
    # Episodes are points in time: [time, time] overlaps [since, until) when since <= time.
    return RowFilter(
        kinds=tuple(ROLE_CODES[r] for r in where.roles),
        statuses=tuple(columns.labels.get(s, -1) for s in where.sessions),
        since=None if since is None else float(np.nextafter(since, -np.inf)),
        until=until,
    )
