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

Quality of consolidation (``--sleep CONV``): one conversation is ingested into its own home
(default ``benchmarks/.cache/locomo-sleep-<conv>``), ``mind.sleep()`` runs until it reports
nothing to do (one sleep takes at most ``sleep.max_episodes`` episodes, so a long conversation
needs several), and evidence recall is scored over the consolidated memories (through the turns
they cite) next to raw-turn recall on the same conversation. The roles run on whatever the
home's ``config.toml`` names; ``--config PATH`` copies a config into a new home first, so the
run can be repeated with a stronger model (for example an OpenAI-compatible server).
``--sessions N`` keeps only the first N sessions (and the questions whose evidence lies in
them). The result is the ``sleep`` block of the locomo section. Interrupted runs resume: run
the same command again (without ``--fresh``) and the unfinished sleep picks up where it stopped.

    python benchmarks/locomo.py --sleep conv-30
    python benchmarks/locomo.py --sleep conv-30 --config my-models.toml --fresh
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
from sleepcycle.records import Outcome
from sleepcycle.sleep.pipeline import STAGES

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "locomo" / "locomo10.json"
DEFAULT_HOME = ROOT / "benchmarks" / ".cache" / "locomo"
SLEEP_HOME_PREFIX = "locomo-sleep-"  # + conversation (+ "-s<N>" for a prefix)
DEFAULT_DOCS = ROOT / "docs" / "benchmarks.md"

KS = (5, 10, 25, 50)
MODES = ("hybrid", "bm25", "vector")
SCOPES = ("episodes", "memories", "both")
BLOCKS = (*SCOPES, "sleep")  # blocks of the docs section, in order
SLEEP_ROLES = ("dreamer", "verifier", "reshaper", "foreground")  # the roles a sleep calls
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
    """The whole ``locomo`` section with ``scope``'s block (a scope, or ``sleep``) replaced
    and the others kept."""
    blocks: dict[str, str] = {}
    for name in BLOCKS:
        start, end = _scope_markers(name)
        match = re.search(re.escape(start) + r"\n(.*?)" + re.escape(end), old_section, re.S)
        if match:
            blocks[name] = match.group(1)
    blocks[scope] = block
    parts = [SECTION_START, SECTION_INTRO]
    for name in BLOCKS:
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


# consolidation quality: --sleep CONV ---------------------------------------------------------


def conversation_prefix(
    conversation: Conversation, questions: Sequence[Question], sessions: int
) -> tuple[Conversation, list[Question]]:
    """The first ``sessions`` sessions, and the questions whose evidence all lies in them
    (a question citing a later turn could not be answered from the prefix; it is dropped)."""
    kept = Conversation(conversation.sample_id, conversation.sessions[:sessions])
    turns = kept.turn_ids
    return kept, [q for q in questions if q.evidence and set(q.evidence) <= turns]


@dataclass(slots=True)
class SleepTotals:
    """What a series of sleeps did, summed from their ``report.summary`` (``sleep.stats``)."""

    sleeps: int = 0  # sleeps that ended done
    episodes: int = 0  # episodes they consolidated
    dreamt: int = 0  # proposals from the dreamer (rewrites not counted)
    rewrites: int = 0  # proposals rewritten by the reshaper
    accepted: int = 0
    rejected: int = 0
    verifier_asked: int = 0
    verifier_passed: int = 0
    added: int = 0
    changed: int = 0
    retracted: int = 0
    superseded: int = 0
    repeated: int = 0  # retractions/supersessions of a memory the same sleep already ended
    wall_ms: float = 0.0
    model_ms: float = 0.0
    stage_ms: dict[str, float] = field(default_factory=dict)
    tokens: dict[str, dict[str, float]] = field(default_factory=dict)
    operations: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def acceptance(self) -> float:
        """Accepted over dreamt proposals (a rewrite is the same proposal again)."""
        return self.accepted / self.dreamt if self.dreamt else 0.0

    @property
    def outside_share(self) -> float:
        return max(self.wall_ms - self.model_ms, 0.0) / self.wall_ms if self.wall_ms else 0.0

    @property
    def calls(self) -> int:
        return int(sum(t.get("calls", 0) for t in self.tokens.values()))

    @property
    def tokens_in(self) -> int:
        return int(sum(t.get("tokens_in", 0) for t in self.tokens.values()))

    @property
    def tokens_out(self) -> int:
        return int(sum(t.get("tokens_out", 0) for t in self.tokens.values()))


