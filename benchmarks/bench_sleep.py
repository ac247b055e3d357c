"""Sleep benchmark: one sleep over the bundled sample chat, with the models the config names.

    python benchmarks/bench_sleep.py                      # one run (~2 min on 2 cores)
    python benchmarks/bench_sleep.py --runs 3             # three fresh homes, and the spread
    python benchmarks/bench_sleep.py --config my.toml     # roles on another model
    python benchmarks/bench_sleep.py --no-write           # print only

Each run starts from a fresh home (``benchmarks/.cache/bench-sleep`` unless ``--home``; with
``--config`` that file is copied in as the home's ``config.toml`` first), ingests
``sleepcycle.samples.sample_path()`` (four days of Maya's chat: 31 turns and 3 thoughts),
embeds them, loads the role models (timed on their own), then runs ``mind.sleep()`` and a
second sleep that should find nothing to do. Measured:

1. wall time per stage (gather, crunch, dream, verify with its reshaping, persona, commit) and,
   from the sleep's call records, the model time inside each stage;
2. model calls, tokens in and out, model time and invalid replies per role;
3. proposals, rewrites, verdicts (with why the code checks failed them) and what was
   committed; model calls and tokens per accepted proposal, or per proposal the dreamer made
   (with the acceptance rate) when nothing was accepted;
4. the share of the sleep's wall time spent outside model calls, as the sleep reports it
   (``report.summary["outside_models_share"]``, stage time), end to end around
   ``mind.sleep()``, and for a cold start that also loads the model (target: under 5%);
5. the model load, the embedding model's first call and ``embed_pending``, and ingest.

Results are printed and written to ``docs/benchmarks.md`` between
``<!-- bench_sleep:start -->`` and ``<!-- bench_sleep:end -->``; the rest of that file
belongs to other scripts. A run whose sleep does not end done (a model that cannot be
reached, say) is printed but nothing is written. ``CpuMeter`` (from ``bench_store.py``)
records how busy other processes kept the CPU, since a sleep's time is mostly model time.
"""

from __future__ import annotations

import argparse
import re
import shlex
import shutil
import sqlite3
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import sleepcycle
from bench_store import CpuMeter, machine, table
from report import write_section
from sleepcycle.config import CONFIG_FILE, DATABASE_FILE
from sleepcycle.models.llama import bundled_model_path
from sleepcycle.records import Outcome
from sleepcycle.samples import sample_path
from sleepcycle.sleep.commit import CommitOutput
from sleepcycle.sleep.pipeline import STAGES
from sleepcycle.sleep.summary import SleepSummary
from sleepcycle.sleep.verify import VerifyOutput

NAME = "bench_sleep"
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_HOME = HERE / ".cache" / "bench-sleep"
DEFAULT_OUTPUT = ROOT / "docs" / "benchmarks.md"
AGENT = "maya"
SLEEP_ROLES = ("dreamer", "verifier", "reshaper", "foreground")  # the roles a sleep calls
TARGET_OUTSIDE = 0.05


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def clock(fn: Callable[[], Any]) -> tuple[Any, float]:
    """``fn()`` and the milliseconds it took."""
    started = time.perf_counter()
    value = fn()
    return value, (time.perf_counter() - started) * 1000


# one run ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RoleCalls:
    calls: int
    tokens_in: int
    tokens_out: int
    ms: float
    invalid: int  # replies that failed validation (asked again, or given up on)


