"""The daemon as a user runs it: a chat client talks to the proxy, pressure puts the agent to
sleep, the chat keeps answering from the sub model, the journal shows the model swaps, and
after waking the day's turns are consolidated. Real embedded models, a real process."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow

CONFIG = """
[models.day]
engine = "llama"
[models.night]
engine = "llama"
[models.small]
engine = "llama"

[roles.foreground]
model = "day"
max_tokens = 24
[roles.sub]
model = "small"
max_tokens = 24
[roles.dreamer]
model = "night"
[roles.verifier]
model = "night"
[roles.reshaper]
model = "night"

[sleep]
max_operations = 1
reshape_rounds = 0
cluster_size = 16

[proxy]
port = {port}

[daemon]
pressure = 4
check_seconds = 0.5
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_the_daemon_sleeps_under_pressure_and_keeps_chatting(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    port = _free_port()
    (home / "config.toml").write_text(CONFIG.format(port=port))
    log = (tmp_path / "daemon.log").open("w")
    env = {**os.environ, "SLEEPCYCLE_HOME": str(home), "SLEEPCYCLE_AGENT": "maya"}
    daemon = subprocess.Popen(
        [str(Path(sys.executable).parent / "sleepcycle"), "daemon"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}/v1"
    client = httpx.Client(base_url=base, timeout=120, headers={"X-Sleepcycle-Session": "evening"})
    try:

        def up() -> bool:
            try:
                return client.get("/models").status_code == 200
            except httpx.TransportError:
                return False

        _wait(up, 60, "the proxy")
        history = [{"role": "user", "content": "Hi! I'm Maya. I moved to Lisbon last week."}]
        first = client.post("/chat/completions", json={"messages": history})
        assert first.status_code == 200 and first.headers["X-Sleepcycle-Model"] == "foreground"
        history += [
            first.json()["choices"][0]["message"],
            {"role": "user", "content": "My cat Pixel loves the window."},
        ]
        second = client.post("/chat/completions", json={"messages": history})
        assert second.headers["X-Sleepcycle-Model"] == "foreground"

        _wait(lambda: client.get("/sleepcycle/status").json()["asleep"], 60, "the sleep to start")
        during = client.post(
            "/chat/completions",
            json={"messages": [{"role": "user", "content": "Are you asleep?"}]},
            headers={"X-Sleepcycle-Session": "night"},
        )
        assert during.status_code == 200
        assert during.headers["X-Sleepcycle-Model"] == "sub"
        assert during.json()["choices"][0]["message"]["content"]  # the sub model answered

        _wait(lambda: not client.get("/sleepcycle/status").json()["asleep"], 300, "the wake")
    finally:
        client.close()
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=60)
        log.close()
    assert daemon.returncode == 0, (tmp_path / "daemon.log").read_text()

    conn = sqlite3.connect(home / "sleepcycle.db")
    (sleep_id, outcome, trigger) = conn.execute(
        "SELECT id, outcome, trigger FROM sleeps WHERE agent = 'maya'"
    ).fetchone()
    assert (outcome, trigger) == ("done", "pressure")
    swaps = [
        row[0] for row in conn.execute("SELECT text FROM journal WHERE stage = 'swap' ORDER BY seq")
    ]
    assert [s.split(" (")[0] for s in swaps] == [
        "unloaded day",
        "loaded night",
        "loaded day",
        "unloaded night",
        "warmed up the foreground",
    ], swaps
    assert "MiB resident" in swaps[0]
    evening = conn.execute(
        "SELECT consolidated_in FROM episodes WHERE session = 'evening'"
    ).fetchall()
    assert len(evening) == 4 and {row[0] for row in evening} == {sleep_id}
    night = conn.execute("SELECT consolidated_in FROM episodes WHERE session = 'night'").fetchall()
    assert night and {row[0] for row in night} == {None}  # said during the sleep: for the next
    conn.close()
