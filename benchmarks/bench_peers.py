"""Recall against the embedded peers a user would pick instead, side by side in one run.

    python benchmarks/bench_peers.py                      # 100k and 1M memories, LoCoMo
    python benchmarks/bench_peers.py --sizes 100000 --json
    python benchmarks/bench_peers.py --sizes 10000 --skip-locomo --no-docs

The same memories (bench_store's generated set, embedded with the bundled MiniLM, cached in
``benchmarks/.cache``), the same vectors, the same queries (200, never a stored text), the
same machine: sleepcycle's hybrid, BM25-only and vector recall against

- LanceDB (hybrid: its native full-text index and vectors, fused by its default RRF; vector
  search through an IVF-HNSW-SQ index from 50k rows, exact below),
- Chroma (persistent client; HNSW, cosine; vectors only),
- Qdrant's local mode (``qdrant-client`` with a path; exact search in Python; vectors only),
- sqlite-vec (``vec0`` exact search, and FTS5 BM25 in the same file fused by reciprocal rank,
  the recipe its author publishes; through ``apsw``, since this Python's sqlite3 cannot load
  extensions).

Each system runs in its own process (``--worker``), so its load time and RSS are its own. The
query vector is precomputed for every system alike, so the latencies are the search alone
(``store`` columns); sleepcycle's end-to-end ``mind.recall`` (query embedding included) is
reported beside them. Quality: recall@10 of each vector search against exact search (numpy),
and LoCoMo evidence recall at 10 over raw turns (each conversation its own collection, agent
or table; every system gets sleepcycle's episode texts and vectors).

Past ``--embed-up-to`` memories (100k) the vectors are derived, as bench_postgres derives its
other agents' vectors: each memory past it takes the MiniLM vector of an embedded memory about
the same person plus Gaussian noise (``NOISE`` per dimension), renormalised; embedding 1M texts
on two cores would take hours. Its texts are the generated texts, as at 100k.

Each size's results are kept in ``benchmarks/results/bench_peers.json`` (with the date, the
commit and the systems run), so ``--sizes 1000000 --systems ...`` adds the 1M table without
discarding the 100k one; the docs section is rendered from every kept size.

``--json`` prints one object; its ``ratio`` is sleepcycle's hybrid p50 over the fastest
peer's hybrid or vector p50 at the largest size (search alone on both sides; lower is better),
and ``ratio_at_quality`` the same against the fastest peer mode whose LoCoMo R@10 is at least
sleepcycle hybrid's (null when none is, or LoCoMo was skipped).
The peers are the ``peers`` extra: ``pip install -e '.[dev,peers]'``.
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path
from typing import Any, Protocol

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sleepcycle
from bench_store import (
    AGENT,
    DEFAULT_CACHE,
    DEFAULT_OUTPUT,
    F32,
    PrecomputedEmbedder,
    Stats,
    build_store,
    cached_sizes,
    latencies,
    log,
    machine,
    new_embedder,
    status_mb,
    store_home,
)
from datagen import GeneratedMemory, MemoryStream, make_queries
from locomo_data import DEFAULT_DATA, load_locomo
from locomo_recall import BuildStats, question_recall, turn_ids_by_episode
from locomo_recall import build_store as build_locomo
from report import write_section
from sleepcycle import changes
from sleepcycle.config import Config
from sleepcycle.recall import Mode, query_terms
from sleepcycle.records import Author, ItemType, episode_text
from sleepcycle.store.search import match_expression

NAME = "bench_peers"
SYSTEMS = ("sleepcycle", "lancedb", "chroma", "qdrant", "sqlite-vec")
K = 10
POOL = 50  # candidates per ranking before fusion, as sleepcycle's default
WARMUP = 10
ANN_FROM = 50_000
EMBED_UP_TO = 100_000
NOISE = 0.05  # per-dimension noise on derived vectors (unit vectors, 384 dims), as bench_postgres
RESULTS = Path(__file__).resolve().parent / "results" / f"{NAME}.json"


# the data every system gets --------------------------------------------------------------


def export_memories(cache: Path, size: int, seed: int, queries: int, embed_up_to: int) -> Path:
    """bench_store's store of ``size`` memories as arrays: texts, vectors, queries with their
    vectors and exact top 10. Past ``embed_up_to`` memories the vectors are derived (module
    docstring). Cached."""
    embedded = min(size, embed_up_to)
    derived = f"-embedded{embedded}" if embedded < size else ""
    out = cache / f"peers-n{size}-seed{seed}-q{queries}{derived}"
    if (out / "done").exists():
        return out
    embedder = new_embedder(cache)
    build_store(cache, embedded, seed, embedder, cached_sizes(cache, seed))
    out.mkdir(parents=True, exist_ok=True)
    home = store_home(cache, embedded, seed)
    with closing(sqlite3.connect(home / "sleepcycle.db")) as conn:
        rows = conn.execute(
            "SELECT m.text, e.vector FROM memories m JOIN embeddings e ON e.item_seq = m.seq "
            "AND e.item_type = 'memory' WHERE m.agent = ? ORDER BY m.seq",
            (AGENT,),
        ).fetchall()
    texts = [r[0] for r in rows]
    vectors = np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows])
    stream = MemoryStream(seed).take(size)
    if size > embedded:
        log(f"derive {size - embedded:,} vectors from the {embedded:,} embedded (noise {NOISE})")
        vectors = derive_vectors(vectors, stream, embedded, seed)
        texts += [m.text for m in stream[embedded:]]
    people = sorted({m.person for m in stream})
    asked = make_queries(people, queries, seed)
    qvectors = embedder.embed(asked)
    truth = exact_top(vectors, qvectors, K)
    (out / "texts.json").write_text(json.dumps(texts))
    (out / "queries.json").write_text(json.dumps(asked))
    np.save(out / "vectors.npy", vectors)
    np.save(out / "qvectors.npy", qvectors)
    np.save(out / "truth.npy", truth)
    (out / "done").write_text("")
    return out


def derive_vectors(
    vectors: F32, stream: Sequence[GeneratedMemory], embedded: int, seed: int
) -> F32:
    """``vectors`` (the first ``embedded`` memories) and one more per memory past them: an
    embedded memory's vector about the same person, plus noise, at unit length."""
    rng = np.random.default_rng(seed)
    about: dict[str, list[int]] = {}
    for i, memory in enumerate(stream[:embedded]):
        about.setdefault(memory.person, []).append(i)
    out = np.empty((len(stream), vectors.shape[1]), np.float32)
    out[:embedded] = vectors
    everyone = np.arange(embedded)
    for start in range(embedded, len(stream), 100_000):
        chunk = stream[start : start + 100_000]
        source = np.array([rng.choice(about.get(m.person, everyone)) for m in chunk])
        rows = vectors[source] + NOISE * rng.standard_normal((len(chunk), vectors.shape[1]))
        out[start : start + len(chunk)] = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return out