@dataclass(slots=True)
class Run:
    """One run on a fresh home: setup timings, the sleep's summary and its call records."""

    home: Path
    models: dict[str, str]  # role -> model id
    open_ms: float = 0.0
    ingest_ms: float = 0.0
    episodes: int = 0
    thoughts: int = 0
    sessions: int = 0
    embedder_load_ms: float = 0.0  # MiniLM load and a one-text embed
    embed_ms: float = 0.0  # mind.embed_pending() on the ingested turns
    model_load_ms: dict[str, float] = field(default_factory=dict)  # model id -> ms
    engines: dict[str, str] = field(default_factory=dict)  # model id -> how it was loaded
    sleep_ms: float = 0.0  # around mind.sleep(), model already loaded
    idle_sleep_ms: float = 0.0  # the second sleep, nothing to do
    idle_outcome: str = ""
    outcome: str = ""
    error: str | None = None
    summary: SleepSummary = field(default_factory=SleepSummary)
    roles: dict[str, RoleCalls] = field(default_factory=dict)
    stage_model_ms: dict[str, float] = field(default_factory=dict)  # reshape counted in verify
    swaps: list[tuple[str, float]] = field(default_factory=list)  # model swaps the sleep journaled
    problems: Counter[str] = field(default_factory=Counter)  # code-check failures, by kind
    verifier_no: int = 0  # proposals the verifier model scored 0
    added: list[str] = field(default_factory=list)  # texts of memories the sleep added
    changed: list[str] = field(default_factory=list)

    @property
    def load_ms(self) -> float:
        return sum(self.model_load_ms.values())

    @property
    def wall_ms(self) -> float:
        return float(self.summary.wall_ms)

    @property
    def model_ms(self) -> float:
        return sum(r.ms for r in self.roles.values())

    @property
    def calls(self) -> int:
        return sum(r.calls for r in self.roles.values())

    @property
    def tokens(self) -> int:
        return sum(r.tokens_in + r.tokens_out for r in self.roles.values())

    @property
    def rewrites(self) -> int:
        return self.summary.rewrites

    @property
    def dreamt(self) -> int:
        """The dreamer's proposals: every proposal less the reshaper's rewrites of them."""
        return self.summary.proposed

    @property
    def accepted(self) -> int:
        return self.summary.accepted

    @property
    def outside_reported(self) -> float:
        return self.summary.outside_models_share or 0.0

    @property
    def outside_call(self) -> float:
        """Outside model calls, end to end around ``mind.sleep()`` (lock, setup, summary)."""
        return max(self.sleep_ms - self.model_ms, 0.0) / self.sleep_ms if self.sleep_ms else 0.0

    @property
    def outside_cold(self) -> float:
        """As ``outside_call`` for a process that must load the model first."""
        total = self.sleep_ms + self.load_ms
        return max(total - self.model_ms, 0.0) / total if total else 0.0


def reset_home(home: Path) -> None:
    if home.exists():
        if any(home.iterdir()) and not (home / DATABASE_FILE).exists():
            raise SystemExit(f"{home} is not a sleepcycle home; not deleting it")
        shutil.rmtree(home)
    home.mkdir(parents=True)


def call_records(db: Path, sleep_id: str) -> tuple[dict[str, RoleCalls], dict[str, float]]:
    """Per role (calls, tokens, ms, invalid replies) and model ms per stage, from the
    ``model_calls`` table (read only; reshaping happens inside the verify stage)."""
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        rows = conn.execute(
            "SELECT stage, role, COUNT(*), SUM(tokens_in), SUM(tokens_out), SUM(ms), "
            "SUM(error IS NOT NULL) FROM model_calls WHERE sleep_id = ? GROUP BY stage, role",
            (sleep_id,),
        ).fetchall()
    roles: dict[str, list[float]] = {}
    stages: dict[str, float] = {}
    for stage, role, calls, t_in, t_out, ms, invalid in rows:
        row = roles.setdefault(role, [0, 0, 0, 0.0, 0])
        for i, value in enumerate((calls, t_in, t_out, ms, invalid)):
            row[i] += value or 0
        where = "verify" if stage == "reshape" else stage
        stages[where] = stages.get(where, 0.0) + float(ms or 0)
    return (
        {
            role: RoleCalls(int(r[0]), int(r[1]), int(r[2]), float(r[3]), int(r[4]))
            for role, r in sorted(roles.items())
        },
        stages,
    )


def check_kind(problem: str) -> str:
    """A code-check failure without its particulars: ``not in the evidence: Lisbon (...)``
    gives ``not in the evidence``; ``it repeats memory mem_x ("...")`` gives ``it repeats``."""
    head = re.split(r"[:(\"]", problem, maxsplit=1)[0]
    head = re.sub(r"\b(memory|target) \S+", r"\1", head)
    return re.sub(r"\s+", " ", head).strip().rstrip(";,.") or problem