def sum_sleeps(summaries: Iterable[Mapping[str, Any]]) -> SleepTotals:
    """Totals over the summaries of sleeps that ended done (``report.summary``).

    ``operations[op]["proposed"]`` counts rewrites too (each is a new proposal), so the
    dreamer's own proposals are the proposed total less ``rewrites``."""
    out = SleepTotals()
    for s in summaries:
        out.sleeps += 1
        committed = s.get("committed") or {}
        out.episodes += int(committed.get("episodes", 0))
        out.added += len(committed.get("added", ()))
        out.changed += len(committed.get("changed", ()))
        ended = [*committed.get("retracted", ()), *committed.get("superseded", ())]
        out.retracted += len(committed.get("retracted", ()))
        out.superseded += len(committed.get("superseded", ()))
        out.repeated += len(ended) - len(set(ended))
        proposed = 0
        for op, row in (s.get("operations") or {}).items():
            mine = out.operations.setdefault(op, {"proposed": 0, "accepted": 0, "rejected": 0})
            for key in mine:
                mine[key] += int(row.get(key, 0))
            proposed += int(row.get("proposed", 0))
            out.accepted += int(row.get("accepted", 0))
            out.rejected += int(row.get("rejected", 0))
        out.rewrites += int(s.get("rewrites", 0))
        out.dreamt += proposed - int(s.get("rewrites", 0))
        verifier = s.get("verifier") or {}
        out.verifier_asked += int(verifier.get("asked", 0))
        out.verifier_passed += int(verifier.get("passed", 0))
        out.wall_ms += float(s.get("wall_ms", 0))
        out.model_ms += float(s.get("model_ms", 0))
        for stage, ms in (s.get("stage_ms") or {}).items():
            out.stage_ms[stage] = out.stage_ms.get(stage, 0.0) + float(ms)
        for role, row in (s.get("tokens") or {}).items():
            mine_t = out.tokens.setdefault(role, {})
            for key, value in row.items():
                mine_t[key] = mine_t.get(key, 0) + float(value or 0)
    return out


def cited_turns(mind: Mind) -> frozenset[str]:
    """The LoCoMo turn ids that the agent's active memories cite."""
    turn_of = turn_ids_by_episode(mind)
    return frozenset(turn_of[s] for m in mind.memories() for s in m.sources if s in turn_of)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def prepare_home(home: Path, config: Path | None, fresh: bool) -> None:
    """Reset the home when asked, and put ``config`` in it as its config.toml before any
    sleep; refuse to swap the config of a home that already has a store (use --fresh)."""
    if fresh:
        _reset_home(home)
    if config is None:
        return
    text = config.read_text(encoding="utf-8")
    target = home / "config.toml"
    if target.exists() and target.read_text(encoding="utf-8") == text:
        return
    if (home / "sleepcycle.db").exists():
        raise SystemExit(
            f"{home} already holds a store made with another config; add --fresh to start over "
            f"with {config}"
        )
    home.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")


