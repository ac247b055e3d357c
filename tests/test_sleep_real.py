"""A real sleep with the bundled SmolLM2-135M model on a small night.

The model is tiny and most of what it proposes is rejected; these tests check what must hold
whatever it says: the cycle completes, the journal covers every stage, every committed memory
is grounded in its sources, the store stays consistent, and calls are recorded.
"""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path

import pytest

import sleepcycle
from sleepcycle import Config, MemoryStatus, MiniLMEmbedder
from sleepcycle.grounding import ungrounded
from sleepcycle.records import Outcome
from sleepkit import night

pytestmark = pytest.mark.slow


def test_a_real_sleep_keeps_its_invariants(home: Path, embedder: MiniLMEmbedder) -> None:
    config = Config.model_validate(
        {"sleep": {"reshape_rounds": 1, "max_operations": 3, "dreamer": "both"}}
    )
    with sleepcycle.open(home, "maya", embedder=embedder, config=config) as mind:
        mind.add("Maya lives in Manchester.")
        night(mind)
        report = mind.sleep()
        assert report.outcome is Outcome.DONE, report.sleep.error
        sleep_id = report.sleep.id

        _, entries = mind.journal()
        stages = {e.stage for e in entries}
        assert {"gather", "crunch", "dream", "verify", "commit"} <= stages
        assert any(e.kind == "summary" and e.stage == "commit" for e in entries)
        proposed = [e for e in entries if e.kind == "proposed" and e.stage == "dream"]
        judged = [e for e in entries if e.kind in ("passed", "failed")]
        assert len(judged) >= len(proposed)  # every proposal was judged

        d = mind.diff(sleep_id)
        for change in [*d.added, *d.changed]:
            assert change.after.sources, change
            evidence = [
                e.search_text
                for e in mind.store.episodes.get_many("maya", list(change.after.sources))
            ]
            if change.before is not None:
                evidence.append(change.before.text)
            assert ungrounded(change.after.text, evidence) == [], change

        episodes = mind.episodes()
        assert len(episodes) == 7 and {e.consolidated_in for e in episodes} == {sleep_id}
        for memory in mind.memories(statuses=list(MemoryStatus)):
            history = mind.history(memory.id)
            assert history[-1].version == memory.version
            # ``deep`` is bookkeeping a sleep sets without a version; the rest is versioned.
            assert history[-1].after.but(deep=memory.deep) == memory.state
            for older, newer in itertools.pairwise(history):
                assert newer.before == older.after
            assert memory.deep

        conn = sqlite3.connect(mind.store.path)
        calls = conn.execute(
            "SELECT role, model, tokens_in, tokens_out, ms, call_key FROM model_calls"
            " WHERE sleep_id = ?",
            (sleep_id,),
        ).fetchall()
        conn.close()
        dreamer_calls = [c for c in calls if c[0] == "dreamer"]
        assert dreamer_calls and all(c[1] == "SmolLM2-135M-Instruct.Q4_1" for c in dreamer_calls)
        assert all(c[2] > 0 and c[3] > 0 and c[4] > 0 for c in dreamer_calls)
        # Texts are judged Yes/No by the bundled judge adapter; operations without a text of
        # their own (remove, link) get the verifier's written verdict from the base model.
        verifier_calls = [c for c in calls if c[0] == "verifier"]
        judge_models = {c[1] for c in verifier_calls if ":choice:" in c[5]}
        verdict_models = {c[1] for c in verifier_calls if ":choice:" not in c[5]}
        assert judge_models <= {"SmolLM2-135M-Instruct.Q4_1+judge"}, judge_models
        assert verdict_models <= {"SmolLM2-135M-Instruct.Q4_1"}, verdict_models
        summary = report.summary
        assert summary["tokens"]["dreamer"]["tokens_out"] > 0
        assert 0 <= summary["outside_models_share"] < 1

        assert mind.sleep().outcome is Outcome.NOTHING_TO_DO