def verdict_tally(mind: sleepcycle.Mind, sleep_id: str) -> tuple[Counter[str], int]:
    """Why proposals failed, from the verify checkpoint: code-check failures by kind (every
    judged proposal, rewrites included), and how many the verifier model scored 0."""
    rows = [r for r in mind.store.sleeps.stages(sleep_id) if r.name == "verify" and r.checkpoint]
    if not rows:
        return Counter(), 0
    verified = VerifyOutput.model_validate_json(rows[0].checkpoint or "")
    problems = Counter(check_kind(c) for v in verified.verdicts for c in v.checks)
    return problems, sum(1 for v in verified.verdicts if v.score == 0)


def run_once(home: Path, config: Path | None, index: int) -> Run:
    reset_home(home)
    if config is not None:
        shutil.copyfile(config, home / CONFIG_FILE)
    mind, open_ms = clock(lambda: sleepcycle.open(home, AGENT))
    with mind:
        run = Run(home, {role: mind.models.role(role).model_id for role in SLEEP_ROLES})
        run.open_ms = open_ms
        report, run.ingest_ms = clock(lambda: mind.ingest(sample_path()))
        run.episodes, run.thoughts = report.episodes_added, report.thoughts_added
        run.sessions = len(report.sessions)
        _, run.embedder_load_ms = clock(lambda: mind.embedder.embed(["load the model"]))
        _, run.embed_ms = clock(mind.embed_pending)
        for role in SLEEP_ROLES:
            backend = mind.models.backend(role)
            if backend.model_id in run.model_load_ms:
                continue
            load = getattr(backend, "load", None)  # the embedded engine loads on first use
            if callable(load):
                run.model_load_ms[backend.model_id] = clock(load)[1]
                run.engines[backend.model_id] = f"`{type(backend).__name__}.load()`"
            else:  # a server: nothing to load here
                run.model_load_ms[backend.model_id] = 0.0
                run.engines[backend.model_id] = f"{type(backend).__name__}, nothing to load"
        log(f"run {index}: sleeping ({run.episodes} episodes, {run.thoughts} thoughts)")
        started = time.perf_counter()

        def progress(stage: str, event: str) -> None:
            if event != "start":
                log(f"  {stage} {event} at {time.perf_counter() - started:,.1f} s")

        slept, run.sleep_ms = clock(lambda: mind.sleep(progress=progress))
        run.outcome = str(slept.outcome)
        run.error = slept.sleep.error
        run.summary = slept.stats
        run.roles, run.stage_model_ms = call_records(home / DATABASE_FILE, slept.sleep.id)
        run.problems, run.verifier_no = verdict_tally(mind, slept.sleep.id)
        _, entries = mind.journal(slept.sleep.id)
        run.swaps = [
            (e.text, float(e.refs.get("ms", 0))) for e in entries if e.stage in ("swap", "wake")
        ]
        if slept.outcome is Outcome.DONE:
            diff = mind.diff(slept.sleep.id)
            run.added = [c.after.text for c in diff.added]
            run.changed = [c.after.text for c in diff.changed]
        idle, run.idle_sleep_ms = clock(mind.sleep)
        run.idle_outcome = str(idle.outcome)
    log(
        f"run {index}: {run.outcome} in {run.sleep_ms / 1000:,.1f} s; {run.dreamt} proposals, "
        f"{run.accepted} accepted; {run.calls} model calls, {run.tokens:,} tokens; "
        f"{run.outside_call:.1%} outside model calls"
    )
    return run


# the report -------------------------------------------------------------------------------


def spread(values: Sequence[float], fmt: Callable[[float], str]) -> str:
    """The value, or median (min-max) over several runs."""
    low, high = fmt(min(values)), fmt(max(values))
    if low == high:
        return low
    return f"{fmt(statistics.median(values))} ({low}-{high})"


def sec(ms: float) -> str:
    return f"{ms / 1000:,.2f}" if ms < 10_000 else f"{ms / 1000:,.1f}"


def num(value: float) -> str:
    return f"{value:,.0f}"


def pct(value: float) -> str:
    return f"{value:.1%}"


def _model_facts(runs: Sequence[Run]) -> list[tuple[str, str]]:
    try:
        llama = version("llama-cpp-python")
    except PackageNotFoundError:
        llama = "not installed"
    models = sorted({m for r in runs for m in r.models.values()})
    facts = [("llama-cpp-python", llama)]
    by_role = runs[0].models
    facts.append(("Role models", ", ".join(f"{role} {by_role[role]}" for role in SLEEP_ROLES)))
    if any(m == "SmolLM2-135M-Instruct.Q4_1" for m in models):
        path = bundled_model_path()
        facts.append(
            ("Bundled model", f"{path.name} ({path.stat().st_size / 2**20:,.0f} MiB GGUF)")
        )
    return facts