def exact_top(vectors: F32, queries: F32, k: int) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Row numbers of each query's exact top ``k`` by cosine (unit vectors)."""
    out = np.empty((len(queries), k), np.int64)
    for i, query in enumerate(queries):
        scores = vectors @ query
        top = np.argpartition(-scores, k - 1)[:k]
        out[i] = top[np.argsort(-scores[top], kind="stable")]
    return out


def export_locomo(cache: Path, data: Path) -> Path:
    """LoCoMo's turns as sleepcycle stores them (text as indexed, vector, turn id), one
    folder per conversation, with its questions, their vectors and evidence."""
    out = cache / "peers-locomo"
    if (out / "done").exists():
        return out
    shutil.rmtree(out, ignore_errors=True)
    embedder = new_embedder(cache)
    conversations, questions = load_locomo(data)
    home = out / "sleepcycle-home"
    with sleepcycle.open(home, conversations[0].sample_id, embedder=embedder) as mind:
        build_locomo(mind, conversations, BuildStats())
    for conv in conversations:
        with closing(sqlite3.connect(home / "sleepcycle.db")) as conn:
            rows = conn.execute(
                "SELECT x.name, x.content, x.meta, e.vector FROM episodes x "
                "JOIN embeddings e ON e.item_seq = x.seq AND e.item_type = 'episode' "
                "WHERE x.agent = ? ORDER BY x.seq",
                (conv.sample_id,),
            ).fetchall()
        asked = [q for q in questions if q.sample_id == conv.sample_id and q.evidence]
        folder = out / conv.sample_id
        folder.mkdir(parents=True)
        turns = [
            {"text": episode_text(r[0], r[1]), "turn": json.loads(r[2]).get("dia_id")} for r in rows
        ]
        (folder / "turns.json").write_text(json.dumps(turns))
        np.save(folder / "vectors.npy", np.stack([np.frombuffer(r[3], np.float32) for r in rows]))
        (folder / "questions.json").write_text(
            json.dumps([{"text": q.text, "evidence": list(q.evidence)} for q in asked])
        )
        np.save(folder / "qvectors.npy", embedder.embed([q.text for q in asked]))
    (out / "done").write_text("")
    return out


