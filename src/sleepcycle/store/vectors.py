"""An in-memory vector index over one agent's memories or episodes, with filter columns.

Why not sqlite-vec or an ANN library: this Python's ``sqlite3`` cannot load extensions, and
exact search over float32 rows with numpy is both faster (6-7 ms per query at 100k x 384 on two
cores, bound by memory bandwidth) and exact. Past ``exact_limit`` rows the index first ranks
every row by the Hamming distance of sign bits (48 bytes a row, ~2 ms at 100k) and then scores
the best ``rerank`` candidates exactly; ``benchmarks/recall.py`` measures how often that
changes the top results. ``docs/design/retrieval.md`` has the reasoning and the numbers.

The index is a cache of rows in the store: it is filled and kept current by the store
(``sqlite.Store.vector_search``) from two feeds, new embedding rows and changed memory rows.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["VectorFilter", "VectorIndex"]

F32 = NDArray[np.float32]
_NEVER = np.inf


@dataclass(frozen=True, slots=True)
class VectorFilter:
    """Rows to keep: codes of allowed kinds and statuses (empty = any) and a time window.

    For episodes the kind column holds the role and the status column the session.

    A row passes the window when its interval [start, end] overlaps [since, until)."""

    kinds: tuple[int, ...] = ()
    statuses: tuple[int, ...] = ()
    since: float | None = None
    until: float | None = None


class VectorIndex:
    """Unit-length float32 rows keyed by item seq, plus small filter columns."""

    def __init__(self, dim: int, *, exact_limit: int = 20_000, rerank: int = 1_000):
        self.dim = dim
        self.exact_limit = exact_limit
        self.rerank = rerank
        self.lock = threading.Lock()
        self.vector_mark = 0  # highest embedding seq loaded
        self.meta_mark = 0  # highest change counter seen for filter columns
        self._n = 0
        self._pos: dict[int, int] = {}
        self._items = np.empty(0, np.int64)
        self._matrix = np.empty((0, dim), np.float32)
        self._kind = np.empty(0, np.int8)
        self._status = np.empty(0, np.int32)
        self.labels: dict[str, int] = {}  # episode sessions, stored in the status column
        self._start = np.empty(0, np.float64)
        self._end = np.empty(0, np.float64)
        self._codes: NDArray[np.uint64] | NDArray[np.uint8] | None = None
        self._coded = 0

    def __len__(self) -> int:
        return self._n

    def label(self, text: str) -> int:
        """A small integer standing for ``text`` (an episode's session) in this index."""
        return self.labels.setdefault(text, len(self.labels))

    def _grow(self, needed: int) -> None:
        capacity = len(self._items)
        if needed <= capacity:
            return
        new = max(needed, capacity * 2, 256)

        def grown(a: NDArray[np.generic], fill: float = 0) -> NDArray[np.generic]:
            out = np.full((new, *a.shape[1:]), fill, dtype=a.dtype)
            out[: self._n] = a[: self._n]
            return out

        self._items = grown(self._items)  # type: ignore[assignment]
        self._matrix = grown(self._matrix)  # type: ignore[assignment]
        self._kind = grown(self._kind)  # type: ignore[assignment]
        self._status = grown(self._status)  # type: ignore[assignment]
        self._start = grown(self._start)  # type: ignore[assignment]
        self._end = grown(self._end, _NEVER)  # type: ignore[assignment]
        self._codes = None
        self._coded = 0

    def upsert(
        self,
        items: Sequence[int],
        vectors: F32,
        kinds: Sequence[int],
        statuses: Sequence[int],
        starts: Sequence[float],
        ends: Sequence[float],
    ) -> None:
        """Add rows, or replace the vector and filter columns of rows already present."""
        self._grow(self._n + len(items))
        for i, item in enumerate(items):
            pos = self._pos.get(item)
            if pos is None:
                pos = self._n
                self._pos[item] = pos
                self._items[pos] = item
                self._n += 1
            elif pos < self._coded:
                self._coded = pos  # its sign bits must be recomputed
            self._matrix[pos] = vectors[i]
            self._kind[pos] = kinds[i]
            self._status[pos] = statuses[i]
            self._start[pos] = starts[i]
            self._end[pos] = ends[i]

    def update_filters(
        self,
        items: Sequence[int],
        kinds: Sequence[int],
        statuses: Sequence[int],
        starts: Sequence[float],
        ends: Sequence[float],
    ) -> None:
        """Refresh the filter columns of rows already present; others are ignored."""
        for i, item in enumerate(items):
            pos = self._pos.get(item)
            if pos is not None:
                self._kind[pos] = kinds[i]
                self._status[pos] = statuses[i]
                self._start[pos] = starts[i]
                self._end[pos] = ends[i]

    def _mask(self, where: VectorFilter) -> NDArray[np.bool_]:
        n = self._n
        mask = np.ones(n, dtype=bool)
        if where.kinds:
            mask &= np.isin(self._kind[:n], where.kinds)
        if where.statuses:
            mask &= np.isin(self._status[:n], where.statuses)
        if where.until is not None:
            mask &= self._start[:n] < where.until
        if where.since is not None:
            mask &= self._end[:n] > where.since
        return mask

    def _sign_codes(self) -> NDArray[np.uint64] | NDArray[np.uint8]:
        n = self._n
        if self._codes is None or len(self._codes) < len(self._items):
            width = (self.dim + 7) // 8
            self._codes = np.zeros((len(self._items), width), np.uint8)
            self._coded = 0
            if width % 8 == 0:
                self._codes = self._codes.view(np.uint64)
        if self._coded < n:
            bits = np.packbits(self._matrix[self._coded : n] > 0, axis=1)
            target = self._codes.view(np.uint8)
            target[self._coded : n] = bits
            self._coded = n
        return self._codes

    def search(self, query: F32, where: VectorFilter, limit: int) -> list[tuple[int, float]]:
        """(item seq, cosine) of the best ``limit`` rows that pass ``where``, best first."""
        n = self._n
        if n == 0 or limit <= 0:
            return []
        mask = self._mask(where)
        if n <= self.exact_limit:
            candidates = np.flatnonzero(mask)
            if len(candidates) == n:
                scores = self._matrix[:n] @ query
            else:
                scores = self._matrix[candidates] @ query
        else:
            candidates, scores = self._prefiltered(query, mask, limit)
        if len(candidates) == 0:
            return []
        k = min(limit, len(candidates))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        positions = candidates[top]
        return [
            (int(self._items[p]), float(s)) for p, s in zip(positions, scores[top], strict=True)
        ]

    def _prefiltered(
        self, query: F32, mask: NDArray[np.bool_], limit: int
    ) -> tuple[NDArray[np.intp], F32]:
        n = self._n
        codes = self._sign_codes()
        qbits = np.packbits(query > 0)
        qcode = qbits.view(codes.dtype) if codes.dtype == np.uint64 else qbits
        distance = np.bitwise_count(codes[:n] ^ qcode).sum(axis=1, dtype=np.int32)
        distance[~mask] = np.iinfo(np.int32).max
        allowed = int(mask.sum())
        pool = min(max(self.rerank, limit * 10), allowed)
        if pool == 0:
            return np.empty(0, np.intp), np.empty(0, np.float32)
        candidates = np.argpartition(distance, pool - 1)[:pool]
        return candidates, self._matrix[candidates] @ query
