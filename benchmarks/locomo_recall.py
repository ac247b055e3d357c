"""Evidence recall on LoCoMo: the store built from the conversations, questions asked through
``Mind.recall``, scored as the paper scores it, and the report of one scope.
"""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import sys
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import sleepcycle
from locomo_data import CATEGORIES, Conversation, Question, conversation_messages
from sleepcycle import Mind

KS = (5, 10, 25, 50)
MODES = ("hybrid", "bm25", "vector")
SCOPES = ("episodes", "memories", "both")
# Paper Table 3 (DRAGON retriever), overall evidence recall (%) at k = 5 / 10 / 25 / 50.
PAPER = {
    "dialog": (56.7, 66.2, 76.7, 82.7),
    "observations": (56.2, 61.3, 67.5, 71.2),
}


# store -------------------------------------------------------------------------------------


@dataclass(slots=True)
class BuildStats:
    fresh: bool = False
    turns: int = 0
    added: int = 0
    embedded: int = 0
    ingest_s: float = 0.0
    embed_s: float = 0.0


def build_store(mind: Mind, conversations: Sequence[Conversation], stats: BuildStats) -> None:
    """Ingest every conversation (one agent each) and embed what is pending."""
    for conv in conversations:
        agent = mind.for_agent(conv.sample_id)
        messages = conversation_messages(conv)
        started = time.perf_counter()
        report = agent.ingest_messages(messages)
        stats.ingest_s += time.perf_counter() - started
        stats.turns += len(messages)
        stats.added += report.episodes_added
        started = time.perf_counter()
        stats.embedded += agent.embed_pending()
        stats.embed_s += time.perf_counter() - started
        print(
            f"  {conv.sample_id}: {len(messages)} turns, {report.episodes_added} new",
            file=sys.stderr,
        )


def turn_ids_by_episode(mind: Mind) -> dict[str, str]:
    """Episode id -> LoCoMo turn id for the mind's agent."""
    return {
        ep.id: str(ep.meta["dia_id"]) for ep in mind.episodes() if ep.meta.get("dia_id") is not None
    }


# retrieval and scoring ---------------------------------------------------------------------

Retrieved = list[frozenset[str]]  # one question: each hit's source turn ids, best hit first


@dataclass(slots=True)
class RunStats:
    mode: str
    queries: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    empty: int = 0  # questions with no hits at all

    @property
    def per_second(self) -> float:
        return self.queries / self.seconds if self.seconds else 0.0


def retrieve(
    mind: Mind,
    questions: Sequence[Question],
    *,
    scope: str,
    mode: str,
    k: int,
    stats: RunStats,
) -> dict[int, Retrieved]:
    """Top-``k`` hits for each question (by index), as the turn ids each hit cites."""
    out: dict[int, Retrieved] = {}
    by_agent: dict[str, list[int]] = {}
    for index, q in enumerate(questions):
        by_agent.setdefault(q.sample_id, []).append(index)
    for sample_id, indexes in by_agent.items():
        agent = mind.for_agent(sample_id)
        turn_of = turn_ids_by_episode(agent)
        for index in indexes:
            started = time.perf_counter()
            result = agent.recall(questions[index].text, k=k, scope=scope, mode=mode)
            stats.seconds += time.perf_counter() - started
            stats.queries += 1
            stats.latencies_ms.append(result.elapsed_ms)
            stats.empty += not result.hits
            out[index] = [
                frozenset(turn_of[s] for s in hit.sources if s in turn_of) for hit in result.hits
            ]
    return out


def warm_up(mind: Mind, sample_ids: Iterable[str], scope: str) -> None:
    """One untimed recall per agent, so that loading the model and each agent's vector index
    is not counted as query time."""
    for sample_id in sample_ids:
        mind.for_agent(sample_id).recall("warm up", k=1, scope=scope, mode="hybrid")