# the systems -----------------------------------------------------------------------------


class Index(Protocol):
    modes: tuple[str, ...]

    def search(self, mode: str, text: str, vector: F32, k: int) -> list[int]:
        """Row numbers (into the loaded texts) of the best ``k``, best first."""
        ...


class SleepcycleIndex:
    """A new sleepcycle home: the memories through ``tx.memories.apply``, their vectors
    through ``tx.embeddings.put``; searched through ``Mind.recall`` with the query vector
    precomputed (``PrecomputedEmbedder``)."""

    modes = ("hybrid", "bm25", "vector")

    def __init__(self, folder: Path, texts: list[str], vectors: F32, queries: dict[str, F32]):
        embedder = new_embedder(DEFAULT_CACHE)
        self.mind = sleepcycle.open(folder, AGENT, embedder=embedder, config=Config())
        store = self.mind.store
        author = Author.user("bench")
        for start in range(0, len(texts), 2_000):
            with store.write() as tx:
                tx.ensure_agent(AGENT)
                tx.memories.apply(
                    AGENT, [changes.add(t, author=author) for t in texts[start : start + 2_000]]
                )
        done = 0
        while pending := store.embeddings.pending(AGENT, ItemType.MEMORY, 5_000):
            rows = [
                (seq, digest, vectors[done + i].tobytes())
                for i, (seq, _, digest) in enumerate(pending)
            ]
            with store.write() as tx:
                tx.embeddings.put(AGENT, ItemType.MEMORY, embedder.model_id, rows)
            done += len(pending)
        with closing(sqlite3.connect(folder / "sleepcycle.db")) as conn:
            ids = conn.execute("SELECT id FROM memories ORDER BY seq").fetchall()
        self.row = {row[0]: i for i, row in enumerate(ids)}
        self.fast = sleepcycle.Mind(
            store, AGENT, self.mind.config, folder, PrecomputedEmbedder(embedder, queries)
        )
        self.fast.recall("warm up the index", mode=Mode.HYBRID)
        settle = getattr(store, "settle_indexes", None)
        if settle is not None:
            settle()  # the vector graph past recall.ann_from: part of loading, as peers' indexes

    def search(self, mode: str, text: str, vector: F32, k: int) -> list[int]:
        hits = self.fast.recall(text, k=k, mode=Mode(mode)).hits
        return [self.row[h.id] for h in hits]


class LanceIndex:
    modes = ("hybrid", "bm25", "vector")

    def __init__(self, folder: Path, texts: list[str], vectors: F32):
        import lancedb  # noqa: PLC0415
        import pyarrow as pa  # noqa: PLC0415

        db = lancedb.connect(str(folder))
        data = pa.table(
            {
                "i": pa.array(range(len(texts)), pa.int32()),
                "text": pa.array(texts),
                "vector": pa.FixedSizeListArray.from_arrays(
                    pa.array(vectors.reshape(-1)), vectors.shape[1]
                ),
            }
        )
        self.table = db.create_table("memories", data=data)
        self.table.create_fts_index("text")
        if len(texts) >= ANN_FROM:
            self.table.create_index(metric="cosine", index_type="IVF_HNSW_SQ")

    def search(self, mode: str, text: str, vector: F32, k: int) -> list[int]:
        if mode == "vector":
            query = self.table.search(vector).distance_type("cosine")
        elif mode == "bm25":
            query = self.table.search(text, query_type="fts")
        else:
            query = (
                self.table.search(query_type="hybrid").vector(vector).text(text)
            ).distance_type("cosine")
        return [int(r["i"]) for r in query.limit(k).select(["i"]).to_list()]


class ChromaIndex:
    modes = ("vector",)

    def __init__(self, folder: Path, texts: list[str], vectors: F32):
        import chromadb  # noqa: PLC0415

        client = chromadb.PersistentClient(path=str(folder))
        self.collection = client.create_collection(
            "memories", metadata={"hnsw:space": "cosine"}, embedding_function=None
        )
        batch = client.get_max_batch_size()
        for start in range(0, len(texts), batch):
            end = min(start + batch, len(texts))
            self.collection.add(
                ids=[str(i) for i in range(start, end)],
                embeddings=vectors[start:end],
                documents=texts[start:end],
            )

    def search(self, mode: str, text: str, vector: F32, k: int) -> list[int]:
        found = self.collection.query(query_embeddings=[vector], n_results=k, include=[])
        return [int(i) for i in found["ids"][0]]


