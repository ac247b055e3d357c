"""Before and after a refactor, in one run: recall latency and the sleep's own overhead.

    python benchmarks/bench_seams.py                       # before = 66fbfef (issue 16's base)
    python benchmarks/bench_seams.py --before HEAD~3 --sizes 10000,100000 --rounds 5

The ``before`` commit is checked out in a git worktree under ``benchmarks/.cache/`` and imported
from there (``PYTHONPATH``); ``after`` is this checkout. Both read the same cached store of
generated memories (``bench_store.py``'s, built by this checkout) and run the same child code,
alternating before / after for ``--rounds`` rounds so drift on the machine falls on both:

- recall: ``mind.recall`` p50 and p95 over 200 generated queries, hybrid, bm25 and vector, with
  the query vectors precomputed (the embedder is the same ONNX model either way) so what is
  timed is the store and recall code;
- sleep: one ``mind.sleep()`` over the 31 episodes of the bundled sample with the library's
  fakes for every role (code drafts memories and a fake dreamer proposes one more per cluster,
  a fake verifier passes what the code checks let through), so the wall time is sleepcycle's
  own: gathering, clustering, checks, commit, journal.

Results go to the ``seams`` section of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

WORKER_QUERIES = 200
# Code drafts the memories (the default on the bundled model), the fake verifier passes what the
# checks let through: every stage runs, with no model time in it.
CONFIG = '[sleep]\ndreamer = "both"\n[verify]\njudge = "reply"\n'


def _recall_child(home: Path, cache: Path, size: int, seed: int) -> dict[str, Any]:
    import numpy as np  # noqa: PLC0415 - the child imports sleepcycle from PYTHONPATH

    import sleepcycle  # noqa: PLC0415
    from datagen import MemoryStream, make_queries  # noqa: PLC0415
    from sleepcycle.embed import MiniLMEmbedder  # noqa: PLC0415

    embedder = MiniLMEmbedder(cache / "onnxruntime")
    people = sorted({m.person for m in MemoryStream(seed).take(size)})
    queries = make_queries(people, WORKER_QUERIES, seed)
    vectors = dict(zip(queries, embedder.embed(queries), strict=True))

    class Precomputed:
        model_id = embedder.model_id
        dim = embedder.dim

        def embed(self, texts: list[str]) -> Any:
            return np.stack([vectors[t] for t in texts])

    out: dict[str, Any] = {"sleepcycle": sleepcycle.__file__}
    with sleepcycle.open(home, "bench", embedder=Precomputed()) as mind:
        for mode in ("hybrid", "bm25", "vector"):
            for query in queries[:20]:
                mind.recall(query, mode=mode)
            samples = []
            for query in queries:
                started = time.perf_counter_ns()
                mind.recall(query, mode=mode)
                samples.append((time.perf_counter_ns() - started) / 1e6)
            samples.sort()
            out[mode] = {
                "p50": statistics.median(samples),
                "p95": samples[int(0.95 * (len(samples) - 1))],
            }
    return out


def _sleep_child() -> dict[str, Any]:
    import sleepcycle  # noqa: PLC0415
    from sleepcycle.embed import HashingEmbedder  # noqa: PLC0415
    from sleepcycle.models import FunctionModel  # noqa: PLC0415
    from sleepcycle.samples import sample_path  # noqa: PLC0415

    def dreamer(request: Any) -> dict[str, Any]:
        """One memory per cluster, citing the cluster's first line (labelled e1, e2, ...)."""
        prompt = request.messages[-1]["content"]
        lines = [m.group(1) for m in re.finditer(r"^(e\d+)\. ", prompt, re.M)]
        if not lines:
            return {"operations": []}
        op = {
            "op": "add",
            "kind": "fact",
            "text": f"Maya said something worth keeping in line {lines[0]} of this night.",
            "sources": [lines[0]],
            "targets": [],
            "thought": "",
            "reason": "bench",
        }
        return {"operations": [op]}

    def verifier(request: Any) -> dict[str, Any]:
        return {"score": 1, "reasons": "supported", "feedback": ""}

    backends = {
        "dreamer": FunctionModel(dreamer),
        "verifier": FunctionModel(verifier),
        "reshaper": FunctionModel(lambda request: {}),
        "foreground": FunctionModel(lambda request: {"updates": []}),
        "sub": FunctionModel(lambda request: {"updates": []}),
    }
    with tempfile.TemporaryDirectory() as temp:
        home = Path(temp)
        (home / "config.toml").write_text(CONFIG)
        with sleepcycle.open(home, "bench", embedder=HashingEmbedder(), backends=backends) as mind:
            mind.ingest(sample_path())
            mind.embed_pending()
            started = time.perf_counter()
            report = mind.sleep()
            wall = (time.perf_counter() - started) * 1000
            return {
                "outcome": str(report.outcome),
                "wall_ms": wall,
                "memories": len(mind.memories()),
            }


