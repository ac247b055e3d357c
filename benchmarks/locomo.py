"""LoCoMo evidence recall over raw turns: does recall find the turns that answer a question?

LoCoMo (Maharana et al., ACL 2024; CC BY-NC 4.0, evaluation only) has 10 long conversations
(272 sessions, 5,882 turns with ids like ``D3:12``) and 1,986 questions, each citing the turns
that hold its answer (``evidence``). This harness stores every conversation as episodes (one
agent per conversation, one session per LoCoMo session, the session's date and time as each
turn's time, the turn id in ``meta["dia_id"]``), asks every question with ``Mind.recall`` and
scores evidence recall at k = 5 / 10 / 25 / 50 the way the paper does (Table 3): per question,
the fraction of its evidence turn ids found among the retrieved items' source turn ids,
averaged over questions. The paper's DRAGON retriever over dialog turns scores
56.7 / 66.2 / 76.7 / 82.7.

Scoring goes through each hit's ``sources`` (episode ids, mapped back to turn ids), so the same
code scores consolidated memories (``--scope memories``) through the episodes they cite; an
episode hit's only source is itself.

The data is read in place (default ``../shared/data/locomo/locomo10.json`` from the repository
root, ``--data`` to change it), never copied. The store lives under ``benchmarks/.cache/locomo``
and is reused when present (ingest is idempotent); ``--fresh`` rebuilds it. Results go to the
``locomo`` section of ``docs/benchmarks.md``; other sections of that file are left alone.

    python benchmarks/locomo.py --fresh
    python benchmarks/locomo.py --modes hybrid --conversations conv-26
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import sys
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sleepcycle
from sleepcycle import Mind

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "locomo" / "locomo10.json"
DEFAULT_HOME = ROOT / "benchmarks" / ".cache" / "locomo"
DEFAULT_DOCS = ROOT / "docs" / "benchmarks.md"

KS = (5, 10, 25, 50)
MODES = ("hybrid", "bm25", "vector")
SCOPES = ("episodes", "memories", "both")
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
# Paper Table 3 (DRAGON retriever), overall evidence recall (%) at k = 5 / 10 / 25 / 50.
PAPER = {
    "dialog": (56.7, 66.2, 76.7, 82.7),
    "observations": (56.2, 61.3, 67.5, 71.2),
}

EVIDENCE_ID = re.compile(r"D\d+:\d+")
SESSION_KEY = re.compile(r"session_(\d+)")
DATE_FORMAT = "%I:%M %p on %d %B, %Y"  # "1:56 pm on 8 May, 2023"
TURN_STEP = timedelta(minutes=1)

SECTION_START = "<!-- locomo:start -->"
SECTION_END = "<!-- locomo:end -->"
DOCS_TITLE = "# Benchmarks\n"


# data --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Turn:
    dia_id: str
    speaker: str
    content: str
    time: datetime


@dataclass(frozen=True, slots=True)
class Session:
    number: int
    time: datetime
    turns: tuple[Turn, ...]

    @property
    def name(self) -> str:
        return f"session_{self.number}"


@dataclass(frozen=True, slots=True)
class Conversation:
    sample_id: str
    sessions: tuple[Session, ...]

    @property
    def turn_ids(self) -> frozenset[str]:
        return frozenset(t.dia_id for s in self.sessions for t in s.turns)


@dataclass(frozen=True, slots=True)
class Question:
    sample_id: str
    text: str
    category: int
    evidence: tuple[str, ...]  # normalised turn ids
    raw_evidence: tuple[str, ...] = ()


def normalise_evidence(raw: Iterable[str]) -> tuple[str, ...]:
    """Turn ids in ``raw``, in order, de-duplicated: ``re.findall(r"D\\d+:\\d+", ...)``.

    Packed entries split (``"D8:6; D9:17"`` gives both); entries with no well-formed id give
    none (``"D"`` and the mistyped ``"D:11:26"`` give nothing: ``D`` is not followed by a
    digit, and ``11:26`` has no ``D``); ``"D30:05"`` stays ``"D30:05"`` and so never matches
    the turn ``D30:5``.
    """
    ids = (found for entry in raw for found in EVIDENCE_ID.findall(entry))
    return tuple(dict.fromkeys(ids))


def parse_session_time(text: str) -> datetime:
    """``"1:56 pm on 8 May, 2023"`` as an aware UTC datetime."""
    return datetime.strptime(text.strip(), DATE_FORMAT).replace(tzinfo=UTC)


def turn_content(turn: Mapping[str, Any]) -> str:
    """The turn's text, with the caption of a shared image appended."""
    text = str(turn.get("text") or "").strip()
    caption = str(turn.get("blip_caption") or "").strip()
    if caption:
        text = f"{text} [shares a photo: {caption}]".strip()
    return text