def _stage_rows(runs: Sequence[Run]) -> list[list[str]]:
    rows = []
    for stage in STAGES:
        walls = [float(r.summary.stage_ms.get(stage, 0)) for r in runs]
        models = [r.stage_model_ms.get(stage, 0.0) for r in runs]
        outside = [max(w - m, 0.0) for w, m in zip(walls, models, strict=True)]
        rows.append([stage, spread(walls, sec), spread(models, sec), spread(outside, sec)])
    extra = sorted({st for r in runs for st in r.stage_model_ms} - set(STAGES))
    for stage in extra:  # calls made outside the stages (e.g. a warm-up on waking)
        models = [r.stage_model_ms.get(stage, 0.0) for r in runs]
        rows.append([f"{stage} (outside the stages)", "-", spread(models, sec), "-"])
    walls = [r.wall_ms for r in runs]
    models = [sum(r.stage_model_ms.get(st, 0.0) for st in STAGES) for r in runs]
    rows.append(
        [
            "**all stages**",
            spread(walls, sec),
            spread(models, sec),
            spread([max(w - m, 0.0) for w, m in zip(walls, models, strict=True)], sec),
        ]
    )
    return rows


def _role_rows(runs: Sequence[Run]) -> list[list[str]]:
    roles = sorted({role for r in runs for role in r.roles})
    empty = RoleCalls(0, 0, 0, 0.0, 0)
    rows = []
    for role in [*roles, "all"]:
        picked = (
            [r.roles.get(role, empty) for r in runs]
            if role != "all"
            else [
                RoleCalls(
                    r.calls,
                    sum(c.tokens_in for c in r.roles.values()),
                    sum(c.tokens_out for c in r.roles.values()),
                    r.model_ms,
                    sum(c.invalid for c in r.roles.values()),
                )
                for r in runs
            ]
        )
        rows.append(
            [
                role if role != "all" else "**all**",
                spread([c.calls for c in picked], num),
                spread([c.tokens_in for c in picked], num),
                spread([c.tokens_out for c in picked], num),
                spread([c.ms for c in picked], sec),
                spread([c.tokens_out / (c.ms / 1000) if c.ms else 0.0 for c in picked], num),
                spread([c.invalid for c in picked], num),
            ]
        )
    return rows


def one_decimal(value: float) -> str:
    return f"{value:,.1f}"


def _per_memory(runs: Sequence[Run]) -> list[str]:
    accepted = [r.accepted for r in runs]
    dreamt = [r.dreamt for r in runs]
    rate = [r.accepted / r.dreamt if r.dreamt else 0.0 for r in runs]
    counts = f"{spread(accepted, num)} of {spread(dreamt, num)}"

    def per(value: Callable[[Run], float], count: Callable[[Run], int], fmt: Any) -> str:
        return spread([value(r) / count(r) if count(r) else 0.0 for r in runs], fmt)

    def costs(count: Callable[[Run], int]) -> str:
        return (
            f"{per(lambda r: r.calls, count, one_decimal)} model calls, "
            f"{per(lambda r: r.tokens, count, num)} tokens (in + out), "
            f"{per(lambda r: r.model_ms, count, sec)} s of model time"
        )

    committed = ", ".join(
        f"{spread([len(getattr(r.summary.committed or CommitOutput(), key)) for r in runs], num)} "
        + key.replace("_", " ")
        for key in ("added", "changed", "retracted", "superseded", "thoughts_parked")
    )
    if all(accepted):
        return [
            f"Per accepted proposal: {costs(lambda r: r.accepted)}; {counts} proposals were "
            f"accepted ({spread(rate, pct)}), and committed as: {committed}.",
        ]
    some = "" if not any(accepted) else f" in {accepted.count(0)} of {len(runs)} runs"
    return [
        f"**Nothing was accepted{some}**: every proposal the model made was rejected (by "
        "the code checks or the verifier, after reshaping), so there is no cost per accepted "
        f"memory to report. Per proposal the dreamer made instead: {costs(lambda r: r.dreamt)};"
        f" acceptance rate {spread(rate, pct)} ({counts}).",
    ]