def _worktree(ref: str, cache: Path) -> Path:
    path = cache / f"worktree-{ref.replace('/', '_')}"
    if not (path / "src" / "sleepcycle").is_dir():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "prune"], check=True)
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", "--force", str(path), ref],
            check=True,
            capture_output=True,
        )
    return path


def _child(src: Path, args: list[str]) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{HERE}"}
    done = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if not result.get("sleepcycle", str(src)).startswith(str(src)):
        raise SystemExit(f"the child imported {result['sleepcycle']}, not {src}")
    return result


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default="66fbfef", help="git ref of the 'before' code")
    parser.add_argument("--sizes", default="10000", help="memories in the recall store")
    parser.add_argument("--rounds", type=int, default=3, help="before/after alternations")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cache", type=Path, default=HERE / ".cache")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--child", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        if args.child[0] == "recall":
            home, cache, size = Path(args.child[1]), Path(args.child[2]), int(args.child[3])
            print(json.dumps(_recall_child(home, cache, size, args.seed)))
        else:
            import sleepcycle  # noqa: PLC0415

            print(json.dumps({**_sleep_child(), "sleepcycle": sleepcycle.__file__}))
        return 0

    import bench_store  # noqa: PLC0415 - builds the store with this checkout

    sizes = [int(s) for s in args.sizes.split(",") if s]
    reusable = bench_store.cached_sizes(args.cache, args.seed)
    embedder = bench_store.new_embedder(args.cache)
    homes = {}
    for size in sizes:
        bench_store.build_store(args.cache, size, args.seed, embedder, reusable)
        homes[size] = bench_store.store_home(args.cache, size, args.seed)
    trees = {"before": _worktree(args.before, args.cache) / "src", "after": ROOT / "src"}
    recall: dict[tuple[str, int, str], list[tuple[float, float]]] = {}
    sleeps: dict[str, list[float]] = {name: [] for name in trees}
    for round_no in range(args.rounds):
        order = list(trees) if round_no % 2 == 0 else list(reversed(trees))
        for name in order:
            for size in sizes:
                got = _child(trees[name], ["recall", str(homes[size]), str(args.cache), str(size)])
                for mode in ("hybrid", "bm25", "vector"):
                    point = (got[mode]["p50"], got[mode]["p95"])
                    recall.setdefault((name, size, mode), []).append(point)
            slept = _child(trees[name], ["sleep"])
            if slept["outcome"] != "done":
                raise SystemExit(f"{name}: the sleep ended {slept['outcome']}")
            sleeps[name].append(slept["wall_ms"])
            print(f"round {round_no + 1} {name}: sleep {slept['wall_ms']:.0f} ms", flush=True)
    rows = []
    for size in sizes:
        for mode in ("hybrid", "bm25", "vector"):
            cells = [f"{size:,}", mode]
            for name in trees:
                points = recall[(name, size, mode)]
                cells += [
                    f"{_median([p[0] for p in points]):.2f}",
                    f"{_median([p[1] for p in points]):.2f}",
                ]
            rows.append(cells)
    lines = [
        "## Before and after the seams refactor (`benchmarks/bench_seams.py`)",
        "",
        f"`{shlex.join(['python', 'benchmarks/bench_seams.py', *(argv or sys.argv[1:])])}` on "
        f"{platform.machine()}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}: before = "
        f"`{args.before}`, after = this checkout, {args.rounds} alternating rounds, medians of the "
        "rounds. Recall: `mind.recall` over 200 queries with the query vectors precomputed.",
        "",
        "| memories | mode | before p50 ms | before p95 ms | after p50 ms | after p95 ms |",
        "|---|---|---|---|---|---|",
        *("| " + " | ".join(r) + " |" for r in rows),
        "",
        "One sleep over the sample's 31 episodes with fake models (sleepcycle's own time): "
        f"before {_median(sleeps['before']):.0f} ms, after {_median(sleeps['after']):.0f} ms "
        f"(rounds: before {', '.join(f'{v:.0f}' for v in sleeps['before'])}; "
        f"after {', '.join(f'{v:.0f}' for v in sleeps['after'])}).",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        from report import write_section  # noqa: PLC0415

        write_section(ROOT / "docs" / "benchmarks.md", "seams", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
