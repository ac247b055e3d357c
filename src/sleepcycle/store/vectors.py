"""An in-memory vector index over one agent's memories or episodes, with filter columns.

Why not sqlite-vec or an ANN library: this Python's ``sqlite3`` cannot load extensions, and
exact search over float32 rows with numpy is exact and fast enough for the sizes an agent's
memory reaches (about 6-9 ms at 100k x 384 on two cores, bound by memory bandwidth). Past
``exact_limit`` rows the index first ranks every row by the Hamming distance between sign
bits (48 bytes a row, kept transposed so the distance is one vectorised pass, ~0.4 ms at 100k)
and then scores the best ``rerank`` candidates exactly. ``benchmarks/bench_store.py`` measures
both paths and how often the shortcut changes the top results (recall@10 0.999 at 100k).
``docs/design/retrieval.md`` has the reasoning.

The index is a cache of rows in the store: the store fills it and keeps it current
(``sqlite.Store.vector_search``) from two feeds, new embedding rows and changed memory rows.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from .columns import FilterColumns, RowFilter

__all__ = ["VectorIndex"]

F32 = NDArray[np.float32]


def _sign_words(rows: F32) -> NDArray[np.uint64]:
    """Sign bits of each row, padded to whole 64-bit words: shape (rows, words)."""
    bits = np.packbits(rows > 0, axis=1)
    pad = (-bits.shape[1]) % 8
    if pad:
        bits = np.pad(bits, ((0, 0), (0, pad)))
    return np.ascontiguousarray(bits).view(np.uint64)


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
        self._words = (dim + 63) // 64
        self._items = np.empty(0, np.int64)
        self._matrix = np.empty((0, dim), np.float32)
        self._codes = np.empty((self._words, 0), np.uint64)  # transposed: (words, rows)
        self.columns = FilterColumns()

    def __len__(self) -> int:
        return self._n

    def reserve(self, rows: int) -> None:
        """Make room for ``rows`` rows in total (one allocation when the count is known)."""
        if rows <= len(self._items):
            return
        n = self._n

        def moved(a: NDArray[np.generic]) -> NDArray[np.generic]:
            out = np.empty((rows, *a.shape[1:]), dtype=a.dtype)
            out[:n] = a[:n]
            return out

        self._items = moved(self._items)  # type: ignore[assignment]
        self._matrix = moved(self._matrix)  # type: ignore[assignment]
        self.columns.reserve(n, rows)
        codes = np.empty((self._words, rows), np.uint64)
        codes[:, :n] = self._codes[:, :n]
        self._codes = codes

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
        if self._n + len(items) > len(self._items):
            self.reserve(max(self._n + len(items), int(len(self._items) * 1.5)))
        positions = np.empty(len(items), np.int64)
        for i, item in enumerate(items):
            pos = self._pos.get(item)
            if pos is None:
                pos = self._pos[item] = self._n
                self._n += 1
            positions[i] = pos
        self._items[positions] = items
        self._matrix[positions] = vectors
        self._codes[:, positions] = _sign_words(vectors).T
        self.columns.set(positions, kinds, statuses, starts, ends)

    def update_filters(
        self,
        items: Sequence[int],
        kinds: Sequence[int],
        statuses: Sequence[int],
        starts: Sequence[float],
        ends: Sequence[float],
    ) -> None:
        """Refresh the filter columns of rows already present; others are ignored."""
        known = [(i, self._pos[item]) for i, item in enumerate(items) if item in self._pos]
        if not known:
            return
        rows = np.array([i for i, _ in known])
        positions = np.array([p for _, p in known])
        self.columns.set(
            positions,
            np.asarray(kinds)[rows],
            np.asarray(statuses)[rows],
            np.asarray(starts)[rows],
            np.asarray(ends)[rows],
        )

    def search(self, query: F32, where: RowFilter, limit: int) -> list[tuple[int, float]]:
        """(item seq, cosine) of the best ``limit`` rows that pass ``where``, best first."""
        n = self._n
        if n == 0 or limit <= 0:
            return []
        mask = self.columns.mask(where, slice(0, n))
        if n <= self.exact_limit:
            candidates = np.arange(n) if mask is None else np.flatnonzero(mask)
            if len(candidates) * 4 >= n:
                # Scoring every row reads the matrix once; gathering most of it would copy it.
                scores = (self._matrix[:n] @ query)[candidates]
            else:
                scores = self._matrix[candidates] @ query
        else:
            candidates = self._prefilter(query, mask, limit)
            scores = self._matrix[candidates] @ query
        if len(candidates) == 0:
            return []
        k = min(limit, len(candidates))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [
            (int(self._items[p]), float(s))
            for p, s in zip(candidates[top], scores[top], strict=True)
        ]

    def _prefilter(
        self, query: F32, mask: NDArray[np.bool_] | None, limit: int
    ) -> NDArray[np.intp]:
        """Positions of the rows nearest by sign-bit Hamming distance (the rerank pool)."""
        n = self._n
        qwords = _sign_words(query[None, :])[0]
        # in place, into three buffers: no temporary array per word
        xor, bits = np.empty(n, np.uint64), np.empty(n, np.uint8)
        distance = np.empty(n, np.uint16)
        for w in range(self._words):
            np.bitwise_xor(self._codes[w, :n], qwords[w], out=xor)
            np.bitwise_count(xor, out=bits)
            if w == 0:
                distance[:] = bits
            else:
                distance += bits
        allowed = n if mask is None else int(mask.sum())
        far = self._words * 64 + 1  # farther than any distance: rows the filter removes
        if mask is not None:
            distance[~mask] = far
        pool = min(max(self.rerank, limit * 10), allowed)
        if pool <= 0:
            return np.empty(0, np.intp)
        # Distances are small integers: find the cut-off by counting, not by sorting.
        counts = np.bincount(distance, minlength=far + 1)[:far]
        cutoff = int(np.searchsorted(np.cumsum(counts), pool))
        nearer = np.flatnonzero(distance < cutoff)
        tied = np.flatnonzero(distance == cutoff)[: pool - len(nearer)]
        return np.concatenate([nearer, tied])
