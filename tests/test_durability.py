"""Interrupt safety: kill -9 mid-stage, wake requests, SIGTERM, and the per-agent lock."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from sleepcycle import LockedError, MemoryStatus, Mind, MiniLMEmbedder
from sleepcycle.records import Outcome, SleepStatus
from sleepkit import Intent, dreamer, night, open_mind, verifier

TESTS = Path(__file__).parent

FACTS = [
    Intent("add", "Maya has a grey cat called Pixel.", sources=["Pixel, my grey cat"]),
    Intent("add", "Maya lives in Alfama, Lisbon.", sources=["I live in Alfama"]),
    Intent("add", "Maya drinks green tea in the mornings.", sources=["green tea"]),
    Intent("add", "Maya got the job at Atlas Maps.", sources=["GOT THE JOB"]),
]

SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from sleepcycle import MiniLMEmbedder
    from sleepkit import dreamer, open_mind, verifier
    from test_durability import FACTS

    home = Path(sys.argv[1])
    marker = home / "verifier-calls"

    def judge(text):
        n = int(marker.read_text()) if marker.exists() else 0
        marker.write_text(str(n + 1))
        if n + 1 == {crash_at}:
            import ctypes
            ctypes.string_at(0)  # a native crash, as a model engine's SIGSEGV
        time.sleep({pause} if n + 1 >= {hang_at} else 0.05)
        return 1

    mind = open_mind(home, MiniLMEmbedder(home / "cache"), dreamer=dreamer(*FACTS),
                     verifier=verifier(judge))
    report = mind.sleep()
    print(report.outcome.value, flush=True)
    """
)


def start_sleep(
    home: Path, *, hang_at: int, pause: float, crash_at: int = 0
) -> subprocess.Popen[str]:
    script = home / "sleeper.py"
    script.write_text(
        SCRIPT.format(tests=str(TESTS), hang_at=hang_at, pause=pause, crash_at=crash_at)
    )
    return subprocess.Popen(
        [sys.executable, str(script), str(home)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(TESTS)},
    )


def wait_for_calls(home: Path, n: int, proc: subprocess.Popen[str], timeout: float = 120) -> None:
    marker = home / "verifier-calls"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if marker.exists() and marker.read_text() and int(marker.read_text()) >= n:
            return
        if proc.poll() is not None:
            raise AssertionError(f"the sleep ended early: {proc.communicate()}")
        time.sleep(0.05)
    raise AssertionError("the sleep never got that far")


