"""An in-memory BM25 index that ranks exactly as FTS5's ``bm25()`` does, without scoring
every match through SQL.

FTS5 answers ``MATCH 'a OR b' ORDER BY bm25() LIMIT k`` by computing the score of every row
that holds any query term, one row at a time through its auxiliary-function interface: at
100k memories a query matches about 6,000 rows and takes 8-12 ms. The same sum over posting
lists is a handful of vectorised numpy passes here (well under a millisecond at 100k).

**Same ranking.** The tokens are FTS5's own: every text goes through an FTS5 table with the
store's tokenizer in a private in-memory database, and the index keeps, per term, the rows
it occurs in and how often (weighted by column, as ``bm25(fts, w1, w2)`` weighs). The score
is FTS5's formula with its constants (k1 1.2, b 0.75, IDF ``ln((N - n + 0.5) / (n + 0.5))``
floored at 1e-6), over the whole table (every agent and status, as FTS5's statistics are),
so the scores equal FTS5's to rounding; ``tests/test_recall.py`` checks it. A query term that
FTS5 would read as a phrase of several tokens (``foo_bar``) is left to FTS5 itself.

**A cache of the store.** The index holds nothing the store does not: it is filled from the
rows and kept current from two feeds (new episodes by ``seq``, changed memories by ``rev``)
before each search, under its lock, so a search sees every committed write. A changed row
gets a new position and its old one is marked dead; dead postings are dropped, and rows
added since the last rebuild are merged into the sorted posting arrays, when they pile up.
"""

from __future__ import annotations

import math
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .columns import FilterColumns, RowFilter

__all__ = ["TOKENIZER", "Document", "TextIndex", "Tokenizer"]

# The tokenizer of memories_fts and episodes_fts (migration 0001).
TOKENIZER = "porter unicode61 remove_diacritics 2"
K1 = 1.2
B = 0.75
MIN_IDF = 1e-6

_I32 = NDArray[np.int32]
_F32 = NDArray[np.float32]
_F64 = NDArray[np.float64]


class Tokenizer:
    """FTS5's tokens for texts, read back from an FTS5 table in a private in-memory database."""

    def __init__(self, weights: Sequence[float]):
        self.weights = tuple(weights)
        columns = [f"c{i}" for i in range(len(weights))]
        self._names = columns
        self._conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        self._conn.execute(
            f"CREATE VIRTUAL TABLE t USING fts5 ({', '.join(columns)}, tokenize = '{TOKENIZER}')"
        )
        self._conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab (t, 'instance')")

    def close(self) -> None:
        self._conn.close()

    def documents(
        self, texts: Sequence[Sequence[str | None]]
    ) -> list[tuple[dict[str, float], int]]:
        """For each row of column values: its terms with weighted counts, and its length in
        tokens (every column, unweighted, as FTS5 counts a row's size)."""
        out: list[tuple[dict[str, float], int]] = [({}, 0) for _ in texts]
        if not texts:
            return out
        weight = {name: w for name, w in zip(self._names, self.weights, strict=True)}
        conn = self._conn
        conn.execute("BEGIN")  # rolled back, not committed: the table is only a tokenizer
        try:
            conn.executemany(
                f"INSERT INTO t (rowid, {', '.join(self._names)}) "
                f"VALUES (?, {', '.join('?' for _ in self._names)})",
                ((i, *row) for i, row in enumerate(texts)),
            )
            rows = conn.execute("SELECT doc, term, col, COUNT(*) FROM v GROUP BY doc, term, col")
            lengths = [0] * len(texts)
            for doc, term, col, count in rows:
                terms = out[doc][0]
                terms[term] = terms.get(term, 0.0) + weight[col] * count
                lengths[doc] += count
        finally:
            conn.execute("ROLLBACK")
        return [(terms, lengths[i]) for i, (terms, _) in enumerate(out)]

    def term(self, word: str) -> str | None:
        """The one token FTS5 makes of ``word``; None when it makes none or several."""
        found = self.documents([(word,) + ("",) * (len(self.weights) - 1)])[0]
        terms, length = found
        return next(iter(terms)) if length == 1 else None


@dataclass(frozen=True, slots=True)
class Document:
    """One row to index: its item seq, agent, filter values and column texts."""

    seq: int
    agent: str
    kind: int
    status: int
    start: float
    end: float
    texts: tuple[str | None, ...]


