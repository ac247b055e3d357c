"""The sleep pipeline with the library's fake models: every operation, verification, reshaping,
the persona, the journal, dry runs, nothing-to-do, diff and rollback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sleepcycle import MemoryStatus, Mind, MiniLMEmbedder, Op, ThoughtKind, ThoughtStatus
from sleepcycle.records import AuthorKind, Outcome, SleepStatus
from sleepkit import (
    Intent,
    dreamer,
    find,
    night,
    open_mind,
    persona_model,
    reshaper,
    verifier,
)

BOTH_STORES = True  # every test here runs on SQLite and on PostgreSQL (conftest.py)


def seed_memories(mind: Mind) -> dict[str, str]:
    ids = {
        "manchester": mind.add("Maya lives in Manchester.").id,
        "coffee": mind.add("Maya drinks oat milk flat whites.", kind="preference").id,
        "peanuts": mind.add("Maya is allergic to peanuts.").id,
        "peanut2": mind.add("Maya has an allergy to peanuts, a serious one.").id,
        "brightline": mind.add("Maya works at Brightline Studio.").id,
        "dog": mind.add("Maya has a dog.").id,
    }
    mind.think("Ask Maya how the Atlas Maps interview went.", kind="parked")
    return ids


EVERY_OP = [
    Intent("add", "Maya has a grey cat called Pixel.", sources=["Pixel, my grey cat"]),
    Intent(
        "supersede",
        "Maya lives in Alfama, Lisbon.",
        sources=["I live in Alfama"],
        targets=["lives in Manchester"],
    ),
    Intent(
        "edit",
        "Maya drinks green tea in the mornings.",
        sources=["green tea"],
        targets=["oat milk"],
        kind="preference",
    ),
    Intent(
        "amend",
        "She is a UX designer there.",
        sources=["UX designer at Brightline"],
        targets=["works at Brightline"],
    ),
    Intent(
        "merge",
        "Maya is allergic to peanuts, seriously.",
        sources=["allergic to peanuts"],
        targets=["is allergic to peanuts", "allergy to peanuts"],
    ),
    Intent("retract", sources=["Pixel, my grey cat"], targets=["has a dog"]),
    Intent("link", targets=["works at Brightline", "lives in Manchester"]),
    Intent(
        "resolve",
        "Maya got the job at Atlas Maps.",
        sources=["GOT THE JOB"],
        thought="Atlas Maps interview",
    ),
    Intent("park", "Ask Maya how the first week at Atlas Maps went.", sources=["GOT THE JOB"]),
    Intent(
        "insight",
        "Maya moved to Lisbon and gave up coffee for green tea.",
        sources=["moved to Lisbon", "green tea"],
    ),
]


@pytest.fixture
def every_op_sleep(home: Path, embedder: MiniLMEmbedder) -> tuple[Mind, dict[str, str], Any]:
    mind = open_mind(
        home,
        embedder,
        dreamer=dreamer(*EVERY_OP),
        verifier=verifier(),
        reshaper=reshaper(lambda prompt, change: None),
        foreground=persona_model(
            {"action": "add", "line": "Maya lives in Alfama, Lisbon.", "new": "", "note": "new"}
        ),
    )
    ids = seed_memories(mind)
    night(mind)
    report = mind.sleep()
    yield mind, ids, report
    mind.close()


def test_every_operation_is_committed_with_its_author_and_verdict(
    every_op_sleep: tuple[Mind, dict[str, str], Any],
) -> None:
    mind, ids, report = every_op_sleep
    assert report.outcome is Outcome.DONE, report.sleep.error
    sleep_id = report.sleep.id
    ops = report.summary["operations"]
    assert {op: row["accepted"] for op, row in ops.items()} == {
        "add": 1, "supersede": 1, "edit": 1, "amend": 1, "merge": 1, "retract": 1,
        "link": 1, "resolve": 1, "park": 1, "insight": 1,
    }  # fmt: skip

    old = mind.memory(ids["manchester"])
    assert old.status is MemoryStatus.SUPERSEDED
    assert old.valid_to is not None and old.valid_to.isoformat() == "2026-04-08T07:50:00+00:00"
    (replacement_link,) = [a for a in old.associations if a.relation == "superseded_by"]
    new = mind.memory(replacement_link.id)
    assert new.text == "Maya lives in Alfama, Lisbon." and new.status is MemoryStatus.ACTIVE
    assert new.valid_from == old.valid_to and new.deep and new.score == 1
    assert [(a.id, a.relation) for a in new.associations] == [(old.id, "supersedes")]
    assert mind.episode(new.sources[0]).content.endswith("I live in Alfama now.")

    assert mind.memory(ids["coffee"]).text == "Maya drinks green tea in the mornings."
    assert mind.memory(ids["brightline"]).text == (
        "Maya works at Brightline Studio. She is a UX designer there."
    )
    assert mind.memory(ids["dog"]).status is MemoryStatus.RETRACTED
    for key in ("peanuts", "peanut2"):
        merged = mind.memory(ids[key])
        assert merged.status is MemoryStatus.SUPERSEDED
        assert any(a.relation == "merged_into" for a in merged.associations)
    linked = mind.memory(ids["brightline"])
    assert any(a.id == ids["manchester"] for a in linked.associations)

    history = mind.history(ids["coffee"])
    last = history[-1]
    assert last.op is Op.EDIT and last.author.kind is AuthorKind.SLEEP
    assert (last.author.name, last.author.stage, last.author.model) == (
        sleep_id,
        "dream",
        "fake-dreamer",
    )
    assert last.verdict is not None and last.verdict["score"] == 1
    assert last.verdict["verifier"] == "fake-verifier"

    thoughts = {t.text: t for t in mind.thoughts()}
    answered = thoughts["Ask Maya how the Atlas Maps interview went."]
    assert answered.status is ThoughtStatus.RESOLVED and answered.resolved_in == sleep_id
    parked = thoughts["Ask Maya how the first week at Atlas Maps went."]
    assert parked.kind is ThoughtKind.PARKED and parked.status is ThoughtStatus.OPEN

    insights = [m for m in mind.memories() if m.kind.value == "insight"]
    assert [m.text for m in insights] == ["Maya moved to Lisbon and gave up coffee for green tea."]
    assert all(m.deep for m in mind.memories())
    assert mind.episodes(unconsolidated=True) == []
    assert {e.consolidated_in for e in mind.episodes()} == {sleep_id}
    persona = mind.persona()
    assert persona is not None and persona.text == "Maya lives in Alfama, Lisbon."
    assert persona.author.kind is AuthorKind.SLEEP and persona.author.stage == "persona"


def test_the_journal_tells_the_night(every_op_sleep: tuple[Mind, dict[str, str], Any]) -> None:
    mind, _, report = every_op_sleep
    sleep, entries = mind.journal()
    assert sleep.id == report.sleep.id
    stages = [e.stage for e in entries]
    for stage in ("gather", "crunch", "dream", "verify", "persona", "commit"):
        assert stage in stages
    kinds = {(e.stage, e.kind) for e in entries}
    assert ("dream", "proposed") in kinds and ("verify", "passed") in kinds
    assert ("commit", "committed") in kinds
    summary = report.summary
    assert summary["verifier"] == {"asked": 10, "passed": 10, "pass_rate": 1.0}
    assert summary["tokens"]["dreamer"]["calls"] == 1
    assert summary["tokens"]["verifier"]["calls"] == 10
    assert set(summary["stage_ms"]) == {"gather", "crunch", "dream", "verify", "persona", "commit"}
    # The journal is not memory: recall never returns it.
    hits = mind.recall("committed supersede verify", scope="both", k=50).hits
    assert all("committed" not in h.text for h in hits)


def test_a_second_sleep_with_nothing_new_has_nothing_to_do(
    every_op_sleep: tuple[Mind, dict[str, str], Any],
) -> None:
    mind, _, _ = every_op_sleep
    again = mind.sleep()
    assert again.outcome is Outcome.NOTHING_TO_DO
    assert again.sleep.status is SleepStatus.DONE


def test_diff_and_rollback(every_op_sleep: tuple[Mind, dict[str, str], Any]) -> None:
    mind, ids, report = every_op_sleep
    d = mind.diff()
    assert {c.after.text for c in d.added} >= {
        "Maya has a grey cat called Pixel.",
        "Maya lives in Alfama, Lisbon.",
    }
    assert {c.memory_id for c in d.retracted} == {ids["dog"]}
    assert ids["manchester"] in {c.memory_id for c in d.superseded}
    assert d.episodes == 7

    before_versions = {k: mind.memory(v).version for k, v in ids.items()}
    result = mind.rollback(report.sleep.id)
    assert mind.memory(ids["manchester"]).status is MemoryStatus.ACTIVE
    assert mind.memory(ids["coffee"]).text == "Maya drinks oat milk flat whites."
    assert mind.memory(ids["dog"]).status is MemoryStatus.ACTIVE
    for key, memory_id in ids.items():
        m = mind.memory(memory_id)
        assert m.version == before_versions[key] + 1  # restored as a new version
        assert mind.history(memory_id)[-1].reason == f"rollback of sleep {report.sleep.id}"
    active = {m.text for m in mind.memories()}
    assert "Maya has a grey cat called Pixel." not in active  # added by the sleep: retracted
    assert len(mind.episodes(unconsolidated=True)) == 7
    assert {t.status for t in mind.thoughts()} >= {ThoughtStatus.OPEN, ThoughtStatus.DISCARDED}
    assert set(result.retracted) == {c.memory_id for c in d.added}
    assert mind.get_sleep(report.sleep.id).status is SleepStatus.ROLLED_BACK
    persona = mind.persona()
    assert persona is not None and persona.text == ""


def test_rollback_refuses_to_clobber_a_later_edit(
    every_op_sleep: tuple[Mind, dict[str, str], Any],
) -> None:
    mind, ids, report = every_op_sleep
    mind.edit(ids["coffee"], text="Maya drinks jasmine tea.")
    with pytest.raises(Exception, match="changed after sleep"):
        mind.rollback(report.sleep.id)
    assert mind.memory(ids["coffee"]).text == "Maya drinks jasmine tea."
    mind.rollback(report.sleep.id, force=True)
    assert mind.memory(ids["coffee"]).text == "Maya drinks oat milk flat whites."


def test_dry_run_writes_nothing_but_the_journal(home: Path, embedder: MiniLMEmbedder) -> None:
    mind = open_mind(home, embedder, dreamer=dreamer(*EVERY_OP), verifier=verifier())
    ids = seed_memories(mind)
    night(mind)
    before = {m.id: m.version for m in mind.memories(statuses=list(MemoryStatus))}
    report = mind.sleep(dry_run=True)
    assert report.outcome is Outcome.DONE and report.sleep.dry_run
    assert {m.id: m.version for m in mind.memories(statuses=list(MemoryStatus))} == before
    assert len(mind.episodes(unconsolidated=True)) == 7
    _, entries = mind.journal()
    would = [e.text for e in entries if e.kind == "committed"]
    assert any(text.startswith("would commit") and "supersede" in text for text in would)
    assert report.summary["committed"]["dry_run"] is True
    assert ids  # the memories are all still there, unchanged
    mind.close()


def test_a_failed_proposal_is_reshaped_and_then_passes(
    home: Path, embedder: MiniLMEmbedder
) -> None:
    def fix(prompt: str, change: str) -> dict[str, Any]:
        assert "not in the evidence: Porto" in prompt
        return {
            "op": "add", "kind": "fact", "text": "Maya lives in Alfama, Lisbon.",
            "sources": [find(prompt, "e", "Alfama")], "targets": [], "thought": "",
            "reason": "fixed the city",
        }  # fmt: skip

    mind = open_mind(
        home,
        embedder,
        dreamer=dreamer(Intent("add", "Maya lives in Porto.", sources=["I live in Alfama"])),
        verifier=verifier(),
        reshaper=reshaper(fix),
    )
    night(mind)
    report = mind.sleep()
    assert report.summary["rewrites"] == 1 and report.summary["rejections"] == 0
    (memory,) = mind.memories()
    assert memory.text == "Maya lives in Alfama, Lisbon."
    (version,) = mind.history(memory.id)
    assert version.author.stage == "reshape" and version.author.model == "fake-reshaper"
    assert version.verdict is not None and version.verdict["round"] == 1
    _, entries = mind.journal()
    failed = [e for e in entries if e.kind == "failed"]
    assert "not in the evidence: Porto" in failed[0].text
    assert any(e.kind == "rewritten" for e in entries)
    mind.close()


def test_the_verifier_can_fail_a_proposal_the_code_accepts(
    home: Path, embedder: MiniLMEmbedder
) -> None:
    judged: list[str] = []

    def judge(text: str) -> int:
        judged.append(text)
        return 0 if "loves" in text else 1

    def fix(prompt: str, change: str) -> dict[str, Any]:
        assert "say only what the line says" in prompt
        return {
            "op": "add", "kind": "fact", "text": "Maya has a grey cat called Pixel.",
            "sources": [find(prompt, "e", "Pixel")], "targets": [], "thought": "", "reason": "",
        }  # fmt: skip

    mind = open_mind(
        home,
        embedder,
        dreamer=dreamer(Intent("add", "Maya loves Pixel, her grey cat.", sources=["Pixel"])),
        verifier=verifier(judge),
        reshaper=reshaper(fix),
    )
    night(mind)
    report = mind.sleep()
    assert judged == ["Maya loves Pixel, her grey cat.", "Maya has a grey cat called Pixel."]
    assert report.summary["verifier"] == {"asked": 2, "passed": 1, "pass_rate": 0.5}
    assert [m.text for m in mind.memories()] == ["Maya has a grey cat called Pixel."]
    mind.close()


def test_reshaping_gives_up_after_the_set_rounds(home: Path, embedder: MiniLMEmbedder) -> None:
    stubborn = {
        "op": "add", "kind": "fact", "text": "Maya was born in Paris.", "sources": ["e1"],
        "targets": [], "thought": "", "reason": "",
    }  # fmt: skip
    rewrites = reshaper(lambda prompt, change: stubborn)
    mind = open_mind(
        home,
        embedder,
        dreamer=dreamer(Intent("add", "Maya was born in Paris.", sources=["UX designer"])),
        verifier=verifier(),
        reshaper=rewrites,
    )
    night(mind)
    report = mind.sleep()
    assert report.outcome is Outcome.DONE
    assert len(rewrites.requests) == 2  # reshape_rounds
    assert report.summary["rejections"] == 1
    assert mind.memories() == []
    _, entries = mind.journal()
    (rejected,) = [e for e in entries if e.kind == "rejected"]
    assert "Maya was born in Paris." in rejected.text
    assert "last feedback: not in the evidence: Paris" in rejected.text
    # Every episode is still consolidated: the night happened, it just kept nothing.
    assert mind.episodes(unconsolidated=True) == []
    mind.close()


@pytest.mark.parametrize(
    ("intent", "problem"),
    [
        (Intent("add", "Maya is allergic to peanuts.", sources=["allergic to peanuts"]),
         "it repeats memory"),
        (Intent("add", "I am allergic to peanuts.", sources=["allergic to peanuts"]),
         "third person"),
        (Intent("add", "Maya likes it a lot a lot a lot a lot a lot a lot.", sources=["green tea"]),
         "repeats itself"),
        (Intent("add", "Maya speaks fluent Japanese at home.", sources=["green tea"]),
         "Japanese"),
        (Intent("add", "Maya enjoys sunny weather and long walks.", sources=["UX designer"]),
         "says little of what the cited lines say"),
        (Intent("edit", "Maya has a dog.", sources=["Pixel"], targets=["has a dog"]),
         "does not change the memory"),
        (Intent("add", "Maya has a grey cat called Pixel."), "must cite"),
    ],
)  # fmt: skip
def test_code_checks_reject_what_the_evidence_does_not_support(
    home: Path, embedder: MiniLMEmbedder, intent: Intent, problem: str
) -> None:
    asked = verifier()
    mind = open_mind(home, embedder, rounds=0, dreamer=dreamer(intent), verifier=asked)
    mind.add("Maya is allergic to peanuts.")
    mind.add("Maya has a dog.")
    with mind.store.write() as tx:  # already dreamt upon, so only the new proposal is judged
        tx.memories.mark_deep(mind.agent, [m.id for m in mind.memories()])
    night(mind)
    report = mind.sleep()
    assert report.outcome is Outcome.DONE
    _, entries = mind.journal()
    failed = [e.text for e in entries if e.kind == "failed"]
    assert failed and problem in failed[0], failed
    assert asked.requests == []  # code checks come first; the verifier was never asked
    assert {m.text for m in mind.memories()} == {"Maya is allergic to peanuts.", "Maya has a dog."}
    mind.close()


def test_a_model_failure_ends_the_sleep_as_failed_and_memory_untouched(
    home: Path, embedder: MiniLMEmbedder
) -> None:
    from sleepcycle import ModelError
    from sleepcycle.models import FunctionModel

    def down(request: object) -> dict[str, object]:
        raise ModelError("fake-dreamer: cannot reach http://127.0.0.1:9/v1 (ConnectError)")

    mind = open_mind(home, embedder, dreamer=FunctionModel(down))
    mind.add("Maya lives in Manchester.")
    night(mind)
    report = mind.sleep()
    assert report.outcome is Outcome.FAILED and report.sleep.status is SleepStatus.FAILED
    assert report.sleep.error is not None and report.sleep.error.startswith("dream: ")
    assert "cannot reach" in report.sleep.error
    _, entries = mind.journal()
    (error,) = [e for e in entries if e.kind == "error"]
    assert error.stage == "dream" and "cannot reach" in error.text
    assert [m.text for m in mind.memories()] == ["Maya lives in Manchester."]
    assert not mind.memories()[0].deep
    assert len(mind.episodes(unconsolidated=True)) == 7
    mind.close()

    fixed = open_mind(home, embedder, dreamer=dreamer(*EVERY_OP[:1]), verifier=verifier())
    again = fixed.sleep()  # a failed sleep is not resumed; a new one takes the night
    assert again.outcome is Outcome.DONE and again.sleep.id != report.sleep.id
    assert "Maya has a grey cat called Pixel." in {m.text for m in fixed.memories()}
    fixed.close()


def test_a_memory_takes_one_ending_change_a_night(home: Path, embedder: MiniLMEmbedder) -> None:
    """A second retraction, or an edit, of a memory tonight already retracted is refused, so
    the journal's accepted count is what the night did."""
    mind = open_mind(
        home,
        embedder,
        rounds=0,
        dreamer=dreamer(
            Intent("retract", sources=["Pixel, my grey cat"], targets=["has a dog"]),
            Intent("retract", sources=["big window"], targets=["has a dog"]),
            Intent(
                "edit", "Maya has a cat.", sources=["Pixel, my grey cat"], targets=["has a dog"]
            ),
        ),
    )
    dog = mind.add("Maya has a dog.")
    night(mind)
    assert mind.sleep().outcome is Outcome.DONE
    _, entries = mind.journal()
    passed = [e.text for e in entries if e.kind == "passed"]
    failed = [e.text for e in entries if e.kind == "failed"]
    assert len(passed) == 1 and "retract" in passed[0]
    assert len(failed) == 2 and all("already ended tonight (retract by" in f for f in failed)
    assert [v.op.value for v in mind.history(dog.id)] == ["add", "retract"]
    assert mind.get_sleep().stats["committed"]["retracted"] == [dog.id]
    mind.close()
