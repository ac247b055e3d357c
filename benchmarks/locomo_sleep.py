"""Consolidation on LoCoMo (``locomo.py --sleep CONV``): one conversation slept on until nothing is
left, scored through the memories' cited turns beside raw-turn recall, with what the sleeps cost.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import sleepcycle
from locomo_data import ROOT, Conversation, conversation_prefix, load_locomo
from locomo_recall import (
    KS,
    PAPER,
    BuildStats,
    RunStats,
    Scores,
    build_store,
    pct,
    reset_home,
    retrieve,
    score,
    table_row,
    turn_ids_by_episode,
    warm_up,
)
from sleepcycle import Mind
from sleepcycle.records import Outcome
from sleepcycle.sleep.commit import CommitOutput
from sleepcycle.sleep.pipeline import STAGES
from sleepcycle.sleep.summary import SleepSummary

SLEEP_HOME_PREFIX = "locomo-sleep-"  # + conversation (+ "-s<N>" for a prefix)
SLEEP_ROLES = ("dreamer", "verifier", "reshaper", "foreground")  # the roles a sleep calls


# consolidation quality: --sleep CONV ---------------------------------------------------------


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


def sum_sleeps(summaries: Iterable[SleepSummary]) -> SleepTotals:
    """Totals over the summaries of sleeps that ended done (``report.stats``).

    ``operations[op].proposed`` counts rewrites too (each is a new proposal), so the dreamer's
    own proposals are the proposed total less ``rewrites``."""
    out = SleepTotals()
    for s in summaries:
        out.sleeps += 1
        committed = s.committed or CommitOutput()
        out.episodes += committed.episodes
        out.added += len(committed.added)
        out.changed += len(committed.changed)
        ended = [*committed.retracted, *committed.superseded]
        out.retracted += len(committed.retracted)
        out.superseded += len(committed.superseded)
        out.repeated += len(ended) - len(set(ended))
        for op, row in s.operations.items():
            mine = out.operations.setdefault(op, {"proposed": 0, "accepted": 0, "rejected": 0})
            mine["proposed"] += row.proposed
            mine["accepted"] += row.accepted
            mine["rejected"] += row.rejected
            out.accepted += row.accepted
            out.rejected += row.rejected
        out.rewrites += s.rewrites
        out.dreamt += s.proposed
        out.verifier_asked += s.verifier.asked
        out.verifier_passed += s.verifier.passed
        out.wall_ms += s.wall_ms
        out.model_ms += s.model_ms
        for stage, ms in s.stage_ms.items():
            out.stage_ms[stage] = out.stage_ms.get(stage, 0.0) + ms
        for role, totals in s.tokens.items():
            mine_t = out.tokens.setdefault(role, {})
            for key, value in totals.model_dump().items():
                mine_t[key] = mine_t.get(key, 0) + float(value)
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
        reset_home(home)
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
        s = report.stats
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
            f"  sleep {ran} done in {s.wall_ms / 1000:,.0f} s: {totals.episodes} "
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
        summaries = [SleepSummary.model_validate(s.stats) for s in done]
        totals = sum_sleeps(summaries)
        per_sleep = [sum_sleeps([s]) for s in summaries]
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
    lines = [table_row(header), table_row("---" for _ in header)]
    for name, values in (
        ("paper: DRAGON over observations (all 10 conversations)", PAPER["observations"]),
        ("paper: DRAGON over dialog turns (all 10 conversations)", PAPER["dialog"]),
    ):
        lines.append(table_row([name, "-", *(f"{v:.1f}" for v in values)]))
    items = {"memories": f"{bench.active:,} memories", "episodes": f"{bench.episodes:,} turns"}
    label = {"memories": "consolidated memories", "episodes": "raw turns"}
    for scope, by_mode in bench.results.items():
        for mode, scores in by_mode.items():
            cells = (pct(scores.overall[k]) for k in KS)
            lines.append(table_row([f"sleepcycle {mode}, {label[scope]}", items[scope], *cells]))
    return lines


def sleep_tokens_table(t: SleepTotals) -> list[str]:
    header = ["role", "calls", "tokens in", "tokens out", "model time", "tokens out/s"]
    lines = [table_row(header), table_row("---" for _ in header)]
    for role, row in sorted(t.tokens.items()):
        out_s = row.get("tokens_out", 0) / (row["ms"] / 1000) if row.get("ms") else 0.0
        lines.append(
            table_row(
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
        table_row(
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
        f"so retrieving every one of them would reach {pct(bench.coverage)}% evidence recall.",
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