def sleep_until_done(mind: Mind, most: int) -> tuple[int, float]:
    """Sleep until a sleep has nothing to do; (sleeps run here, seconds). Resumes an unfinished
    sleep first. Stops with a message when a sleep fails, is interrupted or makes no progress."""
    started = time.perf_counter()
    for ran in range(1, most + 1):
        waiting = mind.status()["unconsolidated"]
        clock = time.perf_counter()

        def progress(stage: str, event: str, clock: float = clock) -> None:
            if event != "start":
                _log(f"    {stage} {event} at {time.perf_counter() - clock:,.0f} s")

        _log(f"  sleep {ran}: {waiting} unconsolidated episodes")
        report = mind.sleep(progress=progress)
        s = report.summary
        if report.outcome is Outcome.NOTHING_TO_DO:
            _log("  nothing to do: every episode is consolidated")
            return ran, time.perf_counter() - started
        if report.outcome is not Outcome.DONE:
            raise SystemExit(
                f"sleep {report.sleep.id} ended {report.outcome}: {report.sleep.error}; "
                "run the same command again to resume it"
            )
        totals = sum_sleeps([s])
        _log(
            f"  sleep {ran} done in {s.get('wall_ms', 0) / 1000:,.0f} s: {totals.episodes} "
            f"episodes, {totals.dreamt} proposals, {totals.accepted} accepted, "
            f"{totals.calls} model calls, {totals.tokens_in + totals.tokens_out:,} tokens"
        )
        if mind.status()["unconsolidated"] >= waiting > 0:
            raise SystemExit("a sleep consolidated no episodes; stopping rather than looping")
    raise SystemExit(f"still not done after {most} sleeps")


@dataclass(frozen=True, slots=True)
class SleepBench:
    command: str
    started: datetime
    load: tuple[float, float]
    conversation: Conversation
    full_sessions: int  # sessions in the whole conversation (a prefix keeps fewer)
    questions: int
    home: Path
    config: str  # where the config came from, in words
    models: Mapping[str, str]  # role -> model id
    max_episodes: int
    build: BuildStats
    slept_on: datetime | None  # when the first sleep that consolidated something began
    slept_here: int  # sleeps this run made (1 when the home was already consolidated)
    slept_s: float
    totals: SleepTotals
    per_sleep: Sequence[SleepTotals]  # each done sleep, oldest first
    memories: Mapping[str, int]  # status -> count
    episodes: int
    cited: int  # distinct turns the active memories cite
    coverage: float  # evidence recall if every memory were retrieved
    results: Mapping[str, Mapping[str, Scores]]  # scope -> mode -> scores

    @property
    def active(self) -> int:
        return self.memories.get("active", 0)


def run_sleep_bench(args: argparse.Namespace, command: str) -> SleepBench:
    started, load_start = datetime.now(UTC), os.getloadavg()[0]
    conversations, all_questions = load_locomo(args.data)
    found = [c for c in conversations if c.sample_id == args.sleep]
    if not found:
        known = ", ".join(c.sample_id for c in conversations)
        raise SystemExit(f"--sleep: no conversation {args.sleep!r} in {args.data} ({known})")
    conversation = found[0]
    questions = [q for q in all_questions if q.sample_id == args.sleep]
    if args.sessions:
        conversation, questions = conversation_prefix(conversation, questions, args.sessions)
    suffix = f"-s{args.sessions}" if args.sessions else ""
    home = args.home or ROOT / "benchmarks" / ".cache" / f"{SLEEP_HOME_PREFIX}{args.sleep}{suffix}"
    prepare_home(home, args.config, args.fresh)
    stats = BuildStats(fresh=not (home / "sleepcycle.db").exists())
    agent = conversation.sample_id
    with sleepcycle.open(home, agent) as mind:
        _log(f"ingesting {agent} into {home}")
        build_store(mind, [conversation], stats)
        models = {role: mind.models.role(role).model_id for role in SLEEP_ROLES}
        _log(f"sleeping with {models['dreamer']} (dreamer); this takes a while on a CPU")
        slept, slept_s = sleep_until_done(mind, args.max_sleeps)
        done = [s for s in mind.sleeps() if s.outcome is Outcome.DONE and not s.dry_run]
        done.reverse()  # oldest first
        totals = sum_sleeps(s.stats for s in done)
        per_sleep = [sum_sleeps([s.stats]) for s in done]
        cited = cited_turns(mind)
        coverage = score(questions, {i: [cited] for i in range(len(questions))}, ks=(1,))
        warm_up(mind, [agent], "both")
        results: dict[str, dict[str, Scores]] = {}
        for scope in ("memories", "episodes"):
            for mode in args.modes:
                hits = retrieve(
                    mind, questions, scope=scope, mode=mode, k=max(KS), stats=RunStats(mode)
                )
                results.setdefault(scope, {})[mode] = score(questions, hits)
        status = mind.status()
    return SleepBench(
        command=command,
        started=started,
        load=(load_start, os.getloadavg()[0]),
        conversation=conversation,
        full_sessions=len(found[0].sessions),
        questions=len(questions),
        home=home,
        config=(
            f"the config from `{args.config}` (copied into the home as config.toml)"
            if args.config
            else "the home's config.toml"
            if (home / "config.toml").exists()
            else "the default config (every role on the bundled model)"
        ),
        models=models,
        max_episodes=mind.config.sleep.max_episodes,
        build=stats,
        slept_on=done[0].started if done else None,
        slept_here=slept,
        slept_s=slept_s,
        totals=totals,
        per_sleep=per_sleep,
        memories=dict(status["memories"]),
        episodes=int(status["episodes"]),
        cited=len(cited),
        coverage=coverage.overall[1],
        results=results,
    )