def _verdict_line(runs: Sequence[Run]) -> str:
    def verifier(key: str) -> list[float]:
        return [float(getattr(r.summary.verifier, key)) for r in runs]

    rejected = [float(r.summary.rejections) for r in runs]
    judged = [float(r.dreamt + r.rewrites) for r in runs]
    checks = [j - a for j, a in zip(judged, verifier("asked"), strict=True)]
    return (
        f"Proposals: the dreamer made {spread([r.dreamt for r in runs], num)}, the reshaper "
        f"rewrote {spread([r.rewrites for r in runs], num)} of them, "
        f"{spread([r.accepted for r in runs], num)} were accepted and "
        f"{spread(rejected, num)} rejected. Of the {spread(judged, num)} judged (rewrites "
        f"included), {spread(checks, num)} failed the code checks (evidence cited, names and "
        "numbers grounded in it, third person, no repeats) before any model saw them; the "
        f"verifier model was asked about {spread(verifier('asked'), num)} and passed "
        f"{spread(verifier('passed'), num)}."
    )


def _op_count(run: Run, op: str, key: str) -> int:
    row = run.summary.operations.get(op)
    return 0 if row is None else int(getattr(row, key))


def _operations(runs: Sequence[Run]) -> list[list[str]]:
    ops = sorted({op for r in runs for op in r.summary.operations})
    rows = []
    for op in ops:
        cells = [op]
        for key in ("proposed", "accepted", "rejected"):
            cells.append(spread([float(_op_count(r, op, key)) for r in runs], num))
        rows.append(cells)
    return rows


def render(
    command: str, started: datetime, elapsed_s: float, others: float, runs: Sequence[Run]
) -> str:
    first = runs[0]
    n = len(runs)
    outside = [r.outside_reported for r in runs]
    worst = max(*outside, *(r.outside_call for r in runs))
    verdict = "met" if worst < TARGET_OUTSIDE else "not met"
    runs_note = (
        f"{n} runs, each on a fresh home; cells show the median and (min-max) where runs differ."
        if n > 1
        else "One run on a fresh home."
    )
    out = [
        f"## Sleep: one night over the sample chat (`benchmarks/{Path(__file__).name}`)",
        "",
        f"Command: `{command}`  ",
        f"Date: {started.strftime('%Y-%m-%d %H:%M UTC')} (took {elapsed_s / 60:.1f} min)",
        "",
        *table(
            ["Machine", ""],
            [
                *machine(),
                *_model_facts(runs),
                ("Other processes", f"{others:.1%} of the CPU during the run"),
            ],
        ),
        f"The night: `sleepcycle.samples.sample_path()` ({first.episodes} turns over "
        f"{first.sessions} sessions, {first.thoughts} thoughts) ingested into a fresh home, "
        "embedded, then one `mind.sleep()` with the roles on the models above. "
        f"{runs_note} Times are wall-clock seconds; model time is the sum of the call times "
        "the sleep records for each model call.",
        "",
        "### Stages",
        "",
        "Wall time per stage (`report.summary['stage_ms']`) against the model time inside it "
        "(from the sleep's call records; the reshaper's rewrites run inside verify).",
        "",
        *table(["stage", "wall s", "model s", "outside models s"], _stage_rows(runs)),
        "### Model calls per role",
        "",
        "Invalid: replies that failed validation against the schema (the role is asked again "
        "once, then the item is given up on).",
        "",
        *table(
            ["role", "calls", "tokens in", "tokens out", "model s", "tokens out/s", "invalid"],
            _role_rows(runs),
        ),
        "### What the night produced",
        "",
        _verdict_line(runs),
        "",
        *(
            table(
                ["operation (rewrites included)", "proposed", "accepted", "rejected"],
                _operations(runs),
            )
            if _operations(runs)
            else []
        ),
        *_per_memory(runs),
        "",
    ]
    if first.problems or first.verifier_no:
        rows = [[kind, str(n)] for kind, n in first.problems.most_common()]
        if first.verifier_no:
            rows.append(["the verifier model scored it 0", str(first.verifier_no)])
        out += [
            "Why proposals failed in run 1 (every judged proposal, rewrites included; one "
            "proposal can fail several checks):",
            "",
            *table(["failed check", "proposals"], rows),
        ]
    kept = first.added + first.changed
    if kept:
        out += [
            f"What run 1 committed ({len(first.added)} added, {len(first.changed)} changed):",
            "",
            *(f"- {text}" for text in kept[:8]),
            "",
        ]
    out += [
        "### Time outside model calls",
        "",
        *table(
            ["measure", "share of wall time"],
            [
                [
                    "stages, as the sleep reports it (`outside_models_share`)",
                    spread(outside, pct),
                ],
                [
                    "around `mind.sleep()`, model loaded (lock, checkpoints, summary included)",
                    spread([r.outside_call for r in runs], pct),
                ],
                [
                    "cold: model load + `mind.sleep()`",
                    spread([r.outside_cold for r in runs], pct),
                ],
            ],
        ),
        f"Target: under {TARGET_OUTSIDE:.0%} of a sleep's wall time outside model calls — "
        f"{verdict} (worst of the first two measures: {worst:.1%}). `mind.sleep()` took "
        f"{spread([r.sleep_ms for r in runs], sec)} s against "
        f"{spread([r.wall_ms for r in runs], sec)} s of stage time.",
        "",
        "### Setup",
        "",
        *table(
            ["step", "ms"],
            [
                ["`sleepcycle.open(home)`", spread([r.open_ms for r in runs], num)],
                ["`mind.ingest(sample_path())`", spread([r.ingest_ms for r in runs], num)],
                [
                    "embedding model: load + first `embed` (MiniLM, onnxruntime)",
                    spread([r.embedder_load_ms for r in runs], num),
                ],
                [
                    f"`mind.embed_pending()` ({first.episodes} turns, {first.thoughts} thoughts)",
                    spread([r.embed_ms for r in runs], num),
                ],
                *(
                    [
                        f"model load: {model} ({first.engines[model]})",
                        spread([r.model_load_ms.get(model, 0.0) for r in runs], num),
                    ]
                    for model in first.model_load_ms
                ),
                [
                    f"a second `mind.sleep()` ({first.idle_outcome})",
                    spread([r.idle_sleep_ms for r in runs], num),
                ],
            ],
        ),
    ]
    if first.swaps:
        out += [
            "Model swaps the sleep journaled (run 1; they happen between stages, so they are in "
            "the time around `mind.sleep()` but in no stage):",
            "",
            *(f"- {text}" for text, _ in first.swaps),
        ]
    return "\n".join(out).rstrip() + "\n"


