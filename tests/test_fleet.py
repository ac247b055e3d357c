"""`sleepcycle fleet`: nights for many agents on a DBOS queue, run by worker processes.

Workers are real processes of the CLI, configured with the library's fake engine (a fixed
reply after a delay) and the hashing embedder, on both stores (the queue lives in the store's
database on PostgreSQL, in <home>/fleet.sqlite on SQLite)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import sleepcycle

BOTH_STORES = True
pytestmark = pytest.mark.slow

SCRIPT = str(Path(sys.executable).parent / "sleepcycle")

ADD = {
    "op": "add",
    "kind": "fact",
    "text": "The user lives in Lisbon with a dog.",
    "sources": ["e1"],
    "targets": [],
    "thought": "",
    "reason": "said so",
}


def config(dream_ms: int) -> str:
    def model(name: str, reply: object, delay: int) -> str:
        text = reply if isinstance(reply, str) else json.dumps(reply)
        return (
            f"[models.{name}]\nengine = \"fake\"\nreply = '{text}'\ndelay_ms = {delay}\n"
            'log = "calls.log"\n'
        )

    return "\n".join(
        [
            '[embedding]\nmodel = "hashing"\n[verify]\njudge = "reply"\n',
            '[sleep]\ndreamer = "model"\n',
            model("dreamer", {"operations": [ADD]}, dream_ms),
            model("verifier", {"score": 1, "reasons": "supported", "feedback": ""}, 10),
            model("quiet", {"updates": []}, 10),
            *(f'[roles.{r}]\nmodel = "{m}"\n' for r, m in [
                ("dreamer", "dreamer"), ("verifier", "verifier"), ("reshaper", "quiet"),
                ("foreground", "quiet"), ("sub", "quiet"),
            ]),
        ]
    )  # fmt: skip


def fleet(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SLEEPCYCLE_HOME": str(home), "COLUMNS": "200"}
    return subprocess.run(
        [SCRIPT, "fleet", *args], env=env, capture_output=True, text=True, check=check
    )


def worker(home: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "SLEEPCYCLE_HOME": str(home)}
    return subprocess.Popen(
        [SCRIPT, "fleet", "worker"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def status(home: Path) -> dict[str, object]:
    result: dict[str, object] = json.loads(fleet(home, "status", "--json").stdout)
    return result


def wait_for(home: Path, done: int, timeout: float = 120) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        now = status(home)
        if now["totals"]["done"] >= done:  # type: ignore[index]
            return now
        assert time.monotonic() < deadline, now
        time.sleep(0.5)


def record(home: Path, agents: list[str]) -> None:
    for agent in agents:
        with sleepcycle.open(home, agent) as mind:
            mind.record("user", "I live in Lisbon with my dog.")
            mind.record("user", "My sister visits on Sundays.")


def each_night_done_once(home: Path, agents: list[str]) -> None:
    """One done sleep per agent, every episode consolidated, the one memory not doubled."""
    for agent in agents:
        with sleepcycle.open(home, agent) as mind:
            sleeps = mind.sleeps()
            assert [s.outcome for s in sleeps] == [sleepcycle.Outcome.DONE], sleeps
            assert mind.status()["unconsolidated"] == 0
            assert [m.text for m in mind.memories()] == [ADD["text"]]


def calls_made_and_recorded(home: Path, agents: list[str]) -> tuple[int, int]:
    """Model calls the fake engine answered (its log, across processes), and the replies the
    store recorded for the agents' sleeps (what a resumed sleep replays instead of asking)."""
    made = len((home / "calls.log").read_text().splitlines())
    recorded = 0
    for agent in agents:
        with sleepcycle.open(home, agent) as mind:
            for sleep in mind.sleeps():
                totals = mind.store.calls.totals(sleep.id)
                recorded += sum(role["calls"] for role in totals.values())
    return made, recorded


def dreaming_since(home: Path, agents: list[str], proc: subprocess.Popen[str]) -> str:
    """Wait until one agent's sleep has started its dream stage (read from the store, not
    through `fleet status`, a process that takes a second or two to answer); its agent."""
    deadline = time.monotonic() + 120
    while True:
        for agent in agents:
            with sleepcycle.open(home, agent) as mind:
                sleep = mind.store.sleeps.running(agent)
                stages = mind.store.sleeps.stages(sleep.id) if sleep is not None else []
            if any(stage.name == "dream" and stage.ended is None for stage in stages):
                return agent
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)


def test_enqueue_deduplicates_per_agent_and_a_worker_runs_each_night_once(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(config(dream_ms=20))
    agents = ["ann", "bob", "cat"]
    record(home, agents)
    assert fleet(home, "status").stdout.startswith("no nights on the queue yet")
    first = json.loads(fleet(home, "enqueue", "--json").stdout)
    assert sorted(first["enqueued"]) == agents and first["already_waiting"] == []
    again = json.loads(fleet(home, "enqueue", "--agent", "ann", "--json").stdout)
    assert again["enqueued"] == [] and again["already_waiting"] == ["ann"]
    queued = status(home)
    assert queued["totals"] == {"queued": 3, "running": 0, "done": 0, "failed": 0}

    proc = worker(home)
    try:
        done = wait_for(home, 3)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert "stopped" in out
    assert done["totals"] == {"queued": 0, "running": 0, "done": 3, "failed": 0}
    each_night_done_once(home, agents)
    made, recorded = calls_made_and_recorded(home, agents)
    assert made == recorded > 0
    table = fleet(home, "status").stdout
    assert "3 done" in table and "ann" in table
    # Nothing new: enqueue finds no agent due.
    assert "nothing to enqueue" in fleet(home, "enqueue").stdout
    bad = fleet(home, "enqueue", "--agent", "no/such", check=False)
    assert bad.returncode == 2 and "invalid agent name" in bad.stderr


def test_a_worker_killed_mid_night_leaves_its_sleeps_to_another(home: Path) -> None:
    """kill -9 during the dreamer's call: the other worker recovers the night, the sleep
    resumes from its checkpoints, every night is done once, no memory is doubled and no
    recorded model call is asked again."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(config(dream_ms=3000))
    agents = ["ann", "bob"]
    record(home, agents)
    fleet(home, "enqueue")
    first = worker(home)
    dreaming_since(home, agents, first)
    time.sleep(0.5)  # inside the dreamer's 3 s call
    first.kill()
    first.communicate(timeout=30)
    assert status(home)["totals"]["done"] == 0  # type: ignore[index]

    second = worker(home)
    try:
        done = wait_for(home, 2)
    finally:
        second.send_signal(signal.SIGTERM)
        out, _ = second.communicate(timeout=60)
    assert "recovered 1 nights of 1 stopped worker(s)" in out, out
    assert done["totals"] == {"queued": 0, "running": 0, "done": 2, "failed": 0}
    each_night_done_once(home, agents)
    made, recorded = calls_made_and_recorded(home, agents)
    # The call the kill cut off had no reply to record, so it alone is asked again.
    assert made - recorded in (0, 1), (made, recorded)