class QdrantIndex:
    modes = ("vector",)

    def __init__(self, folder: Path, texts: list[str], vectors: F32):
        import warnings  # noqa: PLC0415

        from qdrant_client import QdrantClient, models  # noqa: PLC0415

        warnings.filterwarnings("ignore", message=".*Local mode is not recommended.*")
        self.client = QdrantClient(path=str(folder))
        self.client.create_collection(
            "memories",
            vectors_config=models.VectorParams(
                size=vectors.shape[1], distance=models.Distance.COSINE
            ),
        )
        self.client.upload_collection(
            "memories", vectors=vectors, payload=({"text": t} for t in texts), ids=range(len(texts))
        )

    def search(self, mode: str, text: str, vector: F32, k: int) -> list[int]:
        found = self.client.query_points("memories", query=vector, limit=k, with_payload=False)
        return [int(p.id) for p in found.points]


class SqliteVecIndex:
    modes = ("hybrid", "bm25", "vector")

    def __init__(self, folder: Path, texts: list[str], vectors: F32):
        import apsw  # noqa: PLC0415
        import sqlite_vec  # noqa: PLC0415

        folder.mkdir(parents=True, exist_ok=True)
        self.db = apsw.Connection(str(folder / "peers.db"))
        self.db.enable_load_extension(True)
        self.db.load_extension(sqlite_vec.loadable_path())
        dim = vectors.shape[1]
        self.db.execute(
            f"CREATE VIRTUAL TABLE vectors USING vec0(embedding float[{dim}] "
            "distance_metric=cosine)"
        )
        self.db.execute("CREATE VIRTUAL TABLE texts USING fts5(text, tokenize='porter unicode61')")
        with self.db:
            self.db.executemany(
                "INSERT INTO vectors (rowid, embedding) VALUES (?, ?)",
                ((i + 1, vectors[i].tobytes()) for i in range(len(texts))),
            )
            self.db.executemany(
                "INSERT INTO texts (rowid, text) VALUES (?, ?)",
                ((i + 1, t) for i, t in enumerate(texts)),
            )

    def _vector(self, vector: F32, k: int) -> list[int]:
        rows = self.db.execute(
            "SELECT rowid FROM vectors WHERE embedding MATCH ? AND k = ? ORDER BY distance",
            (vector.tobytes(), k),
        )
        return [r[0] - 1 for r in rows]

    def _bm25(self, text: str, k: int) -> list[int]:
        expression = match_expression(query_terms(text))
        if not expression:
            return []
        rows = self.db.execute(
            "SELECT rowid FROM texts WHERE texts MATCH ? ORDER BY rank LIMIT ?", (expression, k)
        )
        return [r[0] - 1 for r in rows]

    def search(self, mode: str, text: str, vector: F32, k: int) -> list[int]:
        if mode == "vector":
            return self._vector(vector, k)
        if mode == "bm25":
            return self._bm25(text, k)
        fused: dict[int, float] = {}
        for ranking in (self._vector(vector, POOL), self._bm25(text, POOL)):
            for rank, row in enumerate(ranking):
                fused[row] = fused.get(row, 0.0) + 1 / (60 + rank + 1)
        return sorted(fused, key=lambda r: -fused[r])[:k]


def open_index(
    system: str, folder: Path, texts: list[str], vectors: F32, queries: dict[str, F32]
) -> Index:
    if system == "sleepcycle":
        return SleepcycleIndex(folder, texts, vectors, queries)
    kinds = {
        "lancedb": LanceIndex,
        "chroma": ChromaIndex,
        "qdrant": QdrantIndex,
        "sqlite-vec": SqliteVecIndex,
    }
    return kinds[system](folder, texts, vectors)


# workers ---------------------------------------------------------------------------------


def stats_json(stats: Stats) -> dict[str, float]:
    return {"p50": stats.p50, "p95": stats.p95}


