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
import os
import shlex
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sleepcycle
from locomo_data import (  # the harness's data API, for nights.py, quality.py and the tests
    DEFAULT_DATA,
    ROOT,
    load_locomo,
)
from locomo_recall import (
    KS,
    MODES,
    SCOPES,
    SECTION_INTRO,
    BuildStats,
    Report,
    RunStats,
    Scores,
    build_store,
    evidence_ceiling,
    pct,
    print_report,
    render_block,
    reset_home,
    retrieve,
    score,
    warm_up,
)
from locomo_sleep import (
    SLEEP_HOME_PREFIX,
    print_sleep_bench,
    render_sleep_block,
    run_sleep_bench,
)
from report import write_section

DEFAULT_HOME = ROOT / "benchmarks" / ".cache" / "locomo"
DEFAULT_DOCS = ROOT / "docs" / "benchmarks.md"


# command line ------------------------------------------------------------------------------


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
        reset_home(args.home)
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
                f"{mode}: R@{KS[0]} {pct(results[mode].overall[KS[0]])}, "
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


def write_docs(path: Path, block_name: str, block: str) -> None:
    """The ``locomo`` section (what is measured, how) and this run's own section after it."""
    write_section(path, "locomo", SECTION_INTRO)
    write_section(path, f"locomo-{block_name}", block)


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
            write_docs(args.docs, "sleep", render_sleep_block(bench))
            print(f"\nwrote the locomo-sleep section of {args.docs}")
        return 0
    report = run(args, command)
    print_report(report)
    if not args.no_docs:
        write_docs(args.docs, args.scope, render_block(report))
        print(f"\nwrote the locomo-{args.scope} section of {args.docs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
