"""An HNSW graph (usearch) over a vector index's rows, kept on disk between processes.

Past ``recall.ann_from`` rows a vector search walks this graph for candidates instead of
reading every row, and ``VectorIndex`` scores the candidates exactly from its own float32
rows. The graph is a cache, like the index it serves: keys are item seqs, vectors are int8
copies, and nothing in it is trusted for a score or a filter. A missing, damaged or foreign
file is rebuilt from the store's rows; a key that is no longer in the index is dropped at
search time.

On disk, next to the database: ``<name>-<mark>.usearch`` files, never rewritten, and
``<name>.json`` naming the current one with the embedding seq it covers (``mark``). A save
writes a new file and then replaces the JSON, so a reader in another process always finds a
whole graph or none.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["Graph", "GraphFile", "available"]

FORMAT = 1
CONNECTIVITY = 16
EXPANSION_ADD = 128
EXPANSION_SEARCH = 96


@functools.cache
def _index_class() -> Any:
    """usearch's Index, imported on first use: most stores never reach ``ann_from``, and the
    import costs every process ~20 ms. None when it is missing (the sign-bit pass is used)."""
    try:
        from usearch.index import Index  # noqa: PLC0415 - see above
    except ImportError:  # pragma: no cover - usearch is a dependency; a broken install
        return None
    return Index


def available() -> bool:
    return importlib.util.find_spec("usearch") is not None


def _threads() -> int:
    return max(1, min(4, os.cpu_count() or 1))


class Graph:
    """Item seqs and int8 vectors in an HNSW graph, cosine metric."""

    def __init__(self, dim: int, inner: Any = None):
        index = _index_class()
        if index is None:
            raise RuntimeError("usearch is not installed")
        self.dim = dim
        self.inner = inner or index(
            ndim=dim,
            metric="cos",
            dtype="i8",
            connectivity=CONNECTIVITY,
            expansion_add=EXPANSION_ADD,
            expansion_search=EXPANSION_SEARCH,
        )

    def __len__(self) -> int:
        return len(self.inner)

    def add(self, keys: NDArray[np.int64], vectors: NDArray[np.float32]) -> None:
        """Insert rows; a key already present has its vector replaced."""
        if len(keys) == 0:
            return
        present = np.asarray(self.inner.contains(keys), dtype=bool).reshape(-1)
        if present.any():
            self.inner.remove(keys[present])
        self.inner.add(keys, vectors, threads=_threads())

    def search(self, query: NDArray[np.float32], count: int) -> NDArray[np.int64]:
        """Keys of about the ``count`` nearest rows, nearest first."""
        if len(self.inner) == 0 or count <= 0:
            return np.empty(0, np.int64)
        found = self.inner.search(query, min(count, len(self.inner)), threads=1)
        return np.asarray(found.keys, dtype=np.int64)

    def agrees(self, keys: NDArray[np.int64], vectors: NDArray[np.float32]) -> bool:
        """Whether the graph holds these keys with these vectors (int8 copies: cosine at
        least 0.98). A graph that does not is from another store or another time."""
        for key, vector in zip(keys, vectors, strict=True):
            copy = self.inner.get(int(key), dtype="f32")
            if copy is None:
                return False
            copy = np.asarray(copy, dtype=np.float32).reshape(-1)
            norm = float(np.linalg.norm(copy))
            if norm == 0 or float(copy @ vector) / norm < 0.98:
                return False
        return True


@dataclass(frozen=True, slots=True)
class GraphFile:
    """Where one index's graph lives: ``folder/<name>.json`` and the files it names."""

    folder: Path
    name: str

    @property
    def pointer(self) -> Path:
        return self.folder / f"{self.name}.json"

    def load(self, dim: int) -> tuple[Graph, int] | None:
        """The saved graph and the embedding seq it covers; None when there is none or it
        cannot be read (the caller rebuilds)."""
        try:
            head = json.loads(self.pointer.read_text(encoding="utf-8"))
            if head.get("format") != FORMAT or head.get("dim") != dim:
                return None
            path = self.folder / str(head["file"])
            index = _index_class()
            if index is None or not path.is_file():
                return None
            inner = index.restore(str(path), view=False)
            if inner is None or inner.ndim != dim or len(inner) != int(head["rows"]):
                return None
            return Graph(dim, inner), int(head["mark"])
        except (OSError, ValueError, KeyError, TypeError, RuntimeError):
            return None

    def save(self, graph: Graph, mark: int) -> None:
        """Write ``graph`` as covering every embedding row up to ``mark``; older files go."""
        self.folder.mkdir(parents=True, exist_ok=True)
        file = f"{self.name}-{mark}-{os.getpid()}-{threading.get_ident()}.usearch"
        graph.inner.save(str(self.folder / file))
        head = {"format": FORMAT, "dim": graph.dim, "rows": len(graph), "mark": mark}
        temp = self.pointer.with_name(f".{self.pointer.name}.{os.getpid()}.tmp")
        temp.write_text(json.dumps({**head, "file": file}), encoding="utf-8")
        temp.replace(self.pointer)
        for old in self.folder.glob(f"{self.name}-*.usearch"):
            if old.name != file:
                old.unlink(missing_ok=True)