def memories_worker(system: str, data: Path, work: Path) -> dict[str, Any]:
    texts = json.loads((data / "texts.json").read_text())
    asked = json.loads((data / "queries.json").read_text())
    vectors, qvectors = np.load(data / "vectors.npy"), np.load(data / "qvectors.npy")
    truth = np.load(data / "truth.npy")
    table = {q: qvectors[i] for i, q in enumerate(asked)}
    gc.collect()
    rss_before = status_mb("VmRSS")
    started = time.perf_counter()
    index = open_index(system, work, texts, vectors, table)
    load_s = time.perf_counter() - started
    del texts, vectors
    gc.collect()
    order = list(range(len(asked)))
    out: dict[str, Any] = {"system": system, "load_s": load_s, "modes": {}}
    for mode in index.modes:
        stats = latencies(
            lambda i, mode=mode: index.search(mode, asked[i], qvectors[i], K),
            order,
            warmup=order[:WARMUP],
        )
        out["modes"][mode] = stats_json(stats)
    found = [index.search("vector", asked[i], qvectors[i], K) for i in order]
    out["recall_at_10"] = float(
        np.mean([len(set(f) & set(truth[i].tolist())) / K for i, f in enumerate(found)])
    )
    if isinstance(index, SleepcycleIndex):
        mind = index.mind
        end_to_end = latencies(
            lambda i: mind.recall(asked[i], k=K, mode=Mode.HYBRID), order, warmup=order[:WARMUP]
        )
        out["end_to_end_hybrid"] = stats_json(end_to_end)
    out["rss_mb"] = status_mb("VmRSS") - rss_before
    out["disk_mb"] = sum(f.stat().st_size for f in work.rglob("*") if f.is_file()) / 2**20
    return out


def sleepcycle_locomo(data: Path, folders: Sequence[Path]) -> dict[str, list[float]]:
    """sleepcycle's own raw-turn recall: the exported home's episodes, scope episodes."""
    scores: dict[str, list[float]] = {}
    embedder = new_embedder(DEFAULT_CACHE)
    home = data / "sleepcycle-home"
    with sleepcycle.open(home, folders[0].name, embedder=embedder) as opened:
        for folder in folders:
            questions = json.loads((folder / "questions.json").read_text())
            qvectors = np.load(folder / "qvectors.npy")
            table = {q["text"]: qvectors[i] for i, q in enumerate(questions)}
            mind = sleepcycle.Mind(
                opened.store, folder.name, opened.config, home, PrecomputedEmbedder(embedder, table)
            )
            turn_of = turn_ids_by_episode(mind)
            for mode in ("hybrid", "bm25", "vector"):
                for q in questions:
                    hits = mind.recall(q["text"], k=K, scope="episodes", mode=mode).hits
                    found = [frozenset(turn_of[s] for s in h.sources if s in turn_of) for h in hits]
                    scores.setdefault(mode, []).append(question_recall(q["evidence"], found, K))
    return scores


def locomo_worker(system: str, data: Path, work: Path) -> dict[str, Any]:
    scores: dict[str, list[float]] = {}
    folders = sorted(p for p in data.iterdir() if (p / "turns.json").exists())
    if system == "sleepcycle":
        scores = sleepcycle_locomo(data, folders)
    for folder in folders if system != "sleepcycle" else ():
        turns = json.loads((folder / "turns.json").read_text())
        questions = json.loads((folder / "questions.json").read_text())
        qvectors = np.load(folder / "qvectors.npy")
        table = {q["text"]: qvectors[i] for i, q in enumerate(questions)}
        index = open_index(
            system,
            work / folder.name,
            [t["text"] for t in turns],
            np.load(folder / "vectors.npy"),
            table,
        )
        for mode in index.modes:
            for i, q in enumerate(questions):
                rows = index.search(mode, q["text"], qvectors[i], K)
                hits = [frozenset([turns[r]["turn"]]) for r in rows]
                scores.setdefault(mode, []).append(question_recall(q["evidence"], hits, K))
    return {"system": system, "locomo_r10": {m: float(np.mean(v)) for m, v in scores.items()}}


def run_worker(kind: str, system: str, data: Path, cache: Path) -> dict[str, Any] | None:
    work = cache / f"peers-work-{system}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    result = work.parent / f"peers-result-{system}.json"
    result.unlink(missing_ok=True)
    command = [
        sys.executable,
        __file__,
        "--worker",
        kind,
        system,
        str(data),
        str(work),
        str(result),
    ]
    log(f"{system}: {kind} on {data.name}")
    done = subprocess.run(command, check=False)
    shutil.rmtree(work, ignore_errors=True)
    if done.returncode != 0 or not result.exists():
        log(f"{system}: the {kind} worker failed (exit {done.returncode})")
        return None
    out: dict[str, Any] = json.loads(result.read_text())
    result.unlink()
    return out