def _minutes(ms: float) -> str:
    return f"{ms / 60_000:,.1f} min"


def sleep_recall_table(bench: SleepBench) -> list[str]:
    header = ["searched", "items", *(f"R@{k}" for k in KS)]
    lines = [_row(header), _row("---" for _ in header)]
    for name, values in (
        ("paper: DRAGON over observations (all 10 conversations)", PAPER["observations"]),
        ("paper: DRAGON over dialog turns (all 10 conversations)", PAPER["dialog"]),
    ):
        lines.append(_row([name, "-", *(f"{v:.1f}" for v in values)]))
    items = {"memories": f"{bench.active:,} memories", "episodes": f"{bench.episodes:,} turns"}
    label = {"memories": "consolidated memories", "episodes": "raw turns"}
    for scope, by_mode in bench.results.items():
        for mode, scores in by_mode.items():
            cells = (_pct(scores.overall[k]) for k in KS)
            lines.append(_row([f"sleepcycle {mode}, {label[scope]}", items[scope], *cells]))
    return lines


def sleep_tokens_table(t: SleepTotals) -> list[str]:
    header = ["role", "calls", "tokens in", "tokens out", "model time", "tokens out/s"]
    lines = [_row(header), _row("---" for _ in header)]
    for role, row in sorted(t.tokens.items()):
        out_s = row.get("tokens_out", 0) / (row["ms"] / 1000) if row.get("ms") else 0.0
        lines.append(
            _row(
                [
                    role,
                    f"{row.get('calls', 0):,.0f}",
                    f"{row.get('tokens_in', 0):,.0f}",
                    f"{row.get('tokens_out', 0):,.0f}",
                    _minutes(row.get("ms", 0)),
                    f"{out_s:.1f}",
                ]
            )
        )
    lines.append(
        _row(
            [
                "all",
                f"{t.calls:,}",
                f"{t.tokens_in:,}",
                f"{t.tokens_out:,}",
                _minutes(t.model_ms),
                "",
            ]
        )
    )
    return lines


def _per_accepted(t: SleepTotals) -> str:
    tokens = t.tokens_in + t.tokens_out
    if t.accepted:
        return (
            f"per accepted proposal: {t.calls / t.accepted:,.1f} model calls, "
            f"{tokens / t.accepted:,.0f} tokens, {t.model_ms / t.accepted / 1000:,.0f} s of "
            "model time"
        )
    if t.dreamt:
        return (
            "nothing was accepted, so per dreamt proposal instead: "
            f"{t.calls / t.dreamt:,.1f} model calls, {tokens / t.dreamt:,.0f} tokens"
        )
    return "the dreamer proposed nothing"


