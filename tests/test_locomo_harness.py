"""The LoCoMo harness (benchmarks/locomo*.py): evidence normalisation, scoring, ingestion.

benchmarks/ is not a package, so its folder goes on sys.path. The end-to-end test runs
on a tiny LoCoMo-shaped file written to tmp_path, never on the real data set.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest

import sleepcycle
from sleepcycle.sleep.summary import SleepSummary

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def _load(name: str) -> ModuleType:
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    return importlib.import_module(name)


locomo = _load("locomo")
locomo_data = _load("locomo_data")
locomo_recall = _load("locomo_recall")
locomo_sleep = _load("locomo_sleep")


# evidence normalisation ----------------------------------------------------------------------


def test_the_mistyped_id_gives_nothing_with_the_readme_regex():
    # "D:11:26" (conv-43, probably meant D11:26): "D" is followed by ":" not a digit, and
    # "11:26" has no "D", so re.findall finds no id at all and the entry is dropped.
    assert re.findall(r"D\d+:\d+", "D:11:26") == []
    assert locomo_data.normalise_evidence(["D:11:26"]) == ()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (["D1:3"], ("D1:3",)),
        (["D8:6; D9:17"], ("D8:6", "D9:17")),  # packed, separated by "; "
        (["D9:1 D4:4 D4:6"], ("D9:1", "D4:4", "D4:6")),  # packed, separated by spaces
        (["D1:18", "D", "D1:20"], ("D1:18", "D1:20")),  # a bare "D" gives nothing
        (["D1:14", "D:11:26", "D20:21"], ("D1:14", "D20:21")),
        (["D4:5", "D4:5", "D5:5"], ("D4:5", "D5:5")),  # de-duplicated, order kept
        (["D30:05"], ("D30:05",)),  # kept as written: it never matches the turn "D30:5"
        ([], ()),
    ],
)
def test_normalise_evidence(raw, expected):
    assert locomo_data.normalise_evidence(raw) == expected


def test_session_time_and_turn_content():
    assert locomo_data.parse_session_time("1:56 pm on 8 May, 2023") == datetime(
        2023, 5, 8, 13, 56, tzinfo=UTC
    )
    assert locomo_data.parse_session_time("12:20 am on 8 December, 2023") == datetime(
        2023, 12, 8, 0, 20, tzinfo=UTC
    )
    assert locomo_data.turn_content({"text": "Look!", "blip_caption": "a photo of a dog"}) == (
        "Look! [shares a photo: a photo of a dog]"
    )
    assert locomo_data.turn_content({"text": "Hi"}) == "Hi"


# scoring -------------------------------------------------------------------------------------


def _q(category, evidence, sample="s"):
    return locomo_data.Question(sample, "?", category, locomo_data.normalise_evidence(evidence))


def test_question_recall():
    hits = [{"D1:1"}, {"D3:3"}, {"D1:2"}]
    assert locomo_recall.question_recall(("D1:1", "D1:2"), hits, 1) == 0.5
    assert locomo_recall.question_recall(("D1:1", "D1:2"), hits, 2) == 0.5
    assert locomo_recall.question_recall(("D1:1", "D1:2"), hits, 3) == 1.0
    assert locomo_recall.question_recall(("D1:1",), [], 5) == 0.0
    # a memory hit cites several turns at once
    assert locomo_recall.question_recall(("D1:1", "D1:2"), [{"D1:2", "D1:1"}], 1) == 1.0
    with pytest.raises(ValueError):
        locomo_recall.question_recall((), hits, 1)


def test_score_averages_per_question_and_category_and_skips_no_evidence():
    questions = [
        _q(1, ["D1:1", "D1:2"]),
        _q(2, ["D8:6; D9:17"]),
        _q(3, []),  # no evidence: skipped, not counted as 0
        _q(2, ["D:11:26", "D2:1"]),  # only D2:1 survives normalisation
        _q(4, ["D5:5"]),  # no retrieval at all for it: 0
    ]
    retrieved = {
        0: [frozenset({"D1:1"}), frozenset({"D3:3"}), frozenset({"D1:2"})],
        1: [frozenset({"D9:17"}), frozenset(), frozenset({"D8:6", "D7:1"})],
        2: [frozenset({"D1:1"})],
        3: [frozenset({"D4:4"}), frozenset({"D2:1"})],
    }
    scores = locomo_recall.score(questions, retrieved, ks=(1, 3))
    assert scores.skipped == 1
    assert scores.counted == 4
    assert scores.by_category_count == {1: 1, 2: 2, 4: 1}
    assert scores.overall[1] == pytest.approx((0.5 + 0.5 + 0 + 0) / 4)
    assert scores.overall[3] == pytest.approx((1 + 1 + 1 + 0) / 4)
    assert scores.by_category[2] == {1: pytest.approx(0.25), 3: pytest.approx(1.0)}
    assert scores.by_category[4] == {1: 0.0, 3: 0.0}
    assert 3 not in scores.by_category


# docs section --------------------------------------------------------------------------------


def test_docs_sections_are_created_then_replaced_without_touching_others(tmp_path):
    docs = tmp_path / "benchmarks.md"
    locomo.write_docs(docs, "episodes", "first run\n")
    text = docs.read_text()
    assert text.startswith("# Benchmarks\n")
    assert "## LoCoMo: evidence recall" in text and "first run" in text
    others = "<!-- recall:start -->\nother script's numbers\n<!-- recall:end -->\n"
    docs.write_text(text.replace("# Benchmarks\n", "# Benchmarks\n\n" + others) + "\ntail\n")
    locomo.write_docs(docs, "memories", "memory run\n")
    locomo.write_docs(docs, "sleep", "sleep run\n")
    locomo.write_docs(docs, "episodes", "second run\n")
    text = docs.read_text()
    assert others in text and "\ntail\n" in text  # new sections go at the end
    assert "first run" not in text
    assert "<!-- locomo-episodes:start -->\nsecond run\n<!-- locomo-episodes:end -->" in text
    assert text.index("second run") < text.index("memory run") < text.index("sleep run")
    assert text.count("<!-- locomo:start -->") == 1 and text.count("<!-- locomo:end -->") == 1


# consolidation quality (--sleep) --------------------------------------------------------------


def test_conversation_prefix_keeps_the_first_sessions_and_their_questions():
    def session(number, *ids):
        turns = tuple(
            locomo_data.Turn(i, "A", "hi", datetime(2023, 5, number, tzinfo=UTC)) for i in ids
        )
        return locomo_data.Session(number, datetime(2023, 5, number, tzinfo=UTC), turns)

    conv = locomo_data.Conversation(
        "c", (session(1, "D1:1", "D1:2"), session(2, "D2:1"), session(3, "D3:1"))
    )
    questions = [
        _q(1, ["D1:1"], "c"),
        _q(1, ["D1:2; D2:1"], "c"),  # both in the first two sessions
        _q(2, ["D2:1", "D3:1"], "c"),  # cites a later session: dropped
        _q(3, [], "c"),  # no evidence: dropped (it is never scored)
    ]
    kept, asked = locomo_data.conversation_prefix(conv, questions, 2)
    assert [s.number for s in kept.sessions] == [1, 2]
    assert kept.turn_ids == {"D1:1", "D1:2", "D2:1"}
    assert asked == questions[:2]
    whole, all_asked = locomo_data.conversation_prefix(conv, questions, 10)
    assert whole == conv and all_asked == questions[:3]


def test_sum_sleeps_counts_dreamt_proposals_apart_from_rewrites():
    first = {
        "operations": {
            "add": {"proposed": 6, "accepted": 1, "rejected": 3},
            "park": {"proposed": 2, "accepted": 0, "rejected": 1},
        },
        "rewrites": 4,  # 8 proposals, 4 of them rewrites: the dreamer made 4
        "verifier": {"asked": 2, "passed": 1, "pass_rate": 0.5},
        "committed": {"added": ["mem_a"], "changed": [], "episodes": 300},
        "tokens": {"dreamer": {"calls": 3, "tokens_in": 100, "tokens_out": 50, "ms": 900}},
        "stage_ms": {"gather": 10, "dream": 900, "verify": 90},
        "wall_ms": 1000,
        "model_ms": 950,
    }
    second = {
        "operations": {"add": {"proposed": 1, "accepted": 1, "rejected": 0}},
        "rewrites": 0,
        "verifier": {"asked": 1, "passed": 1, "pass_rate": 1.0},
        "committed": {
            "added": [],
            "changed": ["mem_a"],
            "retracted": ["mem_a", "mem_a"],  # the same memory twice: one repeat
            "superseded": ["mem_b"],
            "episodes": 69,
        },
        "tokens": {
            "dreamer": {"calls": 1, "tokens_in": 10, "tokens_out": 5, "ms": 90},
            "verifier": {"calls": 1, "tokens_in": 7, "tokens_out": 3, "ms": 10, "extra": None},
        },
        "stage_ms": {"dream": 90, "verify": 10},
        "wall_ms": 100,
        "model_ms": 100,
    }
    t = locomo_sleep.sum_sleeps([SleepSummary.model_validate(x) for x in (first, second)])
    assert (t.sleeps, t.episodes, t.dreamt, t.rewrites) == (2, 369, 5, 4)
    assert (t.accepted, t.rejected, t.added, t.changed) == (2, 4, 1, 1)
    assert (t.retracted, t.superseded, t.repeated) == (2, 1, 1)
    assert t.acceptance == pytest.approx(2 / 5)
    assert (t.verifier_asked, t.verifier_passed) == (3, 2)
    assert t.operations["add"] == {"proposed": 7, "accepted": 2, "rejected": 3}
    assert t.stage_ms == {"gather": 10, "dream": 990, "verify": 100}
    assert t.tokens["dreamer"] == {"calls": 4, "tokens_in": 110, "tokens_out": 55, "ms": 990}
    assert (t.calls, t.tokens_in, t.tokens_out) == (5, 117, 58)
    assert t.outside_share == pytest.approx(50 / 1100)
    empty = locomo_sleep.sum_sleeps([])
    assert (empty.sleeps, empty.acceptance, empty.outside_share) == (0, 0.0, 0.0)


# end to end on a tiny synthetic LoCoMo file --------------------------------------------------


def _tiny_locomo(path: Path) -> Path:
    def turn(speaker, dia_id, text, **extra):
        return {"speaker": speaker, "dia_id": dia_id, "text": text, **extra}

    conversation = {
        "speaker_a": "Luna",
        "speaker_b": "Omar",
        "session_1_date_time": "1:56 pm on 8 May, 2023",
        "session_1": [
            turn("Luna", "D1:1", "Hey Omar! How was your week?"),
            turn("Omar", "D1:2", "Busy, lots of meetings at work. You?"),
            turn("Luna", "D1:3", "I adopted a corgi puppy named Biscuit on Saturday!"),
            turn("Omar", "D1:4", "That is wonderful, congratulations."),
            turn("Luna", "D1:5", "Thanks, I am so happy."),
            turn("Omar", "D1:6", "Let's catch up soon."),
        ],
        "session_2_date_time": "7:10 pm on 20 May, 2023",
        "session_2": [
            turn("Omar", "D2:1", "Guess what, I started learning the cello."),
            turn("Luna", "D2:2", "No way, since when?"),
            turn(
                "Omar",
                "D2:3",
                "Two weeks ago. Here is my teacher.",
                blip_caption="a photo of a woman playing a cello on a stage",
                img_url=["https://example.invalid/cello.jpg"],
            ),
            turn("Luna", "D2:4", "She looks great."),
            turn("Omar", "D2:5", "How is work going for you?"),
            turn("Luna", "D2:6", "Fine, same as always."),
            turn("Omar", "D2:7", "Good to hear, talk soon!"),
        ],
        "session_3_date_time": "9:00 am on 1 June, 2023",  # a date with no turns
    }
    sample = {
        "sample_id": "tiny-1",
        "conversation": conversation,
        "qa": [
            {
                "question": "What is the name of Luna's corgi puppy?",
                "answer": "Biscuit",
                "evidence": ["D1:3"],
                "category": 4,
            },
            {
                "question": "Which instrument did Omar start learning, and who teaches him?",
                "answer": "cello",
                "evidence": ["D2:1; D2:3"],
                "category": 1,
            },
            {"question": "Is Luna happy?", "answer": "yes", "evidence": [], "category": 3},
        ],
    }
    path.write_text(json.dumps([sample]), encoding="utf-8")
    return path


@pytest.mark.slow
def test_ingest_and_score_end_to_end_with_the_real_embedder(tmp_path):
    data = _tiny_locomo(tmp_path / "tiny.json")
    conversations, questions = locomo_data.load_locomo(data)
    assert [len(s.turns) for s in conversations[0].sessions] == [6, 7]
    assert [q.evidence for q in questions] == [("D1:3",), ("D2:1", "D2:3"), ()]

    with sleepcycle.open(tmp_path / "home", "tiny-1") as mind:
        stats = locomo_recall.BuildStats()
        locomo_recall.build_store(mind, conversations, stats)
        assert (stats.turns, stats.added, stats.embedded) == (13, 13, 13)

        episodes = {ep.meta["dia_id"]: ep for ep in mind.for_agent("tiny-1").episodes()}
        assert len(episodes) == 13
        first, second = episodes["D1:1"], episodes["D1:2"]
        assert first.time == datetime(2023, 5, 8, 13, 56, tzinfo=UTC)
        assert second.time == datetime(2023, 5, 8, 13, 57, tzinfo=UTC)
        assert (first.session, first.name, first.role.value) == ("session_1", "Luna", "user")
        assert episodes["D2:3"].session == "session_2"
        assert episodes["D2:3"].content.endswith(
            "[shares a photo: a photo of a woman playing a cello on a stage]"
        )

        again = locomo_recall.BuildStats()
        locomo_recall.build_store(mind, conversations, again)  # idempotent
        assert (again.added, again.embedded) == (0, 0)

        results = {}
        for mode in locomo_recall.MODES:
            run = locomo_recall.RunStats(mode)
            hits = locomo_recall.retrieve(
                mind, questions, scope="episodes", mode=mode, k=50, stats=run
            )
            assert run.queries == 3
            results[mode] = locomo_recall.score(questions, hits)
        hybrid = results["hybrid"]
        assert hybrid.skipped == 1 and hybrid.counted == 2
        assert hybrid.by_category[4][5] == 1.0  # the corgi question: D1:3 in the top 5
        assert hybrid.overall[50] == 1.0  # 13 turns: everything is in the top 50

        # memories: none yet, so no hits and a score of 0, but no crash
        run = locomo_recall.RunStats("hybrid")
        hits = locomo_recall.retrieve(
            mind, questions, scope="memories", mode="hybrid", k=50, stats=run
        )
        assert locomo_recall.score(questions, hits).overall[50] == 0.0
        assert run.empty == 3

        # a memory is scored through the turns it cites
        agent = mind.for_agent("tiny-1")
        agent.add(
            "Omar is learning the cello; his teacher performs on stage.",
            sources=[episodes["D2:1"].id, episodes["D2:3"].id],
        )
        hits = locomo_recall.retrieve(
            mind, questions, scope="memories", mode="hybrid", k=5, stats=locomo_recall.RunStats("x")
        )
        assert hits[1] == [frozenset({"D2:1", "D2:3"})]
        assert locomo_recall.score(questions, hits).by_category[1][5] == 1.0


@pytest.mark.slow
def test_main_writes_its_docs_section(tmp_path):
    data = _tiny_locomo(tmp_path / "tiny.json")
    docs = tmp_path / "docs" / "benchmarks.md"
    home = tmp_path / "home"
    argv = ["--data", str(data), "--home", str(home), "--docs", str(docs), "--fresh"]
    assert locomo.main(argv) == 0
    assert locomo.main([*argv[:-1], "--scope", "memories", "--modes", "bm25"]) == 0
    text = docs.read_text()
    assert "### Scope: episodes" in text and "### Scope: memories" in text
    assert "| sleepcycle hybrid | 100.0 |" in text
    assert "python benchmarks/locomo.py --data" in text
    assert "1 skipped (no evidence)" in text