def call_keys(home: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(home / "sleepcycle.db")
    try:
        return conn.execute(
            "SELECT role, call_key FROM model_calls WHERE error IS NULL AND stage != 'wake' "
            "ORDER BY seq"
        ).fetchall()
    finally:
        conn.close()


def test_kill_9_mid_stage_then_resume(home: Path, embedder: MiniLMEmbedder) -> None:
    setup = open_mind(home, embedder)
    night(setup)
    setup.close()
    proc = start_sleep(home, hang_at=3, pause=60)
    wait_for_calls(home, 3, proc)  # two verdicts recorded, the third call in flight
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    before = call_keys(home)
    assert [role for role, _ in before] == ["dreamer", "verifier", "verifier"]

    resumed_dreamer, resumed_verifier = dreamer(*FACTS), verifier()
    mind = open_mind(home, embedder, dreamer=resumed_dreamer, verifier=resumed_verifier)
    assert mind.store.sleeps.unfinished(mind.agent) is not None
    assert mind.memories() == []  # nothing was committed before the kill
    report = mind.sleep()
    assert report.outcome is Outcome.DONE, report.sleep.error
    assert resumed_dreamer.requests == []  # the dream stage was checkpointed
    assert len(resumed_verifier.requests) == 2  # only the two verdicts never recorded
    after = call_keys(home)
    assert len(after) == len(set(after)) == 6  # dreamer, 4 verdicts, persona: none twice
    assert after[:3] == before
    texts = sorted(m.text for m in mind.memories())
    assert texts == sorted(i.text for i in FACTS)  # no duplicates
    assert mind.episodes(unconsolidated=True) == []
    (only,) = mind.sleeps()
    assert only.id == report.sleep.id and only.status is SleepStatus.DONE
    # The journal says the run was cut off, where, and what the resume kept.
    _, entries = mind.journal()
    (cut,) = [e for e in entries if e.kind == "interrupted"]
    assert cut.stage == "resume" and cut.refs["cause"] == "ended"
    assert cut.refs["stage"] == "verify" and cut.refs["pid"] == proc.pid
    assert f"sleep {only.id} was cut off during verify" in cut.text
    assert f"process {proc.pid}" in cut.text and "ended without finishing" in cut.text
    (resumed,) = [e for e in entries if e.kind == "resumed"]
    assert "finished stages up to dream kept" in resumed.text
    assert "2 model calls of verify replayed" in resumed.text
    assert entries.index(cut) < entries.index(resumed) < len(entries) - 1
    assert report.summary["interruptions"] == [cut.text]
    assert mind.interrupted() is None
    assert mind.sleep().outcome is Outcome.NOTHING_TO_DO
    mind.close()


def test_a_native_crash_is_named_when_the_sleep_resumes(
    home: Path, embedder: MiniLMEmbedder
) -> None:
    """A SIGSEGV in native code (as llama.cpp's AMX kernel gave) kills the process with no
    Python exception; its traceback goes to a crash log, which the resume reads."""
    setup = open_mind(home, embedder)
    night(setup)
    setup.close()
    proc = start_sleep(home, hang_at=99, pause=0, crash_at=2)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGSEGV, err
    logs = list((home / "crashes").glob("*.log"))
    assert len(logs) == 1 and "Segmentation fault" in logs[0].read_text()

    mind = open_mind(home, embedder, dreamer=dreamer(*FACTS), verifier=verifier())
    gap = mind.interrupted()
    assert gap is not None and gap.cause == "crashed" and gap.stage == "verify"
    assert gap.detail is not None and gap.detail.startswith("Segmentation fault in ")
    assert gap.detail.endswith("ctypes/__init__.py:string_at")  # the innermost Python frame
    assert mind.status()["interrupted"] == gap.summary
    assert "crashed during verify" in gap.summary and str(logs[0]) in gap.summary
    assert mind.memories() == []
    report = mind.sleep()
    assert report.outcome is Outcome.DONE and len(mind.memories()) == 4
    _, entries = mind.journal()
    (cut,) = [e for e in entries if e.kind == "interrupted"]
    assert cut.text == gap.summary and cut.refs["crash_log"] == str(logs[0])
    assert mind.interrupted() is None
    mind.close()


def test_kill_during_commit_leaves_memory_consistent(home: Path, embedder: MiniLMEmbedder) -> None:
    """A crash inside the commit transaction rolls it back whole; the rerun commits once."""
    mind = open_mind(home, embedder, dreamer=dreamer(*FACTS), verifier=verifier())
    night(mind)
    from sleepcycle.sleep.apply import Applier

    original = Applier.apply
    calls = {"n": 0}

    def crash_after_two(self: Applier, p: object) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("simulated crash inside the transaction")
        original(self, p)  # type: ignore[arg-type]

    Applier.apply = crash_after_two  # type: ignore[method-assign]
    try:
        with pytest.raises(KeyboardInterrupt):
            mind.sleep()
    finally:
        Applier.apply = original  # type: ignore[method-assign]
    assert mind.memories() == []
    assert len(mind.episodes(unconsolidated=True)) == 7
    report = mind.sleep()
    assert report.outcome is Outcome.DONE
    assert len(mind.memories()) == 4
    mind.close()


def test_wake_stops_at_a_safe_point_and_the_next_sleep_resumes(
    home: Path, embedder: MiniLMEmbedder
) -> None:
    holder: dict[str, object] = {}

    def judge(text: str) -> int:
        if "woke" not in holder:
            holder["woke"] = holder["mind"].wake()  # type: ignore[attr-defined]
        return 1

    first_verifier = verifier(judge)
    mind = open_mind(home, embedder, dreamer=dreamer(*FACTS), verifier=first_verifier)
    holder["mind"] = mind
    night(mind)
    report = mind.sleep()
    assert holder["woke"] == report.sleep.id
    assert report.outcome is Outcome.INTERRUPTED
    assert report.sleep.status is SleepStatus.INTERRUPTED
    assert len(first_verifier.requests) == 1
    assert mind.memories() == [] and len(mind.episodes(unconsolidated=True)) == 7
    _, entries = mind.journal()
    summaries = [e.text for e in entries if e.kind == "summary"]
    assert "sleep again to resume" in summaries[-1]
    assert entries[-1].text.startswith("warmed up the foreground")  # the day came back
    mind.close()

    second_verifier = verifier()
    mind = open_mind(home, embedder, dreamer=dreamer(*FACTS), verifier=second_verifier)
    gap = mind.interrupted()
    assert gap is not None and gap.cause == "woken" and gap.sleep_id == report.sleep.id
    assert "was stopped by a wake request during verify" in gap.summary
    resumed = mind.sleep()
    assert resumed.sleep.id == report.sleep.id and resumed.outcome is Outcome.DONE
    assert len(second_verifier.requests) == 3  # the first verdict was replayed
    assert len(mind.memories()) == 4
    mind.close()


def test_sigterm_stops_the_sleep_process(home: Path, embedder: MiniLMEmbedder) -> None:
    setup = open_mind(home, embedder)
    night(setup)
    setup.close()
    proc = start_sleep(home, hang_at=1, pause=2)
    wait_for_calls(home, 1, proc)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.strip() == "interrupted"
    mind = open_mind(home, embedder, dreamer=dreamer(*FACTS), verifier=verifier())
    assert all(m.status is MemoryStatus.ACTIVE for m in mind.memories())
    assert mind.memories() == []
    assert mind.sleep().outcome is Outcome.DONE
    mind.close()


def held_by_another_process(mind: Mind) -> subprocess.Popen[bytes]:
    """The agent's sleep lock taken by a running process of this host."""
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    with mind.store.write() as tx:
        tx.ensure_agent(mind.agent)
        tx.locks.take(mind.agent, "slp_other", other.pid, socket.gethostname())
    return other


def test_one_sleep_per_agent(home: Path, embedder: MiniLMEmbedder) -> None:
    mind = open_mind(home, embedder, dreamer=dreamer(*FACTS), verifier=verifier())
    night(mind)
    other = held_by_another_process(mind)
    try:
        with pytest.raises(LockedError, match="already asleep"):
            mind.sleep()
    finally:
        other.kill()
        other.wait()
    # The holder is gone now: its lock is stale and the next sleep takes it over.
    assert mind.sleep().outcome is Outcome.DONE
    mind.close()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="zombies are read from /proc")