# report ----------------------------------------------------------------------------------


def best_peer(
    rows: Sequence[dict[str, Any]], floor: dict[str, dict[str, float]] | None = None
) -> tuple[str, str, float] | None:
    """The fastest peer's hybrid or vector p50: (system, mode, ms). With ``floor`` (LoCoMo
    R@10 per system and mode), only modes whose R@10 is at least sleepcycle hybrid's count:
    the fastest peer at equal or better quality."""
    best = None
    bar = floor["sleepcycle"]["hybrid"] if floor and "sleepcycle" in floor else None
    for row in rows:
        if row["system"] == "sleepcycle":
            continue
        for mode in ("hybrid", "vector"):
            if mode not in row["modes"]:
                continue
            if bar is not None and floor is not None:
                quality = floor.get(row["system"], {}).get(mode)
                if quality is None or quality < bar:
                    continue
            if best is None or row["modes"][mode]["p50"] < best[2]:
                best = (row["system"], mode, row["modes"][mode]["p50"])
    return best


def locomo_floor(locomo: Sequence[dict[str, Any]]) -> dict[str, dict[str, float]] | None:
    floor = {row["system"]: row["locomo_r10"] for row in locomo}
    return floor if "sleepcycle" in floor else None


def load_record(path: Path) -> dict[str, Any]:
    """Every size measured so far ({"sizes": {size: run}, "locomo": run}); empty when none."""
    if not path.exists():
        return {"sizes": {}, "locomo": None}
    record: dict[str, Any] = json.loads(path.read_text())
    return record