def render_sleep_block(bench: SleepBench) -> str:
    """The ``sleep`` block of the locomo section of docs/benchmarks.md."""
    t, conv = bench.totals, bench.conversation
    turns = sum(len(s.turns) for s in conv.sessions)
    first = next(iter(next(iter(bench.results.values())).values()))
    models = ", ".join(f"{role} {model}" for role, model in bench.models.items())
    prefix = (
        f" **Prefix only: the first {len(conv.sessions)} of {bench.full_sessions} sessions**, "
        "and only the questions whose evidence lies in them."
        if len(conv.sessions) < bench.full_sessions
        else ""
    )
    others = {status: n for status, n in bench.memories.items() if status != "active" and n}
    memories = "".join(f", {n:,} {status}" for status, n in sorted(others.items()))
    ops = "; ".join(
        f"{op} {row['proposed']} proposed / {row['accepted']} accepted"
        for op, row in sorted(t.operations.items())
    )
    stages = ", ".join(
        f"{stage} {t.stage_ms[stage] / 1000:,.0f} s" for stage in STAGES if stage in t.stage_ms
    )
    each = "; ".join(
        f"{s.episodes} episodes in {_minutes(s.wall_ms)}, {s.accepted} of {s.dreamt} accepted"
        for s in bench.per_sleep
    )
    here = (
        f" This run slept {bench.slept_here} times (the last one found nothing to do) in "
        f"{bench.slept_s / 60:,.1f} min of wall time, model loading included."
        if bench.slept_here > 1
        else ""
    )
    committed = (
        f"Committed: {t.added} added, {t.changed} changed, {t.retracted} retracted, "
        f"{t.superseded} superseded."
    )
    if t.repeated:
        committed += (
            f" {t.repeated} of the retractions and supersessions hit a memory that the same "
            "sleep had already retracted or superseded (verify checks a target against the "
            "store, not against what the night has already accepted, and commit applies each "
            "in turn), so the accepted count above overstates what the night decided."
        )
    lines = [
        f"### Sleep: {conv.sample_id} consolidated, then recalled through its memories",
        "",
        f"- Command: `{bench.command}`",
        f"- Date: {bench.started:%Y-%m-%d %H:%M} UTC; sleepcycle {sleepcycle.__version__}, "
        f"Python {platform.python_version()}, {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs (load average {bench.load[0]:.2f} at the start, "
        f"{bench.load[1]:.2f} at the end).",
        f"- Models: {bench.config}; {models}.",
        f"- Data: {conv.sample_id}, sessions {conv.sessions[0].number}-"
        f"{conv.sessions[-1].number}, {turns:,} turns; "
        f"{bench.questions} questions, {first.counted} scored.{prefix}",
        f"- Sleeps: {t.sleeps}"
        + (f", from {bench.slept_on:%Y-%m-%d %H:%M} UTC" if bench.slept_on else "")
        + " (one sleep consolidates at most `sleep.max_episodes` = "
        f"{bench.max_episodes} episodes), {t.episodes:,} episodes consolidated in "
        f"{_minutes(t.wall_ms)} of sleep ({stages}); {t.outside_share:.1%} of it outside "
        f"model calls. Each sleep: {each or 'none'}.{here}",
        f"- Proposals: the dreamer made {t.dreamt}, the reshaper rewrote {t.rewrites}; "
        f"{t.accepted} accepted ({t.acceptance:.1%} of the dreamt), {t.rejected} rejected. "
        f"The verifier model was asked about {t.verifier_asked} (passed "
        f"{t.verifier_passed}); the rest failed the code checks first. By operation, "
        f"rewrites included: {ops or 'none'}. {committed}",
        f"- Stored: {bench.active:,} active "
        f"{'memory' if bench.active == 1 else 'memories'}{memories} against "
        f"{bench.episodes:,} turns; the memories cite {bench.cited:,} distinct turns, "
        f"so retrieving every one of them would reach {_pct(bench.coverage)}% evidence recall.",
        f"- Cost: {t.calls:,} model calls, {t.tokens_in:,} tokens in and {t.tokens_out:,} out; "
        f"{_per_accepted(t)}.",
        "",
        "Model calls per role, all sleeps:",
        "",
        *sleep_tokens_table(t),
        "",
        f"Evidence recall (%) on {conv.sample_id} ({first.counted} questions). The paper's rows "
        "are over all ten conversations and are shown for scale; observations are the paper's "
        "per-session summaries generated by an LLM, the nearest thing in it to consolidated "
        "memories. A question scores through the turns its retrieved memories cite.",
        "",
        *sleep_recall_table(bench),
    ]
    if not t.accepted:
        lines += [
            "",
            "Nothing survived verification, so there are no memories to search and the memory "
            "rows are zero. That is this model's result, not a harness fault: run the command "
            "with `--config` naming a stronger model for every role to measure consolidation.",
        ]
    return "\n".join(lines) + "\n"


