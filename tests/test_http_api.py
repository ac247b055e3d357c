"""The HTTP API in process: what an agent records and recalls, sleeps and their journals,
review decisions, API keys scoped to agents, and errors as JSON."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

import sleepcycle
from sleepcycle import Mind, MiniLMEmbedder
from sleepcycle.api import create_server
from sleepcycle.cli import cli
from sleepcycle.config import ApiSettings
from sleepcycle.models import ChatRequest, FunctionModel
from sleepcycle.records import AuthorKind
from sleepkit import NIGHT, Intent, dreamer, open_mind, sleep_with_proposals

BOTH_STORES = True  # every test here runs on SQLite and on PostgreSQL (conftest.py)

ALICE = "alice-key-0123456789"
BOB = "bob-key-0123456789ab"
LOCAL = "http://127.0.0.1"  # without api keys the server answers only loopback names
KEYS = ApiSettings.model_validate(
    {
        "keys": [
            {"name": "alice", "key": ALICE, "agents": ["maya"]},
            {"name": "bob", "key": BOB, "agents": ["sam"]},
        ]
    }
)


def as_(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def client(home: Path, embedder: MiniLMEmbedder) -> Iterator[TestClient]:
    with (
        sleepcycle.open(home, "maya", embedder=embedder) as mind,
        TestClient(create_server(mind), base_url=LOCAL) as c,
    ):
        yield c


def test_episodes_memories_and_recall_round_trip(client: TestClient) -> None:
    posted = client.post("/v1/agents/maya/episodes", json={"messages": NIGHT[:3]})
    assert posted.status_code == 201, posted.text
    assert posted.json()["episodes_added"] == 3
    again = client.post("/v1/agents/maya/episodes", json={"messages": NIGHT[:3]})
    assert again.json()["episodes_present"] == 3  # idempotent: the same turns are not stored twice
    episodes = client.get("/v1/agents/maya/episodes").json()
    assert [e["content"] for e in episodes] == [m["content"] for m in NIGHT[:3]]

    created = client.post(
        "/v1/agents/maya/memories",
        json={"text": "Maya is allergic to peanuts.", "sources": [episodes[2]["id"]]},
    )
    assert created.status_code == 201, created.text
    memory = created.json()
    assert memory["sources"] == [episodes[2]["id"]]

    edited = client.patch(
        f"/v1/agents/maya/memories/{memory['id']}",
        json={"text": "Maya is severely allergic to peanuts.", "reason": "she said so"},
    )
    assert edited.json()["version"] == 2
    client.post(
        f"/v1/agents/maya/memories/{memory['id']}/amend", json={"text": "She carries an EpiPen."}
    )
    history = client.get(f"/v1/agents/maya/memories/{memory['id']}/history").json()
    assert [v["op"] for v in history] == ["add", "edit", "amend"]
    assert history[1]["author"] == {"kind": "agent", "name": "maya", "stage": None, "model": None}

    hits = client.get("/v1/agents/maya/recall", params={"q": "what can't Maya eat?"}).json()
    assert hits["hits"][0]["id"] == memory["id"]
    assert "EpiPen" in hits["hits"][0]["text"]

    retracted = client.post(f"/v1/agents/maya/memories/{memory['id']}/retract", json={})
    assert retracted.json()["status"] == "retracted"
    hits = client.get("/v1/agents/maya/recall", params={"q": "peanuts"}).json()
    assert all(h["id"] != memory["id"] for h in hits["hits"])


def test_thoughts_persona_and_status(client: TestClient) -> None:
    thought = client.post(
        "/v1/agents/maya/thoughts", json={"text": "Ask how the move went", "kind": "parked"}
    )
    assert thought.status_code == 201
    assert [t["text"] for t in client.get("/v1/agents/maya/thoughts").json()] == [
        "Ask how the move went"
    ]
    put = client.put("/v1/agents/maya/persona", json={"text": "I am Maya's assistant."})
    assert put.json()["version"] == 1
    assert client.get("/v1/agents/maya/persona").json()["text"] == "I am Maya's assistant."
    status = client.get("/v1/agents/maya/status").json()
    assert status["thoughts_open"] == 1 and status["asleep"] is None
    assert client.get("/v1/agents").json() == ["maya"]


def test_errors_are_json_with_a_kind_and_a_message(client: TestClient) -> None:
    missing = client.get("/v1/agents/maya/memories/mem_nope")
    assert missing.status_code == 404
    assert missing.json()["error"]["kind"] == "not_found"
    assert "mem_nope" in missing.json()["error"]["message"]

    invalid = client.post("/v1/agents/maya/memories", json={"text": "", "colour": "red"})
    assert invalid.status_code == 422
    error = invalid.json()["error"]
    assert error["kind"] == "invalid_request" and "text" in error["message"]

    no_route = client.get("/v1/nothing-here")
    assert no_route.status_code == 404 and no_route.json()["error"]["kind"] == "not_found"

    bad_json = client.post(
        "/v1/agents/maya/thoughts",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert bad_json.status_code == 422 and "Traceback" not in bad_json.text

    memory = client.post("/v1/agents/maya/memories", json={"text": "Maya has a cat."}).json()
    client.post(f"/v1/agents/maya/memories/{memory['id']}/retract", json={})
    stale = client.post(f"/v1/agents/maya/memories/{memory['id']}/retract", json={})
    assert stale.status_code in (400, 409) and stale.json()["error"]["message"]

    no_sleep = client.get("/v1/agents/maya/sleeps/latest/journal")
    assert no_sleep.status_code == 400
    assert "sleepcycle sleep" in no_sleep.json()["error"]["message"]


def test_keys_scope_agents(home: Path, embedder: MiniLMEmbedder) -> None:
    with (
        sleepcycle.open(home, "maya", embedder=embedder) as mind,
        TestClient(create_server(mind, settings=KEYS), base_url=LOCAL) as client,
    ):
        created = client.post(
            "/v1/agents/maya/memories", json={"text": "Maya lives in Lisbon."}, headers=as_(ALICE)
        )
        assert created.status_code == 201
        memory_id = created.json()["id"]
        # The change is authored by the key's holder.
        history = client.get(f"/v1/agents/maya/memories/{memory_id}/history", headers=as_(ALICE))
        assert history.json()[0]["author"]["name"] == "alice"

        anonymous = client.get("/v1/agents/maya/memories")
        assert anonymous.status_code == 401
        assert anonymous.json()["error"]["kind"] == "unauthorized"
        wrong = client.get("/v1/agents/maya/memories", headers=as_("x" * 20))
        assert wrong.status_code == 401

        other = client.get(f"/v1/agents/maya/memories/{memory_id}", headers=as_(BOB))
        assert other.status_code == 403 and other.json()["error"]["kind"] == "forbidden"
        recall = client.get("/v1/agents/maya/recall", params={"q": "Lisbon"}, headers=as_(BOB))
        assert recall.status_code == 403
        # Bob's own agent is his, and empty.
        assert client.get("/v1/agents/sam/memories", headers=as_(BOB)).json() == []
        assert client.get("/v1/agents", headers={"X-Api-Key": BOB}).json() == ["sam"]
        assert client.get("/v1/health").json() == {"ok": True}
    with sleepcycle.open(home, "maya", embedder=embedder) as mind:
        assert [m.text for m in mind.memories()] == ["Maya lives in Lisbon."]
        assert mind.for_agent("sam").memories() == []


def test_an_approved_proposal_is_recalled_and_authored_by_the_reviewer(
    home: Path, embedder: MiniLMEmbedder
) -> None:
    mind = sleep_with_proposals(home, embedder)
    with TestClient(create_server(mind, settings=KEYS), base_url=LOCAL) as client:
        queue = client.get("/v1/agents/maya/review", headers=as_(ALICE)).json()
        assert sorted(i["op"] for i in queue) == ["add", "persona", "retract"]
        add = next(i for i in queue if i["op"] == "add")
        before = client.get(
            "/v1/agents/maya/recall", params={"q": "grey cat Pixel"}, headers=as_(ALICE)
        ).json()
        assert all("Pixel" not in h["text"] for h in before["hits"])

        denied = client.post(
            f"/v1/agents/maya/review/{add['id']}/approve", json={}, headers=as_(BOB)
        )
        assert denied.status_code == 403

        approved = client.post(
            f"/v1/agents/maya/review/{add['id']}/approve",
            json={"reason": "yes, that is her cat"},
            headers=as_(ALICE),
        )
        assert approved.status_code == 200, approved.text
        assert approved.json()["decided_by"] == "alice"
        after = client.get(
            "/v1/agents/maya/recall", params={"q": "grey cat Pixel"}, headers=as_(ALICE)
        ).json()
        assert after["hits"][0]["text"] == "Maya has a grey cat called Pixel."

        retract = next(i for i in queue if i["op"] == "retract")
        rejected = client.post(
            f"/v1/agents/maya/review/{retract['id']}/reject", json={}, headers=as_(ALICE)
        )
        assert rejected.json()["status"] == "rejected"
        again = client.post(
            f"/v1/agents/maya/review/{retract['id']}/approve", json={}, headers=as_(ALICE)
        )
        assert again.status_code in (400, 409)
        decided = client.get("/v1/agents/maya/review?all=true", headers=as_(ALICE)).json()
        assert {i["status"] for i in decided} == {"approved", "rejected", "pending"}
    memory = next(m for m in mind.memories() if "Pixel" in m.text)
    (version,) = mind.history(memory.id)
    assert version.author.kind is AuthorKind.USER and version.author.name == "alice"
    mind.close()


def wait_for_sleep(client: TestClient, sleep_id: str) -> dict[str, object]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        sleep = client.get(f"/v1/agents/maya/sleeps/{sleep_id}").json()
        if sleep["status"] not in ("running", "stopping"):
            return dict(sleep)
        time.sleep(0.05)
    raise AssertionError(f"sleep {sleep_id} did not finish")


def test_a_sleep_started_over_http_runs_and_can_be_rolled_back(
    home: Path, embedder: MiniLMEmbedder
) -> None:
    mind: Mind = open_mind(
        home,
        embedder,
        dreamer=dreamer(Intent("add", "Maya lives in Alfama, Lisbon.", sources=["Alfama"])),
    )
    with TestClient(create_server(mind), base_url=LOCAL) as client:
        client.post("/v1/agents/maya/episodes", json={"messages": NIGHT})
        started = client.post("/v1/agents/maya/sleeps", json={})
        assert started.status_code == 202, started.text
        sleep = wait_for_sleep(client, started.json()["id"])
        assert sleep["outcome"] == "done", sleep

        journal = client.get("/v1/agents/maya/sleeps/latest/journal").json()
        assert journal["sleep"]["id"] == sleep["id"]
        assert any(e["kind"] == "committed" for e in journal["entries"])
        diff = client.get(f"/v1/agents/maya/sleeps/{sleep['id']}/diff").json()
        assert [c["after"]["text"] for c in diff["added"]] == ["Maya lives in Alfama, Lisbon."]
        hits = client.get("/v1/agents/maya/recall", params={"q": "Alfama"}).json()["hits"]
        assert hits and hits[0]["text"] == "Maya lives in Alfama, Lisbon."

        undone = client.post(f"/v1/agents/maya/sleeps/{sleep['id']}/rollback", json={})
        assert undone.status_code == 200, undone.text
        assert len(undone.json()["retracted"]) == 1
        hits = client.get("/v1/agents/maya/recall", params={"q": "Alfama"}).json()["hits"]
        assert all(h["text"] != "Maya lives in Alfama, Lisbon." for h in hits)
        status = client.get("/v1/agents/maya/status").json()
        assert status["unconsolidated"] == len(NIGHT)
    mind.close()


def test_serve_refuses_other_hosts_without_keys(home: Path) -> None:
    result = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code != 0
    assert "without api keys" in result.output and "127.0.0.1" in result.output


def test_one_sleep_at_a_time_and_wake_stops_it(home: Path, embedder: MiniLMEmbedder) -> None:
    dreaming, release = threading.Event(), threading.Event()

    def slow_dream(request: ChatRequest) -> dict[str, object]:
        dreaming.set()
        release.wait(30)
        return {"operations": []}

    mind = open_mind(home, embedder, dreamer=FunctionModel(slow_dream, model_id="slow"))
    with TestClient(create_server(mind), base_url=LOCAL) as client:
        client.post("/v1/agents/maya/episodes", json={"messages": NIGHT})
        first = client.post("/v1/agents/maya/sleeps", json={})
        assert first.status_code == 202
        assert dreaming.wait(30)
        assert client.get("/v1/agents/maya/status").json()["asleep"] == first.json()["id"]
        second = client.post("/v1/agents/maya/sleeps", json={})
        assert second.status_code == 409 and second.json()["error"]["kind"] == "locked"
        woken = client.post("/v1/agents/maya/wake", json={})
        assert woken.json() == {"sleep": first.json()["id"]}
        release.set()
        sleep = wait_for_sleep(client, first.json()["id"])
        assert sleep["outcome"] == "interrupted"
        assert client.get("/v1/agents/maya/status").json()["unconsolidated"] == len(NIGHT)
    mind.close()


def test_without_keys_only_loopback_names_are_answered(client: TestClient) -> None:
    """A page on another site cannot reach an open server through DNS rebinding."""
    rebound = client.get("/v1/agents/maya/memories", headers={"Host": "evil.example:8788"})
    assert rebound.status_code == 403
    assert "evil.example" in rebound.json()["error"]["message"]
    for host in ("localhost:8788", "127.0.0.1", "[::1]:8788"):
        assert client.get("/v1/agents", headers={"Host": host}).status_code == 200
