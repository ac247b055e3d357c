"""LoCoMo's ten conversations, each slept on the configured models, one row per conversation.

For every conversation: the night's active memories (how many, turns per memory) and evidence
recall at k through them, beside recall over the raw turns of the same conversation, and beside
a ceiling: LoCoMo's own reference observations (``observation`` in locomo10.json) proposed by a
dreamer that knows them (a ``FunctionModel``, in the cluster that shows their turns) and put
through the same sleep (code checks and the configured verifier, no rewrites), recalled the
same way. The ceiling is roughly what a perfect dreamer reaches with a third of the items.

    python benchmarks/nights.py                      # all ten, bundled default, into docs
    python benchmarks/nights.py --conversations conv-26,conv-30 --no-docs
    python benchmarks/nights.py --config my.toml     # any configured model

Homes are kept under ``benchmarks/.cache`` (``locomo-sleep-CONV`` as ``locomo.py --sleep``
uses, ``locomo-ceiling-CONV``); ``--fresh`` rebuilds them. Hybrid recall only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import locomo
import locomo_data
import locomo_recall
import locomo_sleep
import quality
import report
import sleepcycle
from sleepcycle.config import Config, load_config
from sleepcycle.grounding import fold
from sleepcycle.models import ChatRequest, FunctionModel

SECTION = "locomo-nights"
MOST = 20  # operations per cluster (the most sleep.max_operations allows)
KS = locomo_recall.KS


@dataclass(frozen=True, slots=True)
class Row:
    sample_id: str
    turns: int
    questions: int
    memories: int
    recall: dict[int, float]  # through the night's memories
    raw: dict[int, float]  # over the raw turns
    ceiling_memories: int
    ceiling: dict[int, float]
    slept_s: float
    calls: int
    tokens: int
    accepted: int


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _key(text: str) -> str:
    return re.sub(r"\s+", " ", fold(text)).strip()[:60]


def knowing_dreamer(found: Sequence[quality.Observation], turns: dict[str, str]) -> FunctionModel:
    """Proposes each reference observation once, in the first prompt that shows one of its
    turns, citing the labels of those it shows."""
    left = list(found)

    def reply(request: ChatRequest) -> dict[str, Any]:
        prompt = request.messages[-1]["content"]
        shown: dict[str, str] = {}
        for line in prompt.splitlines():
            match = re.match(r"^(e\d+)\. (.*)$", line)
            if match:
                shown[match.group(1)] = re.sub(r"\s+", " ", fold(match.group(2)))
        ops = []
        for o in list(left):
            cited = [
                label
                for t in o.turns
                for label, text in shown.items()
                if _key(turns[t]) and _key(turns[t])[:40] in text
            ]
            if cited and len(ops) < MOST:
                ops.append(
                    {"op": "add", "kind": "fact", "text": o.text, "sources": cited,
                     "targets": [], "thought": "", "reason": "reference observation"}
                )  # fmt: skip
                left.remove(o)
        return {"operations": ops}

    return FunctionModel(reply, model_id="reference-observations")


def _scores(
    mind: sleepcycle.Mind, questions: list[locomo_data.Question], scope: str
) -> dict[int, float]:
    locomo_recall.warm_up(mind, [mind.agent], scope)
    hits = locomo_recall.retrieve(
        mind,
        questions,
        scope=scope,
        mode="hybrid",
        k=max(KS),
        stats=locomo_recall.RunStats("hybrid"),
    )
    return dict(locomo_recall.score(questions, hits).overall)


def ceiling(
    sample: dict[str, Any],
    conversation: locomo_data.Conversation,
    questions: list[locomo_data.Question],
    config: Path | None,
    fresh: bool,
) -> tuple[int, dict[int, float]]:
    home = locomo_data.ROOT / "benchmarks" / ".cache" / f"locomo-ceiling-{conversation.sample_id}"
    locomo_sleep.prepare_home(home, config, fresh)
    found = quality.observations(sample, set(conversation.turn_ids))
    turns = {t.dia_id: t.content for s in conversation.sessions for t in s.turns}
    base = load_config(home).model_dump()
    base["sleep"].update(dreamer="model", reshape_rounds=0, max_operations=MOST)
    base["roles"].setdefault("dreamer", {})["max_tokens"] = 20 + 130 * MOST
    settings = Config.model_validate(base)
    agent = conversation.sample_id
    dreamer = knowing_dreamer(found, turns)
    with sleepcycle.open(home, agent, config=settings, backends={"dreamer": dreamer}) as mind:
        locomo_recall.build_store(mind, [conversation], locomo_recall.BuildStats(fresh=True))
        locomo_sleep.sleep_until_done(mind, 50)
        active = int(mind.status()["memories"].get("active", 0))
        return active, _scores(mind, questions, "memories")


def night(args: argparse.Namespace, sample_id: str) -> locomo_sleep.SleepBench:
    ns = argparse.Namespace(
        data=args.data, sleep=sample_id, sessions=None, home=None, config=args.config,
        fresh=args.fresh, max_sleeps=50, modes=["hybrid"],
    )  # fmt: skip
    return locomo_sleep.run_sleep_bench(ns, "nights")


def _pct(value: float) -> str:
    return f"{100 * value:.1f}"


def render(rows: list[Row], args: argparse.Namespace, seconds: float, command: str) -> str:
    head = ["conversation", "turns", "memories", "turns/memory"]
    head += [f"R@{k}" for k in KS] + ["raw R@10", "ceiling memories", "ceiling R@10", "sleep"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        per = f"{r.turns / r.memories:.1f}" if r.memories else "-"
        cells = [r.sample_id, str(r.turns), str(r.memories), per]
        cells += [_pct(r.recall[k]) for k in KS]
        cells += [_pct(r.raw[10]), str(r.ceiling_memories), _pct(r.ceiling[10])]
        cells.append(f"{r.slept_s / 60:.1f} min")
        lines.append("| " + " | ".join(cells) + " |")
    questions = sum(r.questions for r in rows) or 1

    def mean(pick: Any) -> float:  # weighted by questions, as one pooled score
        return sum(pick(r) * r.questions for r in rows) / questions

    turns = sum(r.turns for r in rows)
    memories = sum(r.memories for r in rows)
    total = ["**all**", str(turns), str(memories), f"{turns / max(1, memories):.1f}"]
    total += [f"**{_pct(mean(lambda r, k=k: r.recall[k]))}**" for k in KS]
    total += [_pct(mean(lambda r: r.raw[10])), str(sum(r.ceiling_memories for r in rows))]
    total += [_pct(mean(lambda r: r.ceiling[10])), f"{sum(r.slept_s for r in rows) / 60:.1f} min"]
    lines.append("| " + " | ".join(total) + " |")
    slept = sum(r.slept_s for r in rows)
    accepted = sum(r.accepted for r in rows)
    calls = sum(r.calls for r in rows)
    tokens = sum(r.tokens for r in rows)
    config = f"the config `{args.config}`" if args.config else "the default config (bundled models)"
    return "\n".join(
        [
            "## LoCoMo nights: every conversation slept on the defaults (`benchmarks/nights.py`)",
            "",
            f"`{command}` on {platform.machine()}, {os.cpu_count()} cores, "
            f"{datetime.now(UTC):%Y-%m-%d}, {config}; {seconds / 60:.0f} min in all.",
            "",
            "Evidence recall at k (hybrid) through each night's active memories (a question "
            "scores through the turns its retrieved memories cite), beside the raw turns of the "
            "same conversation and the ceiling: LoCoMo's reference observations proposed by a "
            "dreamer that knows them and put through the same sleep (code checks and the "
            "verifier, no rewrites). The **all** row pools the questions.",
            "",
            *lines,
            "",
            f"Throughput: {turns:,} turns in {slept / 60:.1f} min of sleep "
            f"({60 * turns / max(slept, 1e-9):.0f} turns per minute); {accepted:,} accepted "
            f"proposals from {calls:,} model calls and {tokens:,} tokens "
            f"({calls / max(1, accepted):.2f} calls and {tokens / max(1, accepted):,.0f} tokens "
            "per accepted memory).",
        ]
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=locomo_data.DEFAULT_DATA)
    parser.add_argument("--config", type=Path, help="a config.toml for the roles")
    parser.add_argument("--conversations", default="", help="comma-separated (default: all)")
    parser.add_argument("--fresh", action="store_true", help="rebuild the homes")
    parser.add_argument("--no-ceiling", action="store_true", help="skip the ceiling rows")
    parser.add_argument("--no-docs", action="store_true", help="print only")
    parser.add_argument("--docs", type=Path, default=locomo.DEFAULT_DOCS)
    args = parser.parse_args(argv)
    if args.config and not args.config.is_file():
        parser.error(f"--config: {args.config} is not a file")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    command = shlex.join(["python", "benchmarks/nights.py", *(argv or sys.argv[1:])])
    started = time.perf_counter()
    samples = {s["sample_id"]: s for s in json.loads(args.data.read_text(encoding="utf-8"))}
    conversations, all_questions = locomo_data.load_locomo(args.data)
    wanted = [c.strip() for c in args.conversations.split(",") if c.strip()]
    unknown = set(wanted) - set(samples)
    if unknown:
        raise SystemExit(f"--conversations: unknown {', '.join(sorted(unknown))}")
    rows: list[Row] = []
    for conversation in conversations:
        if wanted and conversation.sample_id not in wanted:
            continue
        sid = conversation.sample_id
        questions = [q for q in all_questions if q.sample_id == sid]
        _log(f"{sid}: sleeping")
        bench = night(args, sid)
        memories = dict(bench.results["memories"]["hybrid"].overall)
        raw = dict(bench.results["episodes"]["hybrid"].overall)
        ceiling_memories, ceiling_scores = 0, dict.fromkeys(KS, 0.0)
        if not args.no_ceiling:
            _log(f"{sid}: ceiling (reference observations through the sleep)")
            ceiling_memories, ceiling_scores = ceiling(
                samples[sid], conversation, questions, args.config, args.fresh
            )
        t = bench.totals
        rows.append(
            Row(sid, bench.episodes, len(questions), bench.active, memories, raw,
                ceiling_memories, ceiling_scores, t.wall_ms / 1000, t.calls,
                t.tokens_in + t.tokens_out, t.accepted)
        )  # fmt: skip
        _log(
            f"{sid}: {bench.active} memories for {bench.episodes} turns, R@10 "
            f"{_pct(memories[10])} (raw {_pct(raw[10])}, ceiling {_pct(ceiling_scores[10])})"
        )
    text = render(rows, args, time.perf_counter() - started, command)
    print(text)
    if not args.no_docs:
        report.write_section(args.docs, SECTION, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