def parse_conversation(sample: Mapping[str, Any]) -> Conversation:
    conv = sample["conversation"]
    numbers = sorted(
        int(m.group(1)) for key in conv if (m := SESSION_KEY.fullmatch(key)) and conv[key]
    )
    sessions = []
    for number in numbers:
        start = parse_session_time(conv[f"session_{number}_date_time"])
        turns = tuple(
            Turn(str(t["dia_id"]), str(t["speaker"]), turn_content(t), start + i * TURN_STEP)
            for i, t in enumerate(conv[f"session_{number}"])
        )
        sessions.append(Session(number, start, turns))
    return Conversation(str(sample["sample_id"]), tuple(sessions))


def parse_questions(sample: Mapping[str, Any]) -> list[Question]:
    return [
        Question(
            sample_id=str(sample["sample_id"]),
            text=str(qa["question"]),
            category=int(qa["category"]),
            evidence=normalise_evidence(qa.get("evidence") or ()),
            raw_evidence=tuple(qa.get("evidence") or ()),
        )
        for qa in sample["qa"]
    ]


def load_locomo(path: Path) -> tuple[list[Conversation], list[Question]]:
    """Conversations and questions from ``locomo10.json`` (or a file shaped like it)."""
    samples = json.loads(path.read_text(encoding="utf-8"))
    conversations = [parse_conversation(s) for s in samples]
    questions = [q for s in samples for q in parse_questions(s)]
    return conversations, questions


def conversation_messages(conversation: Conversation) -> list[dict[str, Any]]:
    """The conversation as messages for ``Mind.ingest_messages``: both speakers as users."""
    return [
        {
            "role": "user",
            "name": turn.speaker,
            "content": turn.content,
            "time": turn.time,
            "session": session.name,
            "meta": {"dia_id": turn.dia_id},
        }
        for session in conversation.sessions
        for turn in session.turns
        if turn.content
    ]


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


def _pct(value: float) -> str:
    return f"{100 * value:.1f}"