def save_record(path: Path, record: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_suffix(".tmp")
    temp.write_text(json.dumps(record, indent=1) + "\n")
    temp.replace(path)


def run_info(systems: Sequence[str]) -> dict[str, Any]:
    """When, where and what: kept beside each size's rows."""
    return {
        "date": time.strftime("%Y-%m-%d"),
        "machine": dict(machine()),
        "systems": list(systems),
    }


def render(record: dict[str, Any], queries: int) -> str:
    lines = [f"## Recall against embedded peers (`benchmarks/{Path(__file__).name}`)", ""]
    lines += [
        f"- command: `python benchmarks/{Path(__file__).name}` (each size's table says when and "
        "where it was measured; they can come from separate runs)",
        "",
        f"{queries} queries, k = {K}, the query vector precomputed for every system (search "
        "alone); milliseconds p50 / p95. Load: building the system's store or collection "
        "from the texts and vectors (indexes included). RSS: growth of the worker process "
        "from before loading to after the queries. recall@10: the vector search against "
        f"exact search. Past {EMBED_UP_TO:,} memories the vectors are derived from the embedded "
        f"ones (same person, noise {NOISE} per dimension), so LoCoMo is the quality measure.",
        "",
    ]
    locomo = record["locomo"]["rows"] if record.get("locomo") else []
    floor = locomo_floor(locomo)
    for size_text, run in sorted(record["sizes"].items(), key=lambda kv: int(kv[0])):
        size, rows = int(size_text), run["rows"]
        info = run["machine"]
        lines += [
            f"### {size:,} memories",
            "",
            f"Measured {run['date']}, sleepcycle {info.get('sleepcycle', '?')}, on "
            f"{info.get('CPU', '?')}; {info.get('Cores', '?')} cores.",
            "",
            "| system | hybrid | bm25 | vector | recall@10 | load s | RSS MiB | disk MiB |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for row in rows:
            cells = []
            for mode in ("hybrid", "bm25", "vector"):
                m = row["modes"].get(mode)
                cells.append(f"{m['p50']:.2f} / {m['p95']:.2f}" if m else "-")
            lines.append(
                f"| {row['system']} | " + " | ".join(cells) + f" | {row['recall_at_10']:.3f} "
                f"| {row['load_s']:.1f} | {row['rss_mb']:.0f} | {row['disk_mb']:.0f} |"
            )
        skipped = [s for s in SYSTEMS if s not in run["systems"]]
        if skipped:
            lines += ["", f"Not run at this size: {', '.join(skipped)}."]
        ours = next((r for r in rows if r["system"] == "sleepcycle"), None)
        best = best_peer(rows)
        if ours and floor:
            fair = best_peer(rows, floor)
            lines += [
                "",
                (
                    f"Fastest peer at equal or better quality (LoCoMo R@10 at least sleepcycle "
                    f"hybrid's {100 * floor['sleepcycle']['hybrid']:.1f}): {fair[0]} {fair[1]} "
                    f"{fair[2]:.2f} ms, ratio {ours['modes']['hybrid']['p50'] / fair[2]:.2f}."
                    if fair
                    else "No peer's hybrid or vector mode reaches sleepcycle hybrid's LoCoMo "
                    f"R@10 ({100 * floor['sleepcycle']['hybrid']:.1f})."
                ),
            ]
        if ours and best:
            e2e = ours.get("end_to_end_hybrid")
            lines += [
                "",
                f"sleepcycle hybrid {ours['modes']['hybrid']['p50']:.2f} ms against the fastest "
                f"peer, {best[0]} {best[1]} {best[2]:.2f} ms: ratio "
                f"{ours['modes']['hybrid']['p50'] / best[2]:.2f}."
                + (
                    f" End to end (`mind.recall`, query embedding included): "
                    f"{e2e['p50']:.2f} / {e2e['p95']:.2f} ms."
                    if e2e
                    else ""
                ),
            ]
        lines.append("")
    if locomo:
        lines += [
            "### LoCoMo evidence recall at 10 over raw turns (%)",
            "",
            f"Measured {record['locomo']['date']}.",
            "",
            "| system | hybrid | bm25 | vector |",
            "|---|---|---|---|",
        ]
        for row in locomo:
            r = row["locomo_r10"]
            cells = [f"{100 * r[m]:.1f}" if m in r else "-" for m in ("hybrid", "bm25", "vector")]
            lines.append(f"| {row['system']} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    raw = list(sys.argv[1:] if argv is None else argv)
    if raw[:1] == ["--worker"]:
        kind, system, data, work, result = raw[1:6]
        worker = memories_worker if kind == "memories" else locomo_worker
        out = worker(system, Path(data), Path(work))
        Path(result).write_text(json.dumps(out))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated")
    parser.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-locomo", action="store_true")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="locomo10.json")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument(
        "--embed-up-to", type=int, default=EMBED_UP_TO, help="memories embedded; more derived"
    )
    parser.add_argument("--record", type=Path, default=RESULTS, help="kept results per size")
    parser.add_argument("--no-docs", action="store_true", help="neither the docs nor the record")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(raw)
    systems = [s for s in args.systems.split(",") if s]
    unknown = sorted(set(systems) - set(SYSTEMS))
    if unknown:
        parser.error(f"unknown systems {unknown}; choose from {', '.join(SYSTEMS)}")
    record = load_record(args.record)
    by_size: dict[int, list[dict[str, Any]]] = {}
    for size in (int(s) for s in args.sizes.split(",")):
        data = export_memories(args.cache, size, args.seed, args.queries, args.embed_up_to)
        rows = [run_worker("memories", s, data, args.cache) for s in systems]
        by_size[size] = [r for r in rows if r]
        record["sizes"][str(size)] = {**run_info(systems), "rows": by_size[size]}
    locomo: list[dict[str, Any]] = []
    if not args.skip_locomo:
        data = export_locomo(args.cache, args.data)
        locomo = [r for s in systems if (r := run_worker("locomo", s, data, args.cache))]
        record["locomo"] = {**run_info(systems), "rows": locomo}
    text = render(record, args.queries)
    if not args.no_docs:
        save_record(args.record, record)
        write_section(args.output, NAME, text)
    if args.json:
        largest = by_size[max(by_size)]
        ours = next((r for r in largest if r["system"] == "sleepcycle"), None)
        best = best_peer(largest)
        kept = record["locomo"]["rows"] if record.get("locomo") else []
        fair = best_peer(largest, floor) if (floor := locomo_floor(locomo or kept)) else None
        ratio = ours["modes"]["hybrid"]["p50"] / best[2] if ours and best else None
        at_quality = ours["modes"]["hybrid"]["p50"] / fair[2] if ours and fair else None
        out = {"ratio": ratio, "ratio_at_quality": at_quality, "sizes": by_size}
        print(json.dumps({**out, "locomo": locomo}))
    else:
        print(text)


if __name__ == "__main__":
    main()