def test_a_holder_that_ended_but_is_not_yet_reaped_holds_nothing(
    home: Path, embedder: MiniLMEmbedder
) -> None:
    """A killed holder whose parent has not waited for it yet (a zombie) still answers
    signal 0; its lock is gone all the same."""
    mind = open_mind(home, embedder, dreamer=dreamer(*FACTS), verifier=verifier())
    night(mind)
    other = held_by_another_process(mind)
    try:
        os.kill(other.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while "Z" not in Path(f"/proc/{other.pid}/stat").read_text().rpartition(")")[2][:3]:
            assert time.monotonic() < deadline, "the killed process did not end"
            time.sleep(0.05)
        assert mind.sleep().outcome is Outcome.DONE
    finally:
        other.kill()
        other.wait()
    mind.close()


def test_close_during_a_checkpoint_does_not_hang(tmp_path: Path) -> None:
    """close() landing between the checkpointer's wait and its clear must still stop it."""
    from sleepcycle.store.sqlite import _Checkpointer

    path = tmp_path / "wal.db"
    sqlite3.connect(path).close()
    checkpointer = _Checkpointer(path, delay=0.01)

    class ClosingWake(type(checkpointer._wake)):  # type: ignore[misc]
        def clear(self) -> None:
            checkpointer._stop.set()  # what close() does, just before the thread clears
            super().set()
            super().clear()

    waiting_on = checkpointer._wake  # the thread may already wait on the first event
    checkpointer._wake = ClosingWake()
    waiting_on.set()
    checkpointer.nudge()
    checkpointer._thread.join(timeout=5)
    assert not checkpointer._thread.is_alive()


@pytest.mark.parametrize("limit", [256 * 1024, 2**40])
def test_a_steady_stream_of_writes_does_not_grow_the_wal_without_bound(
    tmp_path: Path, limit: int
) -> None:
    """Past its limit the checkpointer truncates the WAL, even while writes keep coming (with
    no limit, the same writes grow it past the bound: the case is one that needs the fix)."""
    from sleepcycle import changes
    from sleepcycle.records import Author
    from sleepcycle.store.sqlite import SqliteStore, _Checkpointer

    store = SqliteStore(tmp_path / "store.db")
    store._checkpointer.close()
    store._checkpointer = _Checkpointer(store.path, delay=0.01, wal_limit=limit)
    wal = tmp_path / "store.db-wal"
    author = Author.user("t")
    # a reader whose snapshot overlaps every write, as recalls do while a night or an
    # ingest writes: a passive checkpoint can then never reset the WAL
    reader = sqlite3.connect(store.path, isolation_level=None)
    largest = 0
    for batch in range(30):
        reader.execute("BEGIN")
        reader.execute("SELECT COUNT(*) FROM memories").fetchone()
        with store.write() as tx:
            tx.ensure_agent("a")
            tx.memories.apply(
                "a",
                [changes.add(f"note {batch} {i} " + "x" * 300, author=author) for i in range(200)],
            )
        time.sleep(0.05)  # the checkpointer's turn, with the snapshot still held
        reader.execute("COMMIT")
        time.sleep(0.05)
        largest = max(largest, wal.stat().st_size if wal.exists() else 0)
    reader.close()
    store.close()
    bound = 4 * 2**20
    assert (largest < bound) is (limit < bound), largest
    with sqlite3.connect(tmp_path / "store.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM memories").fetchone()[0] == 6000
