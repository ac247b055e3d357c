"""The HNSW graph past ``recall.ann_from``: it agrees with exact search, never decides a
filter or a score, finds rows added after it was built, and is saved beside the store and
loaded by the next process (a damaged file is rebuilt, never trusted)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

import sleepcycle
from sleepcycle import changes
from sleepcycle.config import Config
from sleepcycle.embed.fake import HashingEmbedder
from sleepcycle.records import ItemType
from sleepcycle.store.columns import RowFilter
from sleepcycle.store.filters import MemoryFilter
from sleepcycle.store.graph import GraphFile
from sleepcycle.store.vectors import VectorIndex

DIM = 32


def unit(rows: NDArray[np.float32]) -> NDArray[np.float32]:
    return (rows / np.linalg.norm(rows, axis=-1, keepdims=True)).astype(np.float32)


def clustered(n: int, seed: int) -> NDArray[np.float32]:
    rng = np.random.default_rng(seed)
    centers = unit(rng.standard_normal((max(n // 20, 1), DIM)).astype(np.float32))
    picks = rng.integers(0, len(centers), n)
    return unit(centers[picks] + 0.2 * rng.standard_normal((n, DIM)).astype(np.float32))


def load(index: VectorIndex, vectors: NDArray[np.float32], first: int = 1) -> None:
    n = len(vectors)
    items = list(range(first, first + n))
    index.upsert(
        items, vectors, [i % 4 for i in items], [0] * n, [0.0] * n, [np.inf] * n, marks=items
    )


def exact_top(vectors: NDArray[np.float32], query: NDArray[np.float32], k: int) -> list[int]:
    return [int(i) + 1 for i in np.argsort(-(vectors @ query), kind="stable")[:k]]


def graph_index(folder: Path) -> VectorIndex:
    return VectorIndex(DIM, exact_limit=100, ann_from=500, graph_file=GraphFile(folder, "t"))


def built(folder: Path, vectors: NDArray[np.float32]) -> VectorIndex:
    """An index of ``vectors`` (items 1..n) whose graph is built or loaded."""
    index = graph_index(folder)
    load(index, vectors)
    index.settle()
    return index


def saved(folder: Path, vectors: NDArray[np.float32]) -> None:
    """Build the graph of ``vectors`` and save it in ``folder``, as a closing process does."""
    built(folder, vectors).close()


def test_graph_search_agrees_with_exact_search_and_keeps_filters(tmp_path: Path) -> None:
    vectors = clustered(3000, 1)
    index = built(tmp_path, vectors)
    assert index._graph is not None and len(index._graph) == 3000
    rng = np.random.default_rng(2)
    agree, kind_agree = 0, 0
    for q in range(40):
        query = unit(vectors[q * 7] + 0.1 * rng.standard_normal(DIM).astype(np.float32))
        found = [i for i, _ in index.search(query, RowFilter(), 10)]
        agree += len(set(found) & set(exact_top(vectors, query, 10)))
        kind = [i for i, _ in index.search(query, RowFilter(kinds=(1,)), 10)]
        assert len(kind) == 10 and all(i % 4 == 1 for i in kind)
        only = [i for i in exact_top(vectors, query, 3000) if i % 4 == 1][:10]
        kind_agree += len(set(kind) & set(only))
    assert agree / 400 >= 0.95
    assert kind_agree / 400 >= 0.9


def test_scores_are_exact_cosines_from_the_index_rows(tmp_path: Path) -> None:
    vectors = clustered(1000, 3)
    index = built(tmp_path, vectors)
    query = vectors[5]
    for item, score in index.search(query, RowFilter(), 10):
        assert score == pytest.approx(float(vectors[item - 1] @ query), abs=1e-5)
    assert index.search(query, RowFilter(), 1)[0][0] == 6


def test_rows_added_or_replaced_after_the_build_are_found(tmp_path: Path) -> None:
    vectors = clustered(2000, 4)
    index = built(tmp_path, vectors)
    assert index._missing == 0
    rng = np.random.default_rng(5)
    newcomer = unit(rng.standard_normal(DIM).astype(np.float32))
    load(index, newcomer[None, :], first=5000)
    moved = unit(-vectors[0])  # item 1 now points the other way
    index.upsert([1], moved[None, :], [1], [0], [0.0], [np.inf], marks=[9000])
    assert index._missing == 2  # a small backlog: searched exactly, no rebuild
    assert index.search(newcomer, RowFilter(), 1)[0][0] == 5000
    assert index.search(moved, RowFilter(), 1)[0][0] == 1
    assert 1 not in [i for i, _ in index.search(vectors[0], RowFilter(), 10)]


def test_a_narrow_filter_skips_the_graph_and_stays_exact(tmp_path: Path) -> None:
    vectors = clustered(3000, 6)
    index = graph_index(tmp_path)
    n = len(vectors)
    items = list(range(1, n + 1))
    statuses = [1 if i % 50 == 0 else 0 for i in items]  # 2% of rows
    index.upsert(items, vectors, [0] * n, statuses, [0.0] * n, [np.inf] * n, marks=items)
    index.settle()
    exact = VectorIndex(DIM, exact_limit=10_000)
    exact.upsert(items, vectors, [0] * n, statuses, [0.0] * n, [np.inf] * n)
    where = RowFilter(statuses=(1,))
    for q in range(10):
        assert index.search(vectors[q], where, 5) == exact.search(vectors[q], where, 5)


def test_the_graph_is_saved_and_the_next_index_loads_it(tmp_path: Path) -> None:
    folder = tmp_path / "graphs"
    vectors = clustered(1500, 7)
    saved(folder, vectors)
    files = sorted(p.name for p in folder.iterdir())
    assert len(files) == 2 and files[0].startswith("t-1500-") and files[1] == "t.json"
    again = built(folder, vectors)
    assert again._graph is not None and again._missing == 0 and again._unsaved == 0
    assert sorted(p.name for p in folder.iterdir()) == files  # loaded, not rebuilt
    # rows the saved graph does not cover are added to it, and saved with the new mark
    load(again, clustered(4500, 8)[1500:], first=1501)
    assert again._missing == 3000
    again.search(vectors[0], RowFilter(), 10)  # a large backlog: extended in the background
    again.settle()
    again.close()
    assert again._missing == 0
    assert [p.name.split("-")[1] for p in folder.glob("t-*.usearch")] == ["4500"]


def test_a_damaged_graph_file_is_rebuilt_not_trusted(tmp_path: Path) -> None:
    folder = tmp_path / "graphs"
    vectors = clustered(1000, 9)
    saved(folder, vectors)
    (graph_file,) = folder.glob("t-*.usearch")
    graph_file.write_bytes(graph_file.read_bytes()[:100])
    again = built(folder, vectors)
    assert again._graph is not None and len(again._graph) == 1000
    assert again.search(vectors[3], RowFilter(), 1)[0][0] == 4
    (folder / "t.json").write_text("{not json")
    third = built(folder, vectors)
    assert third._graph is not None and len(third._graph) == 1000
    assert third.search(vectors[3], RowFilter(), 1)[0][0] == 4


def test_the_store_saves_the_graph_in_its_index_folder(tmp_path: Path) -> None:
    config = Config.model_validate({"recall": {"exact_limit": 100, "ann_from": 300}})
    home = tmp_path / "home"
    embedder = HashingEmbedder(dim=64)
    topics = ["tea", "trains", "kyoto", "maya"]
    texts = [f"note {i} about {topics[i % 4]} {i * 7}" for i in range(600)]
    with sleepcycle.open(home, "maya", embedder=embedder, config=config) as mind:
        with mind.store.write() as tx:
            tx.ensure_agent("maya")
            tx.memories.apply("maya", [changes.add(t, author=mind.author) for t in texts])
        mind.embed_pending()
        query = embedder.embed([texts[42]])[0]
        where = MemoryFilter()
        mind.store.vector_search("maya", ItemType.MEMORY, embedder.model_id, query, where, 5)
        mind.store.settle_indexes()
        hits = mind.store.vector_search("maya", ItemType.MEMORY, embedder.model_id, query, where, 5)
        assert mind.recall(texts[42], mode="vector").hits[0].text == texts[42]
        assert hits[0][1] == pytest.approx(1.0, abs=1e-5)
    files = sorted(p.suffix for p in (home / "index").iterdir())
    assert files == [".json", ".usearch"]


def test_a_graph_saved_for_other_rows_is_rebuilt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A store replaced under its index folder (a restored backup, a new database) reuses
    item and embedding seqs: the saved graph is checked against the rows before use."""
    folder = tmp_path / "graphs"
    saved(folder, clustered(1000, 10))
    other = clustered(1000, 11)
    again = built(folder, other)
    again.close()
    assert "does not match the store; rebuilding it" in caplog.text
    assert again._unsaved == 0 and len(again._graph or []) == 1000
    agree = sum(
        len(
            {i for i, _ in again.search(other[q], RowFilter(), 10)}
            & set(exact_top(other, other[q], 10))
        )
        for q in range(20)
    )
    assert agree / 200 >= 0.95


def test_onnxruntime_loads_after_the_graph_library(tmp_path: Path) -> None:
    """Some usearch builds (2.26.1 and later here) crash the process when onnxruntime is
    imported after them; the graph is loaded before the embedding model in a recall, so the
    pinned version must allow that order."""
    code = (
        "import sleepcycle.store.graph as g; assert g._index_class() is not None; "
        "import onnxruntime; print(onnxruntime.__version__)"
    )
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, (done.returncode, done.stderr[-500:])