def question_recall(
    evidence: Collection[str], retrieved: Sequence[Collection[str]], k: int
) -> float:
    """The fraction of ``evidence`` among the turn ids cited by the first ``k`` hits."""
    wanted = set(evidence)
    if not wanted:
        raise ValueError("a question without evidence cannot be scored; skip it")
    found = set().union(*retrieved[:k]) if retrieved else set()
    return len(wanted & found) / len(wanted)


@dataclass(frozen=True, slots=True)
class Scores:
    """Mean evidence recall (0..1) at each k, overall and per category."""

    overall: dict[int, float]
    by_category: dict[int, dict[int, float]]
    counted: int
    by_category_count: dict[int, int]
    skipped: int  # questions with no evidence


def score(
    questions: Sequence[Question],
    retrieved: Mapping[int, Sequence[Collection[str]]],
    ks: Sequence[int] = KS,
) -> Scores:
    """Evidence recall at each k, averaged over questions that have evidence.

    ``retrieved[i]`` holds, for question ``i``, the source turn-id sets of its hits, best first
    (a question that is missing has no hits).
    """
    per_k: dict[int, list[float]] = {k: [] for k in ks}
    per_cat: dict[int, dict[int, list[float]]] = {}
    skipped = 0
    for index, q in enumerate(questions):
        if not q.evidence:
            skipped += 1
            continue
        hits = retrieved.get(index, [])
        cat = per_cat.setdefault(q.category, {k: [] for k in ks})
        for k in ks:
            value = question_recall(q.evidence, hits, k)
            per_k[k].append(value)
            cat[k].append(value)
    categories = sorted(per_cat.items())
    return Scores(
        overall={k: _mean(v) for k, v in per_k.items()},
        by_category={c: {k: _mean(v) for k, v in cat.items()} for c, cat in categories},
        counted=len(questions) - skipped,
        by_category_count={c: len(cat[ks[0]]) for c, cat in categories},
        skipped=skipped,
    )


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def evidence_ceiling(conversations: Sequence[Conversation], questions: Sequence[Question]) -> float:
    """The best recall any retriever can reach: evidence ids that name an existing turn."""
    turns = {c.sample_id: c.turn_ids for c in conversations}
    everything = {i: [turns.get(q.sample_id, frozenset())] for i, q in enumerate(questions)}
    return score(questions, everything, ks=(1,)).overall[1]


# report ------------------------------------------------------------------------------------


def pct(value: float) -> str:
    return f"{100 * value:.1f}"