def _row(cells: Iterable[object]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def results_table(results: Mapping[str, Scores], scope: str) -> list[str]:
    header = ["retriever", *(f"R@{k}" for k in KS)]
    lines = [_row(header), _row("---" for _ in header)]
    paper = "observations" if scope == "memories" else "dialog"
    lines.append(_row([f"paper: DRAGON over {paper}", *(f"{v:.1f}" for v in PAPER[paper])]))
    for mode, scores in results.items():
        lines.append(_row([f"sleepcycle {mode}", *(_pct(scores.overall[k]) for k in KS)]))
    return lines


def category_table(results: Mapping[str, Scores]) -> list[str]:
    header = ["category (questions)", "retriever", *(f"R@{k}" for k in KS)]
    lines = [_row(header), _row("---" for _ in header)]
    first = next(iter(results.values()))
    for cat, count in first.by_category_count.items():
        label = f"{cat} {CATEGORIES.get(cat, '?')} ({count})"
        for mode, scores in results.items():
            values = scores.by_category[cat]
            lines.append(_row([label, mode, *(_pct(values[k]) for k in KS)]))
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
        f"Ceiling: {_pct(report.ceiling)}% of the evidence names a turn that exists "
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


def _scope_markers(scope: str) -> tuple[str, str]:
    return f"<!-- locomo:{scope}:start -->", f"<!-- locomo:{scope}:end -->"


def render_section(old_section: str, scope: str, block: str) -> str:
    """The whole ``locomo`` section with ``scope``'s block replaced and the others kept."""
    blocks: dict[str, str] = {}
    for name in SCOPES:
        start, end = _scope_markers(name)
        match = re.search(re.escape(start) + r"\n(.*?)" + re.escape(end), old_section, re.S)
        if match:
            blocks[name] = match.group(1)
    blocks[scope] = block
    parts = [SECTION_START, SECTION_INTRO]
    for name in SCOPES:
        if name in blocks:
            start, end = _scope_markers(name)
            parts.append(f"{start}\n{blocks[name]}{end}\n")
    parts.append(SECTION_END)
    return "\n".join(parts)


def replace_section(text: str, scope: str, block: str) -> str:
    """``text`` (the whole docs file) with only the ``locomo`` section rewritten."""
    start = text.find(SECTION_START)
    if start < 0:
        section = render_section("", scope, block)
        return text.rstrip("\n") + "\n\n" + section + "\n"
    end = text.find(SECTION_END, start)
    if end < 0:
        raise ValueError(f"{SECTION_START} without {SECTION_END}; fix the file by hand")
    end += len(SECTION_END)
    return text[:start] + render_section(text[start:end], scope, block) + text[end:]


def update_docs(path: Path, scope: str, block: str, attempts: int = 5) -> None:
    """Rewrite only our section; another script may be writing other sections at the same
    time, so read late, replace atomically and start over when the file changed meanwhile."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(attempts):
        before = path.read_text(encoding="utf-8") if path.exists() else None
        after = replace_section(before if before is not None else DOCS_TITLE, scope, block)
        temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        temp.write_text(after, encoding="utf-8")
        now = path.read_text(encoding="utf-8") if path.exists() else None
        if now == before:
            temp.replace(path)
            return
        temp.unlink()
        time.sleep(0.2)
    raise RuntimeError(f"{path} kept changing while writing; run again")


def print_report(report: Report) -> None:
    first = next(iter(report.results.values()))
    print()
    print(
        f"LoCoMo evidence recall, scope {report.scope}: {first.counted} questions scored, "
        f"{first.skipped} skipped (no evidence); ceiling {_pct(report.ceiling)}%"
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


# command line ------------------------------------------------------------------------------


def _reset_home(home: Path) -> None:
    if not home.exists():
        return
    if any(home.iterdir()) and not (home / "sleepcycle.db").exists():
        raise SystemExit(f"--fresh: {home} is not a sleepcycle home; not deleting it")
    shutil.rmtree(home)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="locomo10.json")
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME, help="sleepcycle home")
    parser.add_argument("--fresh", action="store_true", help="delete and rebuild the store")
    parser.add_argument("--scope", choices=SCOPES, default="episodes")
    parser.add_argument(
        "--modes", default=",".join(MODES), help="comma-separated: hybrid,bm25,vector"
    )
    parser.add_argument("--conversations", default="", help="comma-separated sample ids")
    parser.add_argument("--docs", type=Path, default=DEFAULT_DOCS, help="file to write into")
    parser.add_argument("--no-docs", action="store_true", help="print only")
    args = parser.parse_args(argv)
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = set(args.modes) - set(MODES)
    if unknown or not args.modes:
        parser.error(f"--modes: choose from {', '.join(MODES)}")
    return args


def run(args: argparse.Namespace, command: str) -> Report:
    started = datetime.now(UTC)
    load_start = os.getloadavg()[0]
    conversations, questions = load_locomo(args.data)
    if args.conversations:
        wanted = {c.strip() for c in args.conversations.split(",")}
        conversations = [c for c in conversations if c.sample_id in wanted]
        questions = [q for q in questions if q.sample_id in wanted]
        if not conversations:
            raise SystemExit(f"--conversations: none of {sorted(wanted)} in {args.data}")
    stats = BuildStats(fresh=args.fresh or not (args.home / "sleepcycle.db").exists())
    if args.fresh:
        _reset_home(args.home)
    runs: dict[str, RunStats] = {}
    results: dict[str, Scores] = {}
    with sleepcycle.open(args.home, conversations[0].sample_id) as mind:
        print(f"ingesting {len(conversations)} conversations into {args.home}", file=sys.stderr)
        build_store(mind, conversations, stats)
        items = 0
        for conv in conversations:
            status = mind.for_agent(conv.sample_id).status()
            items += (
                sum(status["memories"].values()) if args.scope == "memories" else status["episodes"]
            )
        if args.scope == "memories" and not items:
            print("no memories yet: no question gets a hit (consolidate first)", file=sys.stderr)
        warm_up(mind, (c.sample_id for c in conversations), args.scope)
        for mode in args.modes:
            run_stats = RunStats(mode)
            hits = retrieve(
                mind, questions, scope=args.scope, mode=mode, k=max(KS), stats=run_stats
            )
            runs[mode] = run_stats
            results[mode] = score(questions, hits)
            print(
                f"{mode}: R@{KS[0]} {_pct(results[mode].overall[KS[0]])}, "
                f"{run_stats.per_second:.0f} queries/s",
                file=sys.stderr,
            )
    return Report(
        command=command,
        scope=args.scope,
        data=args.data,
        conversations=len(conversations),
        sessions=sum(len(c.sessions) for c in conversations),
        questions=len(questions),
        build=stats,
        runs=runs,
        results=results,
        ceiling=evidence_ceiling(conversations, questions),
        items=items,
        started=started,
        load=(load_start, os.getloadavg()[0]),
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    shown = list(sys.argv[1:] if argv is None else argv)
    command = shlex.join(["python", "benchmarks/locomo.py", *shown])
    if not args.data.is_file():
        raise SystemExit(f"{args.data}: not found; pass --data path/to/locomo10.json")
    report = run(args, command)
    print_report(report)
    if not args.no_docs:
        update_docs(args.docs, args.scope, render_block(report))
        print(f"\nwrote the locomo section of {args.docs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
