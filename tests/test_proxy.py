"""The chat proxy in process: recording, memory in the prompt, routing, streaming, thoughts;
and the daemon's triggers."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import sleepcycle
from sleepcycle import Config, FunctionModel, Mind, MiniLMEmbedder, ModelError
from sleepcycle.daemon import Scheduler, pressure
from sleepcycle.models import ChatRequest
from sleepcycle.proxy import create_app
from sleepcycle.records import Role, ThoughtKind


class Recorder:
    """A fake model that remembers what it was sent."""

    def __init__(self, name: str, answer: str = "Alfama, in Lisbon."):
        self.requests: list[ChatRequest] = []
        self.answer = answer
        self.model = FunctionModel(self._reply, model_id=name)

    def _reply(self, request: ChatRequest) -> str:
        self.requests.append(request)
        return self.answer


@pytest.fixture
def setup(
    home: Path, embedder: MiniLMEmbedder
) -> Iterator[tuple[Mind, TestClient, Recorder, Recorder]]:
    day, sub = Recorder("day-model"), Recorder("sub-model", "I'm half asleep, but: Lisbon.")
    config = Config.model_validate({"proxy": {"memories": 3, "context_tokens": 200}})
    with sleepcycle.open(
        home, "maya", embedder=embedder, config=config,
        backends={"foreground": day.model, "sub": sub.model},
    ) as mind:  # fmt: skip
        mind.add("Maya lives in Alfama, Lisbon.", valid_from="2026-04-04")
        mind.add("Maya has a grey cat called Pixel.")
        mind.set_persona("I am Maya's assistant. I keep answers short.")
        with TestClient(create_app(mind), base_url="http://127.0.0.1") as client:
            yield mind, client, day, sub


HISTORY = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Where do I live these days?"},
]


def test_a_chat_is_recorded_remembered_and_answered(
    setup: tuple[Mind, TestClient, Recorder, Recorder],
) -> None:
    mind, client, day, sub = setup
    response = client.post(
        "/v1/chat/completions",
        json={"model": "any", "messages": HISTORY, "temperature": 0.2},
        headers={"X-Sleepcycle-Session": "chat-1"},
    )
    assert response.status_code == 200
    assert response.headers["X-Sleepcycle-Model"] == "foreground"
    assert response.headers["X-Sleepcycle-Model-Id"] == "day-model"
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "Alfama, in Lisbon."}
    (sent,) = day.requests
    system = sent.messages[0]["content"]
    assert system.startswith("You are a helpful assistant.\n\n[Long-term memory.")
    assert "Who you are: I am Maya's assistant. I keep answers short." in system
    assert "- Maya lives in Alfama, Lisbon. (since 2026-04-04)" in system
    assert sent.temperature == 0.2 and sub.requests == []
    used = response.headers["X-Sleepcycle-Memories"].split(",")
    assert mind.memory(used[0]).text == "Maya lives in Alfama, Lisbon."

    episodes = mind.episodes()
    assert [(e.role, e.content, e.session) for e in episodes] == [
        (Role.USER, "Where do I live these days?", "chat-1"),
        (Role.ASSISTANT, "Alfama, in Lisbon.", "chat-1"),
    ]
    # The client sends the whole history next time: nothing is recorded twice.
    follow_up = [*HISTORY, body["choices"][0]["message"], {"role": "user", "content": "Thanks!"}]
    client.post(
        "/v1/chat/completions",
        json={"messages": follow_up},
        headers={"X-Sleepcycle-Session": "chat-1"},
    )
    assert [e.content for e in mind.episodes()] == [
        "Where do I live these days?",
        "Alfama, in Lisbon.",
        "Thanks!",
        "Alfama, in Lisbon.",
    ]


def test_a_small_budget_keeps_the_prompt_small(home: Path, embedder: MiniLMEmbedder) -> None:
    day = Recorder("day-model")
    config = Config.model_validate({"proxy": {"context_tokens": 0}})
    with sleepcycle.open(
        home, "maya", embedder=embedder, config=config, backends={"foreground": day.model}
    ) as mind:
        mind.add("Maya lives in Alfama, Lisbon.")
        with TestClient(create_app(mind), base_url="http://127.0.0.1") as client:
            client.post("/v1/chat/completions", json={"messages": HISTORY})
    assert day.requests[0].messages[0]["content"] == "You are a helpful assistant."


def test_while_asleep_the_sub_model_answers(
    setup: tuple[Mind, TestClient, Recorder, Recorder],
) -> None:
    mind, client, day, sub = setup
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with mind.store.write() as tx:  # a sleep in another process holds the agent's lock
            tx.locks.take(
                mind.agent, "slp_elsewhere", holder.pid, __import__("socket").gethostname()
            )
        response = client.post("/v1/chat/completions", json={"messages": HISTORY})
        assert response.headers["X-Sleepcycle-Model"] == "sub"
        assert response.headers["X-Sleepcycle-Model-Id"] == "sub-model"
        assert (
            response.json()["choices"][0]["message"]["content"] == "I'm half asleep, but: Lisbon."
        )
        assert day.requests == [] and len(sub.requests) == 1
        status = client.get("/v1/sleepcycle/status").json()
        assert status["asleep"] and status["sleep"] == "slp_elsewhere"
        assert status["serving"] == {"role": "sub", "model": "sub-model"}
    finally:
        holder.kill()
        holder.wait()
    assert client.get("/v1/sleepcycle/status").json()["asleep"] is False


def test_streaming_replies_in_openai_chunks(
    setup: tuple[Mind, TestClient, Recorder, Recorder],
) -> None:
    mind, client, _, _ = setup
    with client.stream(
        "POST", "/v1/chat/completions", json={"messages": HISTORY, "stream": True}
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == "Alfama, in Lisbon."
    assert [e.content for e in mind.episodes()][-1] == "Alfama, in Lisbon."


def test_thoughts_and_errors(setup: tuple[Mind, TestClient, Recorder, Recorder]) -> None:
    mind, client, day, _ = setup
    created = client.post(
        "/v1/sleepcycle/thoughts", json={"text": "Ask about the new flat", "kind": "parked"}
    )
    assert created.status_code == 201
    (thought,) = mind.thoughts()
    assert (thought.id, thought.kind) == (created.json()["id"], ThoughtKind.PARKED)
    assert (
        client.post("/v1/sleepcycle/thoughts", json={"text": "x", "kind": "someday"}).status_code
        == 422
    )
    assert client.post("/v1/chat/completions", json={"messages": []}).status_code == 422

    def broken(request: ChatRequest) -> str:
        raise ModelError("day-model: cannot reach http://127.0.0.1:9/v1")

    day.model.fn = broken
    failed = client.post("/v1/chat/completions", json={"messages": HISTORY})
    assert failed.status_code == 502
    assert failed.json() == {
        "error": {"message": "day-model: cannot reach http://127.0.0.1:9/v1", "type": "model"}
    }
    assert mind.episodes()[-1].content == "Where do I live these days?"  # the user turn was kept
    assert client.get("/v1/models").json()["data"][0]["id"] == "sleepcycle"


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_triggers(home: Path, embedder: MiniLMEmbedder) -> None:
    with sleepcycle.open(home, "maya", embedder=embedder) as mind:
        clock = Clock()
        settings = Config.model_validate({"daemon": {"idle_minutes": 10, "pressure": 3}}).daemon
        scheduler = Scheduler(mind, settings, lambda: 1000.0, clock=clock)
        assert scheduler.due() is None  # nothing to consolidate
        mind.record("user", "hello")
        assert pressure(mind) == 1 and scheduler.due() is None
        clock.t = 1000.0 + 601
        assert scheduler.due() == "idle"
        clock.t = 1000.0
        mind.record("user", "still there?")
        mind.think("ask how the move went")
        assert pressure(mind) == 3 and scheduler.due() == "pressure"

        times = iter(
            [
                datetime(2026, 3, 1, 2, 0),
                datetime(2026, 3, 1, 2, 59),
                datetime(2026, 3, 1, 3, 0, 30),
                datetime(2026, 3, 1, 3, 0, 40),
                datetime(2026, 3, 1, 3, 1),
            ]
        )
        nightly = Config.model_validate({"daemon": {"schedule": "0 3 * * *"}}).daemon
        cron = Scheduler(mind, nightly, lambda: 1000.0, clock=clock, today=lambda: next(times))
        assert cron.due() is None  # 02:59
        assert cron.due() == "schedule"  # 03:00:30, and the next is tomorrow
        assert cron.due() is None  # 03:01


def test_a_bad_schedule_is_refused() -> None:
    with pytest.raises(Exception, match="not a cron expression"):
        Config.model_validate({"daemon": {"schedule": "every night"}})