def table_row(cells: Iterable[object]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def results_table(results: Mapping[str, Scores], scope: str) -> list[str]:
    header = ["retriever", *(f"R@{k}" for k in KS)]
    lines = [table_row(header), table_row("---" for _ in header)]
    paper = "observations" if scope == "memories" else "dialog"
    lines.append(table_row([f"paper: DRAGON over {paper}", *(f"{v:.1f}" for v in PAPER[paper])]))
    for mode, scores in results.items():
        lines.append(table_row([f"sleepcycle {mode}", *(pct(scores.overall[k]) for k in KS)]))
    return lines


def category_table(results: Mapping[str, Scores]) -> list[str]:
    header = ["category (questions)", "retriever", *(f"R@{k}" for k in KS)]
    lines = [table_row(header), table_row("---" for _ in header)]
    first = next(iter(results.values()))
    for cat, count in first.by_category_count.items():
        label = f"{cat} {CATEGORIES.get(cat, '?')} ({count})"
        for mode, scores in results.items():
            values = scores.by_category[cat]
            lines.append(table_row([label, mode, *(pct(values[k]) for k in KS)]))
    return lines


@dataclass(frozen=True, slots=True)
class Report:
    command: str
    scope: str
    data: Path
    conversations: int
    sessions: int
    questions: int
    build: BuildStats
    runs: Mapping[str, RunStats]
    results: Mapping[str, Scores]
    ceiling: float
    items: int  # episodes (or memories) searched
    started: datetime
    load: tuple[float, float]  # 1-minute load average at the start and at the end


def render_block(report: Report) -> str:
    """This scope's part of the ``locomo`` section of docs/benchmarks.md."""
    b = report.build
    first = next(iter(report.results.values()))
    store = "built fresh" if b.fresh else "reused (ingest added what was missing)"
    lines = [
        f"### Scope: {report.scope}",
        "",
        f"- Command: `{report.command}`",
        f"- Date: {report.started:%Y-%m-%d %H:%M} UTC; sleepcycle {sleepcycle.__version__}, "
        f"Python {platform.python_version()}, {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs (load average {report.load[0]:.2f} at the start, "
        f"{report.load[1]:.2f} at the end); embeddings all-MiniLM-L6-v2 (int8, onnxruntime CPU).",
        f"- Data: {report.conversations} conversations, {report.sessions} sessions, "
        f"{b.turns:,} turns; {report.questions:,} questions, {first.counted:,} scored, "
        f"{first.skipped} skipped (no evidence). Searched: {report.items:,} {report.scope}.",
        f"- Store {store}: ingest {b.ingest_s:.2f} s for {b.added:,} new episodes"
        + (f" ({b.added / b.ingest_s:,.0f}/s)" if b.added and b.ingest_s else "")
        + f"; embedding {b.embed_s:.1f} s for {b.embedded:,} items"
        + (f" ({b.embedded / b.embed_s:,.0f}/s)" if b.embedded and b.embed_s else "")
        + ".",
        "- Queries (top 50, one at a time, after one untimed query per agent): "
        + "; ".join(
            f"{mode} {run.per_second:,.0f} queries/s "
            f"(median {statistics.median(run.latencies_ms or [0]):.1f} ms)"
            for mode, run in report.runs.items()
        )
        + ".",
        "",
        "Evidence recall (%), all scored questions:",
        "",
        *results_table(report.results, report.scope),
        "",
        "Per category:",
        "",
        *category_table(report.results),
        "",
        f"Ceiling: {pct(report.ceiling)}% of the evidence names a turn that exists "
        "(a few ids point at missing turns, e.g. `D30:05`; `D:11:26` normalises to nothing).",
    ]
    empty = {mode: run.empty for mode, run in report.runs.items() if run.empty}
    if empty:
        lines += ["", f"Questions with no hits at all: {empty}."]
    return "\n".join(lines) + "\n"


SECTION_INTRO = """\
## LoCoMo: evidence recall

`benchmarks/locomo.py` stores each LoCoMo conversation (locomo10.json, CC BY-NC 4.0, read in
place, evaluation only) as episodes of its own agent, one session per LoCoMo session, and asks
all 1,986 questions. Score, as in the paper (Maharana et al., ACL 2024, Table 3): per question,
the fraction of its evidence turn ids (`re.findall(r"D\\d+:\\d+", ...)`, de-duplicated) found
among the source turn ids of the top-k hits, averaged over the questions that have evidence.
Hits are scored through their `sources`, so a memory counts the turns it cites.
"""


def print_report(report: Report) -> None:
    first = next(iter(report.results.values()))
    print()
    print(
        f"LoCoMo evidence recall, scope {report.scope}: {first.counted} questions scored, "
        f"{first.skipped} skipped (no evidence); ceiling {pct(report.ceiling)}%"
    )
    print("\n".join(results_table(report.results, report.scope)))
    print()
    print("\n".join(category_table(report.results)))
    b = report.build
    print()
    print(
        f"ingest {b.ingest_s:.2f} s ({b.added} new of {b.turns} turns), "
        f"embedding {b.embed_s:.1f} s ({b.embedded} items)"
    )
    for mode, run in report.runs.items():
        print(f"{mode}: {run.queries} queries in {run.seconds:.1f} s, {run.per_second:.0f}/s")


def reset_home(home: Path) -> None:
    """Delete a benchmark home (--fresh), refusing a directory that is not one."""
    if not home.exists():
        return
    if any(home.iterdir()) and not (home / "sleepcycle.db").exists():
        raise SystemExit(f"--fresh: {home} is not a sleepcycle home; not deleting it")
    shutil.rmtree(home)
