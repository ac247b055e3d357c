"""An in-memory vector index over one agent's memories or episodes, with filter columns.

Why not sqlite-vec or an ANN library: this Python's ``sqlite3`` cannot load extensions, and
exact search over float32 rows with numpy is exact and fast enough for the sizes an agent's
memory reaches (about 6-9 ms at 100k x 384 on two cores, bound by memory bandwidth). Past
``exact_limit`` rows the index first ranks every row by the Hamming distance between sign
bits (48 bytes a row, kept transposed so the distance is one vectorised pass, ~0.4 ms at 100k)
and then scores the best ``rerank`` candidates exactly. ``benchmarks/bench_store.py`` measures
both paths and how often the shortcut changes the top results (recall@10 0.999 at 100k).
``docs/design/retrieval.md`` has the reasoning.

Past ``ann_from`` rows an HNSW graph (``graph.py``, usearch) gives the candidates instead:
it is built in a background thread the first time the index grows past the size (the sign-bit
pass answers until it is ready), saved next to the database, and loaded by the next process.
Rows added or replaced since the graph took its copy are searched exactly beside it, and every
candidate is scored from this index's own float32 rows, so the graph never decides a score, a
filter, or whether a row exists.

The index is a cache of rows in the store: the store fills it and keeps it current
(``sqlite.Store.vector_search``) from two feeds, new embedding rows and changed memory rows.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from . import graph as graphs
from .columns import FilterColumns, RowFilter

__all__ = ["VectorIndex"]

F32 = NDArray[np.float32]

log = logging.getLogger(__name__)

_CHUNK = 20_000  # rows the graph builder copies and adds at a time
_EXTEND_CHUNK = 2_000  # rows added to a graph in use at a time (searches wait meanwhile)
_GRAPH_POOL = 100  # candidates asked of the graph (twice the limit when that is more)
_NARROW = 0.1  # a filter passing fewer rows than this share skips the graph
_SAMPLE = 64  # rows of a saved graph compared with the index's before it is trusted
_SAMPLE_ROWS = 8_192  # about how many rows bound the sign-bit pass's cut-off


def _sign_words(rows: F32) -> NDArray[np.uint64]:
    """Sign bits of each row, padded to whole 64-bit words: shape (rows, words)."""
    bits = np.packbits(rows > 0, axis=1)
    pad = (-bits.shape[1]) % 8
    if pad:
        bits = np.pad(bits, ((0, 0), (0, pad)))
    return np.ascontiguousarray(bits).view(np.uint64)


def _nearest(distance: NDArray[np.uint16], pool: int, far: int) -> NDArray[np.intp]:
    """Positions of the ``pool`` smallest of ``distance``, ascending; of those tied at the
    cut-off, the first. Rows at ``far`` (filtered out) never count: ``pool`` is at most the
    rows below it."""
    counts = np.bincount(distance, minlength=far + 1)[:far]
    cutoff = int(np.searchsorted(np.cumsum(counts), pool))
    nearer = np.flatnonzero(distance < cutoff)
    tied = np.flatnonzero(distance == cutoff)[: pool - len(nearer)]
    return np.concatenate([nearer, tied])


class VectorIndex:
    """Unit-length float32 rows keyed by item seq, plus small filter columns."""

    def __init__(
        self,
        dim: int,
        *,
        exact_limit: int = 20_000,
        rerank: int = 1_000,
        ann_from: int = 0,
        graph_file: graphs.GraphFile | None = None,
    ):
        self.dim = dim
        self.exact_limit = exact_limit
        self.rerank = rerank
        self.ann_from = ann_from if graphs.available() else 0  # 0: never build a graph
        self.graph_file = graph_file
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
        # the graph: which positions it holds with their current vector (``_in_graph``), a
        # stamp per position bumped by every upsert (a builder's copy is stale when it moved),
        # and each position's embedding seq (what a saved graph's mark is compared with)
        self._graph: graphs.Graph | None = None
        self._in_graph = np.zeros(0, np.bool_)
        self._missing = 0  # positions below _n that the graph does not hold
        self._stamp = np.zeros(0, np.int64)
        self._clock = 0
        self._eseq = np.zeros(0, np.int64)
        self._unsaved = 0  # rows added to the graph since it was saved or loaded
        self._builder: threading.Thread | None = None
        self._stop = threading.Event()

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
        self._in_graph = moved(self._in_graph)  # type: ignore[assignment]
        self._stamp = moved(self._stamp)  # type: ignore[assignment]
        self._eseq = moved(self._eseq)  # type: ignore[assignment]
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
        marks: Sequence[int] | None = None,
    ) -> None:
        """Add rows, or replace the vector and filter columns of rows already present.
        ``marks``: each row's embedding seq (how a saved graph knows what it holds)."""
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
        self._in_graph[positions] = False
        self._missing = self._n - int(np.count_nonzero(self._in_graph[: self._n]))
        self._stamp[positions] = np.arange(self._clock + 1, self._clock + 1 + len(items))
        self._clock += len(items)
        self._eseq[positions] = 0 if marks is None else marks

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
                scores = self._rows(candidates) @ query
        else:
            found = self._graph_candidates(query, mask, limit) if n > self.ann_from > 0 else None
            candidates = self._prefilter(query, mask, limit) if found is None else found
            scores = self._rows(candidates) @ query
        if len(candidates) == 0:
            return []
        k = min(limit, len(candidates))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [
            (int(self._items[p]), float(s))
            for p, s in zip(candidates[top], scores[top], strict=True)
        ]

    def _rows(self, positions: NDArray[np.intp]) -> F32:
        """The vectors at ``positions``: ``take`` copies scattered rows faster than fancy
        indexing (0.22 against 0.28 ms for a query's 1,000 candidates at 100k)."""
        return np.take(self._matrix, positions, axis=0)

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
        # Distances are small integers: find the cut-off by counting, not by sorting. A
        # sample of the rows bounds it from above first, so only the rows under that bound
        # are counted; when the bound is too tight, every row is.
        step = max(1, n // _SAMPLE_ROWS)
        if step > 1:
            sampled = np.cumsum(np.bincount(distance[::step], minlength=far + 1))
            bound = int(np.searchsorted(sampled, 2 * pool // step + 16))
            below = np.flatnonzero(distance <= bound)
            if len(below) >= pool:  # every row the pool can hold is below the bound
                return below[_nearest(distance[below], pool, far)]
        return _nearest(distance, pool, far)

    # the graph ------------------------------------------------------------------------------

    def _graph_candidates(
        self, query: F32, mask: NDArray[np.bool_] | None, limit: int
    ) -> NDArray[np.intp] | None:
        """Positions to score: the graph's nearest rows that pass ``mask``, and every row the
        graph does not hold yet. None when the graph cannot answer (not built, or a narrow
        filter), and the sign-bit pass is used."""
        self._start_builder()
        graph, n = self._graph, self._n
        if graph is None:
            return None
        allowed = n if mask is None else int(np.count_nonzero(mask))
        if allowed < n * _NARROW:
            return None
        count = math.ceil(max(_GRAPH_POOL, limit * 2) * n / max(allowed, 1))
        found = [self._pos.get(int(key), -1) for key in graph.search(query, count)]
        positions = np.asarray(found, dtype=np.intp)
        positions = positions[positions >= 0]
        positions = positions[self._in_graph[positions]]  # a stale copy: scored below instead
        if mask is not None:
            positions = positions[mask[positions]]
        if self._missing:
            rest = np.flatnonzero(~self._in_graph[:n])
            positions = np.concatenate([positions, rest if mask is None else rest[mask[rest]]])
        if len(positions) < min(limit, allowed):
            return None
        return positions

    def _start_builder(self) -> None:
        """Build (or load) the graph, or add a backlog to it, in the background."""
        if self._builder is not None and self._builder.is_alive():
            return
        if self._stop.is_set():
            return
        if self._graph is not None and self._missing <= max(2_000, self._n // 100):
            return  # a small backlog is cheaper searched exactly than added
        self._builder = threading.Thread(target=self._build, name="sleepcycle-graph", daemon=True)
        self._builder.start()

    def settle(self, timeout: float | None = None) -> None:
        """Wait for a graph being built or extended (benchmarks, tests, a warm-up)."""
        with self.lock:
            if self._n > self.ann_from > 0:
                self._start_builder()
            builder = self._builder
        if builder is not None:
            builder.join(timeout)

    def close(self) -> None:
        """Stop a builder at its next chunk and save rows added since the last save."""
        self._stop.set()
        builder = self._builder
        if builder is not None:
            builder.join()
        with self.lock:
            if self._graph is not None and self._unsaved:
                self._save(self._graph)

    def _build(self) -> None:
        try:
            if self._graph is None:
                self._build_new()
            else:
                self._extend()
        except Exception:  # the graph is a cache: search goes on without it
            log.exception("building the vector graph failed; searching without it")
            self.ann_from = 0

    def _build_new(self) -> None:
        loaded = self.graph_file.load(self.dim) if self.graph_file is not None else None
        graph, mark = loaded if loaded is not None else (graphs.Graph(self.dim), 0)
        with self.lock:
            n = self._n
            held = (self._eseq[:n] > 0) & (self._eseq[:n] <= mark)
            sample = np.flatnonzero(held)[:: max(1, int(held.sum()) // _SAMPLE)][:_SAMPLE]
            keys, vectors = self._items[sample], self._matrix[sample]
        if loaded is not None and not graph.agrees(keys, vectors):
            log.warning("the saved vector graph does not match the store; rebuilding it")
            graph, mark, held = graphs.Graph(self.dim), 0, np.zeros(n, np.bool_)
        todo = np.flatnonzero(~held)
        added: list[tuple[NDArray[np.intp], NDArray[np.int64]]] = []
        for start in range(0, len(todo), _CHUNK):
            if self._stop.is_set():
                return
            chunk = todo[start : start + _CHUNK]
            with self.lock:  # copies (fancy indexing): upserts may change the rows meanwhile
                keys, vectors, stamps = self._items[chunk], self._matrix[chunk], self._stamp[chunk]
            graph.add(keys, vectors)
            added.append((chunk, stamps))
        with self.lock:
            in_graph = np.zeros(len(self._stamp), np.bool_)
            eseq = self._eseq[:n]
            in_graph[:n] = held & (eseq > 0) & (eseq <= mark)  # replaced since: a new seq
            for chunk, stamps in added:
                in_graph[chunk] = self._stamp[chunk] == stamps
            self._in_graph = in_graph
            self._missing = self._n - int(np.count_nonzero(in_graph[: self._n]))
            self._graph = graph
            self._unsaved = len(todo)
            if self._unsaved:
                self._save(graph)

    def _extend(self) -> None:
        while not self._stop.is_set():
            with self.lock:
                graph = self._graph
                todo = np.flatnonzero(~self._in_graph[: self._n])[:_EXTEND_CHUNK]
                if graph is None or len(todo) == 0:
                    break
                graph.add(self._items[todo], self._matrix[todo])
                self._in_graph[todo] = True
                self._missing -= len(todo)
                self._unsaved += len(todo)
        with self.lock:
            if self._graph is not None and self._unsaved:
                self._save(self._graph)

    def _save(self, graph: graphs.Graph) -> None:
        """Save with the lock held: the mark is the highest embedding seq below which every
        row is in the graph."""
        if self.graph_file is None:
            self._unsaved = 0
            return
        n = self._n
        missing = self._eseq[:n][~self._in_graph[:n]]
        known = self._eseq[:n]
        mark = int(missing.min()) - 1 if len(missing) else int(known.max(initial=0))
        if mark <= 0:
            return
        try:
            self.graph_file.save(graph, mark)
            self._unsaved = 0
        except OSError as exc:
            log.warning("could not save the vector graph to %s: %s", self.graph_file.folder, exc)