class TextIndex:
    """Posting lists over one FTS5 table's rows (every agent), with filter columns."""

    def __init__(self, weights: Sequence[float]):
        self.lock = threading.Lock()
        self.mark = 0  # highest feed value (episode seq, memory rev) applied
        self.tokenizer = Tokenizer(weights)
        self.columns = FilterColumns()
        self._terms: dict[str, int] = {}  # term -> id
        self._words: dict[str, str | None] = {}  # query word -> its token (a cache)
        self._agents: dict[str, int] = {}
        self._pos: dict[int, int] = {}  # item seq -> its live position
        self._n = 0
        self._seq = np.empty(0, np.int64)
        self._agent = np.empty(0, np.int32)
        self._length = np.empty(0, np.float64)
        self._alive = np.empty(0, np.bool_)
        self._live = 0
        self._tokens = 0  # total length of the live rows
        # postings: the merged arrays (term-major, ``_offsets`` per term id) and one small
        # segment per batch added since (term ids sorted, searched by bisection)
        self._offsets = np.zeros(1, np.int64)
        self._post_pos = np.empty(0, np.int32)
        self._post_tf = np.empty(0, np.float32)
        self._segments: list[tuple[_I32, _I32, _F32]] = []
        self._segment_postings = 0

    def close(self) -> None:
        self.tokenizer.close()

    # writes -----------------------------------------------------------------------------

    def upsert(self, documents: Sequence[Document]) -> None:
        """Index ``documents``, replacing any earlier version of the same item. Call
        ``settle`` once a run of upserts is done."""
        if not documents:
            return
        parsed = self.tokenizer.documents([d.texts for d in documents])
        self._reserve(self._n + len(documents))
        positions = np.arange(self._n, self._n + len(documents), dtype=np.int64)
        seg_term: list[int] = []
        seg_pos: list[int] = []
        seg_tf: list[float] = []
        for position, doc, (terms, length) in zip(positions, documents, parsed, strict=True):
            old = self._pos.get(doc.seq)
            if old is not None:
                self._kill(old)
            p = int(position)
            self._pos[doc.seq] = p
            self._seq[p] = doc.seq
            self._agent[p] = self._agents.setdefault(doc.agent, len(self._agents))
            self._length[p] = length
            self._alive[p] = True
            self._live += 1
            self._tokens += length
            for term, tf in terms.items():
                seg_term.append(self._terms.setdefault(term, len(self._terms)))
                seg_pos.append(p)
                seg_tf.append(tf)
        self._n += len(documents)
        self.columns.set(
            positions,
            [d.kind for d in documents],
            [d.status for d in documents],
            [d.start for d in documents],
            [d.end for d in documents],
        )
        ids = np.asarray(seg_term, np.int32)
        order = np.argsort(ids, kind="stable")
        rows, weights = np.asarray(seg_pos, np.int32), np.asarray(seg_tf, np.float32)
        self._segments.append((ids[order], rows[order], weights[order]))
        self._segment_postings += len(ids)

    def settle(self) -> None:
        """Merge the segments into the arrays, and drop dead rows, once they pile up: more
        than 8 segments, segments an eighth the size of the arrays, a quarter of rows dead."""
        big = self._segment_postings > max(20_000, len(self._post_pos) // 8)
        if len(self._segments) > 8 or big or (self._n - self._live) * 4 > self._n:
            self._rebuild()

    def _kill(self, position: int) -> None:
        self._alive[position] = False
        self._live -= 1
        self._tokens -= int(self._length[position])

    def _reserve(self, rows: int) -> None:
        if rows <= len(self._seq):
            return
        size = max(rows, int(len(self._seq) * 1.5), 64)
        n = self._n
        for name in ("_seq", "_agent", "_length", "_alive"):
            old = getattr(self, name)
            new = np.zeros(size, dtype=old.dtype)
            new[:n] = old[:n]
            setattr(self, name, new)
        self.columns.reserve(n, size)

    def _rebuild(self) -> None:
        """Merge the recent postings into the sorted arrays and drop dead rows."""
        n_terms = len(self._terms)
        counts = np.diff(self._offsets)
        term = [np.repeat(np.arange(len(counts), dtype=np.int32), counts)]
        pos, tf = [self._post_pos], [self._post_tf]
        for seg_term, seg_pos, seg_tf in self._segments:
            term.append(seg_term)
            pos.append(seg_pos)
            tf.append(seg_tf)
        all_term, all_pos, all_tf = np.concatenate(term), np.concatenate(pos), np.concatenate(tf)
        n = self._n
        alive = self._alive[:n]
        keep = alive[all_pos]
        all_term, all_pos, all_tf = all_term[keep], all_pos[keep], all_tf[keep]
        # renumber the live rows 0..live-1, in their old order
        renumber = np.cumsum(alive) - 1
        all_pos = renumber[all_pos].astype(np.int32)
        live = np.flatnonzero(alive)
        for name in ("_seq", "_agent", "_length"):
            column = getattr(self, name)
            column[: len(live)] = column[live]
        self.columns.compact(live)
        self._alive[: len(live)] = True
        self._alive[len(live) : n] = False
        self._n = len(live)
        self._pos = {int(s): i for i, s in enumerate(self._seq[: self._n])}
        order = np.argsort(all_term, kind="stable")
        self._post_pos, self._post_tf = all_pos[order], all_tf[order]
        self._offsets = np.zeros(n_terms + 1, np.int64)
        np.cumsum(np.bincount(all_term, minlength=n_terms), out=self._offsets[1:])
        self._segments.clear()
        self._segment_postings = 0

    # reads ------------------------------------------------------------------------------

    def terms(self, words: Sequence[str]) -> list[str] | None:
        """FTS5's token for each query word; None when one of them is not a single token
        (FTS5 reads it as a phrase, which this index cannot rank)."""
        out: list[str] = []
        for word in words:
            if word not in self._words:
                if len(self._words) > 50_000:
                    self._words.clear()
                self._words[word] = self.tokenizer.term(word)
            token = self._words[word]
            if token is None:
                return None
            out.append(token)
        return out

    def _postings(self, tid: int) -> tuple[_I32, _F32]:
        if tid + 1 < len(self._offsets):
            lo, hi = int(self._offsets[tid]), int(self._offsets[tid + 1])
            pos, tf = self._post_pos[lo:hi], self._post_tf[lo:hi]
        else:
            pos, tf = np.empty(0, np.int32), np.empty(0, np.float32)
        if self._segments:
            parts_pos, parts_tf = [pos], [tf]
            for seg_term, seg_pos, seg_tf in self._segments:
                lo, hi = np.searchsorted(seg_term, [tid, tid + 1])
                parts_pos.append(seg_pos[lo:hi])
                parts_tf.append(seg_tf[lo:hi])
            pos, tf = np.concatenate(parts_pos), np.concatenate(parts_tf)
        if self._live < self._n:
            live = self._alive[pos]
            pos, tf = pos[live], tf[live]
        return pos, tf

    def search(
        self, agent: str, terms: Sequence[str], where: RowFilter, limit: int
    ) -> list[tuple[int, float]]:
        """(item seq, BM25 score, higher is better) of ``agent``'s best rows that hold any of
        ``terms`` (FTS5 tokens) and pass ``where``, best first."""
        code = self._agents.get(agent)
        if code is None or limit <= 0 or self._live == 0:
            return []
        rows = self._live
        avgdl = self._tokens / rows
        positions: list[_I32] = []
        scores: list[_F64] = []
        for term in terms:
            tid = self._terms.get(term)
            if tid is None:
                continue
            pos, tf = self._postings(tid)
            hits = len(pos)
            if hits == 0:
                continue
            idf = math.log((rows - hits + 0.5) / (hits + 0.5))
            idf = idf if idf > 0 else MIN_IDF
            f = tf.astype(np.float64)
            norm = K1 * (1.0 - B + B * self._length[pos] / avgdl)
            positions.append(pos)
            scores.append(idf * (f * (K1 + 1.0)) / (f + norm))
        if not positions:
            return []
        # every contribution is positive (IDF is floored above 0): a row matched iff its sum is
        total = np.bincount(np.concatenate(positions), np.concatenate(scores), minlength=self._n)
        matched = np.flatnonzero(total > 0)
        total = total[matched]
        keep = self._agent[matched] == code
        more = self.columns.mask(where, matched)
        if more is not None:
            keep &= more
        matched, total = matched[keep], total[keep]
        if len(matched) == 0:
            return []
        top = self._best(matched, total, limit)
        seqs = self._seq[matched[top]]
        order = np.lexsort((seqs, -total[top]))
        return [(int(seqs[i]), float(total[top][i])) for i in order]

    def _best(self, matched: _I32, total: _F64, limit: int) -> NDArray[np.intp]:
        """Indexes into ``matched`` of the best ``limit`` by score; of rows tied at the cut,
        the lowest seqs, so the same store always gives the same answer."""
        if limit >= len(matched):
            return np.arange(len(matched))
        cut = -np.partition(-total, limit - 1)[limit - 1]
        above = np.flatnonzero(total > cut)
        tied = np.flatnonzero(total == cut)
        if len(above) + len(tied) > limit:
            order = np.argsort(self._seq[matched[tied]], kind="stable")
            tied = tied[order[: limit - len(above)]]
        return np.concatenate([above, tied])
