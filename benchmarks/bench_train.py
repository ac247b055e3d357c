"""Training benchmark: a LoRA adapter learned from memories of the bundled sample chat.

    python benchmarks/bench_train.py                  # one training (~2-4 min on 2 cores)
    python benchmarks/bench_train.py --config my.toml # roles on another model
    python benchmarks/bench_train.py --no-write       # print only

A fresh home gets the sample chat and the memories a person would write down from it
(``FACTS``), marked deep as a sleep that passed them would (the bundled model's own sleep
accepts almost nothing, see bench_sleep). ``sleepcycle train`` then runs with the configured
models: the dreamer and verifier write and judge the questions, the foreground's GGUF is
trained. Measured: the dataset (pairs from the dreamer, pairs code made, probes), training time
per 100 examples per epoch and in all, probe and retention accuracy before and after, the
adapter's size, and the gate's decision.

Results are printed and written to ``docs/benchmarks.md`` between ``<!-- bench_train:start -->``
and ``<!-- bench_train:end -->``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sleepcycle
from report import write_section
from sleepcycle.config import CONFIG_FILE
from sleepcycle.samples import sample_path

ROOT = Path(__file__).resolve().parent.parent
AGENT = "maya"
FACTS = [
    "Maya is a UX designer at Brightline Studio in Manchester.",
    "Maya is allergic to peanuts.",
    "Maya's cat is called Pixel.",
    "Maya got a job as a senior product designer at Atlas Maps in Lisbon.",
    "Maya starts at Atlas Maps on 6 April.",
    "Maya lives in Alfama.",
    "Maya drinks green tea in the mornings.",
    "Maya's manager is Inês.",
]


def run(home: Path, config: Path | None) -> dict[str, Any]:
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    if config is not None:
        shutil.copyfile(config, home / CONFIG_FILE)
    with sleepcycle.open(home, AGENT) as mind:
        mind.ingest(sample_path())
        ids = [mind.add(text).id for text in FACTS]
        with mind.store.write() as tx:
            tx.memories.mark_deep(AGENT, ids)
        started = time.perf_counter()
        result = mind.train(progress=lambda text: print(f"  {text}", file=sys.stderr))
        wall = time.perf_counter() - started
        pairs = json.loads((home / "adapters" / AGENT / "pairs.json").read_text("utf-8"))
        return {
            "outcome": result.outcome,
            "wall": wall,
            "report": result.report,
            "models": {r: mind.models.role(r).model_id for r in ("dreamer", "verifier")},
            "pairs": pairs,
        }


def code_made(question: str) -> bool:
    return question.startswith(("Do you remember?", "Quick question:", "Fill in the blank:")) or (
        question.endswith(("what?", "where?"))
    )


def render(measured: dict[str, Any]) -> str:
    report = measured["report"]
    lines = [
        "## Training",
        "",
        f"`python benchmarks/bench_train.py` on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; dreamer {measured['models']['dreamer']}, verifier "
        f"{measured['models']['verifier']}. The sample chat and {len(FACTS)} memories a person "
        "would write down from it (marked deep, as a sleep that passed them would), then one "
        "`sleepcycle train`.",
        "",
    ]
    if "training" not in report:
        lines.append(f"Outcome: {measured['outcome']} ({report.get('reason', '')}).")
        return "\n".join(lines)
    data, trained = report["dataset"], report["training"]
    questions = [q for rows in measured["pairs"].values() for q, _ in rows]
    by_code = sum(code_made(q) for q in questions)
    probes, retention = report["probes"], report["retention"]
    decision = report["decision"]
    lines += [
        "| measure | value |",
        "|---|---|",
        f"| outcome | {measured['outcome']} |",
        f"| memories learned | {data['memories']} of {len(FACTS)} |",
        f"| question/answer pairs | {len(questions)}: {len(questions) - by_code} written by the "
        f"dreamer (and passed), {by_code} made by code |",
        f"| training examples | {trained['examples']} ({data['pairs']} from memories, "
        f"{data['replay']} replayed) |",
        f"| epochs | {trained['epochs']} |",
        f"| training time per 100 examples per epoch | {trained['seconds_per_100']} s |",
        f"| training time, loop and save | {trained['seconds']} s |",
        f"| base model load for training | {trained['load_seconds']} s |",
        f"| loss, first -> last epoch | {trained['first_loss']} -> {trained['last_loss']} |",
        f"| probe accuracy (held out) | {probes['before']['accuracy']:.0%} -> "
        f"{probes['after']['accuracy']:.0%} ({probes['after']['total']} probes) |",
        f"| retention accuracy | {retention['before']['accuracy']:.0%} -> "
        f"{retention['after']['accuracy']:.0%} ({retention['after']['total']} probes) |",
        f"| adapter size (GGUF, F32, rank {trained['rank']}) | "
        f"{trained['adapter_bytes'] / 2**20:.1f} MiB |",
        f"| whole `sleepcycle train` | {measured['wall']:.0f} s |",
        "",
        "Gate: " + "; ".join(decision["reasons"]) + ".",
        "",
        "Held-out probes, before -> after:",
        "",
    ]
    for before, after in zip(probes["before"]["scores"], probes["after"]["scores"], strict=True):
        mark = {True: "yes", False: "no"}
        lines.append(
            f"- {after['question']} ({after['answer']}): {mark[before['passed']]} -> "
            f'{mark[after["passed"]]}, "{after["reply"][:60]}"'
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, default=ROOT / "benchmarks/.cache/bench-train")
    parser.add_argument("--config", type=Path, help="a config.toml for the home")
    parser.add_argument("--output", type=Path, default=ROOT / "docs/benchmarks.md")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    measured = run(args.home, args.config)
    body = render(measured)
    print(body)
    if not args.no_write:
        write_section(args.output, "bench_train", body)


if __name__ == "__main__":
    main()
