"""Review mode: operations a sleep proposes wait for a person, stay out of recall, and are
applied by the person who approves them."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from sleepcycle import ConflictError, InputError, MemoryStatus, MiniLMEmbedder
from sleepcycle.cli import cli
from sleepcycle.records import AuthorKind, ReviewStatus
from sleepkit import sleep_with_proposals

BOTH_STORES = True  # every test here runs on SQLite and on PostgreSQL (conftest.py)


def test_proposed_operations_wait_and_stay_out_of_recall(
    home: Path, embedder: MiniLMEmbedder
) -> None:
    mind = sleep_with_proposals(home, embedder)
    items = mind.review()
    assert sorted(i.op for i in items) == ["add", "persona", "retract"]
    # The edit was applied; the add, the retraction and the persona wait.
    assert {m.text for m in mind.memories()} == {
        "Maya has a dog.",
        "Maya drinks green tea in the mornings.",
    }
    assert mind.persona() is None
    assert all(
        h.text != "Maya has a grey cat called Pixel." for h in mind.recall("grey cat Pixel").hits
    )
    _, entries = mind.journal()
    assert sum(e.kind == "queued" for e in entries) == 3
    summary = mind.get_sleep().stats["committed"]
    assert len(summary["queued"]) == 3 and summary["changed"]
    mind.close()


def test_approving_applies_the_change_as_the_person(home: Path, embedder: MiniLMEmbedder) -> None:
    mind = sleep_with_proposals(home, embedder)
    add = next(i for i in mind.review() if i.op == "add")
    approved = mind.approve(add.id[:9], reason="yes, Pixel is her cat")
    assert approved.status is ReviewStatus.APPROVED and approved.decided_by == "user"
    (memory,) = [m for m in mind.memories() if "Pixel" in m.text]
    assert mind.recall("grey cat Pixel").hits[0].id == memory.id
    (version,) = mind.history(memory.id)
    assert version.author.kind is AuthorKind.USER and version.reason == "yes, Pixel is her cat"
    assert version.verdict is not None and version.verdict["review"] == add.id
    assert version.verdict["score"] == 1 and version.verdict["approved_by"] == "user"
    assert approved.result and approved.result["added"] == [memory.id]

    retract = next(i for i in mind.review() if i.op == "retract")
    mind.approve(retract.id)
    dog = mind.memories(statuses=[MemoryStatus.RETRACTED])
    assert [m.text for m in dog] == ["Maya has a dog."]

    persona = next(i for i in mind.review() if i.op == "persona")
    mind.approve(persona.id)
    current = mind.persona()
    assert current is not None and current.text == "Maya has a grey cat called Pixel."
    assert current.author.kind is AuthorKind.USER
    assert mind.review() == []
    with pytest.raises(InputError, match="already approved"):
        mind.approve(add.id)
    _, entries = mind.journal()
    assert [e.kind for e in entries if e.stage == "review"] == ["approved", "approved", "approved"]
    mind.close()


def test_rejecting_changes_nothing_and_is_remembered(home: Path, embedder: MiniLMEmbedder) -> None:
    mind = sleep_with_proposals(home, embedder)
    before = {m.id: m.version for m in mind.memories(statuses=list(MemoryStatus))}
    retract = next(i for i in mind.review() if i.op == "retract")
    rejected = mind.reject(retract.id, reason="she still has the dog")
    assert rejected.status is ReviewStatus.REJECTED and rejected.note == "she still has the dog"
    assert {m.id: m.version for m in mind.memories(statuses=list(MemoryStatus))} == before
    assert any("she still has the dog" in r for r in mind.store.journal.rejections("maya", limit=5))
    mind.close()


def test_a_stale_proposal_is_refused_unless_forced(home: Path, embedder: MiniLMEmbedder) -> None:
    mind = sleep_with_proposals(home, embedder)
    dog = next(m for m in mind.memories() if m.text == "Maya has a dog.")
    mind.edit(dog.id, text="Maya has a dog called Rex.")
    retract = next(i for i in mind.review() if i.op == "retract")
    with pytest.raises(ConflictError, match="changed since the sleep proposed this"):
        mind.approve(retract.id)
    assert mind.memory(dog.id).status is MemoryStatus.ACTIVE
    mind.approve(retract.id, force=True)
    assert mind.memory(dog.id).status is MemoryStatus.RETRACTED
    mind.close()


def test_review_cli(home: Path, embedder: MiniLMEmbedder) -> None:
    sleep_with_proposals(home, embedder).close()
    runner = CliRunner()
    env = {"SLEEPCYCLE_HOME": str(home), "COLUMNS": "200"}
    listed = runner.invoke(cli, ["--agent", "maya", "review", "list", "--json"], env=env)
    assert listed.exit_code == 0
    import json

    items = json.loads(listed.output)
    add = next(i for i in items if i["op"] == "add")
    shown = runner.invoke(cli, ["--agent", "maya", "review", "show", add["id"]], env=env)
    assert "Maya has a grey cat called Pixel." in shown.output
    approved = runner.invoke(
        cli, ["--agent", "maya", "review", "approve", add["id"], "--reason", "ok"], env=env
    )
    assert approved.exit_code == 0 and "approved" in approved.output
    again = runner.invoke(cli, ["--agent", "maya", "review", "approve", add["id"]], env=env)
    assert again.exit_code == 2 and "already approved" in again.output
    remaining = json.loads(
        runner.invoke(cli, ["--agent", "maya", "review", "list", "--json"], env=env).output
    )
    assert len(remaining) == 2
    every = json.loads(
        runner.invoke(cli, ["--agent", "maya", "review", "list", "--all", "--json"], env=env).output
    )
    assert len(every) == 3