# command line -----------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--home",
        type=Path,
        default=DEFAULT_HOME,
        help="the home to sleep in; deleted and made fresh for each run "
        f"(default {DEFAULT_HOME.relative_to(ROOT)})",
    )
    parser.add_argument(
        "--config", type=Path, help="a config.toml copied into the home (to use other models)"
    )
    parser.add_argument("--runs", type=int, default=1, help="runs on fresh homes (default 1)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="markdown report")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs: at least 1")
    if args.config is not None and not args.config.is_file():
        parser.error(f"--config: {args.config} is not a file")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    probe = CpuMeter()
    time.sleep(2)
    if probe.others() > 0.1:
        log(f"warning: other processes keep {probe.others():.0%} of the CPU busy; the numbers will")
        log("be skewed (the report says how busy they were during the run)")
    started, t0, meter = datetime.now(UTC), time.perf_counter(), CpuMeter()
    script = Path(__file__).resolve()
    shown = script.relative_to(ROOT) if script.is_relative_to(ROOT) else script
    command = shlex.join(["python", str(shown), *(sys.argv[1:] if argv is None else argv)])
    home: Path = args.home.resolve()
    runs = [run_once(home, args.config, i + 1) for i in range(args.runs)]
    body = render(command, started, time.perf_counter() - t0, meter.others(), runs)
    print(body)
    failed = [(i, r) for i, r in enumerate(runs, start=1) if r.outcome != str(Outcome.DONE)]
    if failed:
        index, run = failed[0]
        why = f": {run.error}" if run.error else ""
        raise SystemExit(
            f"run {index} ended {run.outcome}{why}; nothing written (the home's journal says "
            f"more: sleepcycle --home {run.home} --agent {AGENT} journal)"
        )
    if not args.no_write:
        write_section(args.output, NAME, body)
        log(f"wrote the {NAME} section of {args.output}")


if __name__ == "__main__":
    main()