def print_sleep_bench(bench: SleepBench) -> None:
    t = bench.totals
    print()
    print(f"{bench.conversation.sample_id}: {t.sleeps} sleeps, {_minutes(t.wall_ms)}")
    print(
        f"proposals: {t.dreamt} dreamt, {t.rewrites} rewrites, {t.accepted} accepted "
        f"({t.acceptance:.1%}), {t.rejected} rejected; memories {dict(bench.memories)}, "
        f"turns {bench.episodes}"
    )
    print("\n".join(sleep_tokens_table(t)))
    print()
    print("\n".join(sleep_recall_table(bench)))


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
    parser.add_argument(
        "--home",
        type=Path,
        help=f"sleepcycle home (default {DEFAULT_HOME.relative_to(ROOT)}; with --sleep "
        f"benchmarks/.cache/{SLEEP_HOME_PREFIX}CONV)",
    )
    parser.add_argument("--fresh", action="store_true", help="delete and rebuild the store")
    parser.add_argument("--scope", choices=SCOPES, default="episodes")
    parser.add_argument(
        "--modes", default=",".join(MODES), help="comma-separated: hybrid,bm25,vector"
    )
    parser.add_argument("--conversations", default="", help="comma-separated sample ids")
    parser.add_argument("--docs", type=Path, default=DEFAULT_DOCS, help="file to write into")
    parser.add_argument("--no-docs", action="store_true", help="print only")
    sleep = parser.add_argument_group("consolidation quality (--sleep)")
    sleep.add_argument(
        "--sleep", metavar="CONV", help="ingest CONV, sleep until done, score its memories"
    )
    sleep.add_argument(
        "--config", type=Path, help="config.toml copied into the home before the first sleep"
    )
    sleep.add_argument("--sessions", type=int, help="only the first N sessions of CONV")
    sleep.add_argument(
        "--max-sleeps", type=int, default=50, help="give up after this many sleeps (50)"
    )
    args = parser.parse_args(argv)
    if (args.config or args.sessions) and not args.sleep:
        parser.error("--config and --sessions go with --sleep CONV")
    if args.sleep and args.conversations:
        parser.error("--sleep takes one conversation; leave out --conversations")
    if args.config and not args.config.is_file():
        parser.error(f"--config: {args.config} is not a file")
    if args.sessions is not None and args.sessions < 1:
        parser.error("--sessions: at least 1")
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
    args.home = args.home or DEFAULT_HOME
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
    if args.sleep:
        bench = run_sleep_bench(args, command)
        print_sleep_bench(bench)
        if not args.no_docs:
            update_docs(args.docs, "sleep", render_sleep_block(bench))
            print(f"\nwrote the sleep block of the locomo section of {args.docs}")
        return 0
    report = run(args, command)
    print_report(report)
    if not args.no_docs:
        update_docs(args.docs, args.scope, render_block(report))
        print(f"\nwrote the locomo section of {args.docs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
