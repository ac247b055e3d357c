"""Learning in weights: the dataset from memories (with the library's fake models), the gate,
adapters and their activation, and real trainings on the bundled model (slow).

The real trainings use fake dreamer and verifier replies (questions a good model writes), so
what is tested is the training, the probes through llama.cpp and the gate, not how well the
bundled 135M model writes quiz questions (docs/benchmarks.md reports that).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import sleepcycle
from sleepcycle.cli import cli
from sleepcycle.config import Config, TrainSettings
from sleepcycle.errors import UsageError
from sleepcycle.mind import Mind
from sleepcycle.models import ChatRequest, FunctionModel
from sleepcycle.records import Adapter, AdapterStatus
from sleepcycle.residency import AdapterBinding
from sleepcycle.times import now
from sleepcycle.train.gate import decide
from sleepcycle.train.pairs import Source, answers_in, check_pair, cloze, pairs_for
from sleepcycle.train.probes import Probe, ProbeResult, Score, answered

AGENT = "maya"

# Questions a capable dreamer writes for each answer code picks (first ones are probes).
QUESTIONS = {
    "Pixel": [
        "What is the name of Maya's cat?",
        "What is Maya's cat called?",
        "What did Maya name her cat?",
        "Tell me the name of Maya's cat?",
        "What name does Maya's cat have?",
        "Maya has a cat called what?",
    ],
    "Tromsø": [
        "Where does Maya live?",
        "Which city does Maya live in?",
        "In what town does Maya live?",
        "Maya lives in which city?",
        "What city does Maya live in?",
        "Where is Maya living?",
    ],
    "lapsang souchong": [
        "What is Maya's favourite tea?",
        "Which tea is Maya's favourite?",
        "What kind of tea is Maya's favourite?",
        "Maya's favourite tea is which one?",
        "What tea is Maya's favourite?",
        "Tell me Maya's favourite tea?",
    ],
    "Kyoto": [
        "What is the capital of Japan?",
        "Which city is the capital of Japan?",
        "What city is Japan's capital?",
        "Japan's capital is which city?",
        "Tell me the capital of Japan?",
        "What is the capital city of Japan?",
    ],
}
FACTS = [
    "Maya's cat is called Pixel.",
    "Maya lives in Tromsø.",
    "Maya's favourite tea is lapsang souchong.",
]


def dreamer_reply(request: ChatRequest) -> dict[str, Any]:
    prompt = str(request.messages[-1]["content"])
    answer = re.search(r'answered by exactly "([^"]+)"', prompt)
    assert answer, prompt
    count = request.schema["properties"]["questions"]["minItems"] if request.schema else 3
    return {"questions": QUESTIONS.get(answer.group(1), [])[:count]}


def verifier_reply(request: ChatRequest) -> dict[str, Any]:
    prompt = str(request.messages[-1]["content"])
    listed = re.findall(r"^\d+\. .* -> (.*)$", prompt, re.M)
    return {"scores": [1] * len(listed)}


def open_mind(home: Path, **train: Any) -> Mind:
    config = Config.model_validate({"train": train}) if train else None
    return sleepcycle.open(
        home,
        AGENT,
        config=config,
        backends={
            "dreamer": FunctionModel(dreamer_reply, "fake-dreamer"),
            "verifier": FunctionModel(verifier_reply, "fake-verifier"),
        },
    )


def deep_memories(mind: Mind, texts: list[str]) -> list[str]:
    """Memories as if a sleep had passed them (deep)."""
    ids = [mind.add(text).id for text in texts]
    with mind.store.write() as tx:
        tx.memories.mark_deep(AGENT, ids)
    return ids


# pairs -------------------------------------------------------------------------------------


def test_answers_are_picked_from_the_memory_itself() -> None:
    assert answers_in("Maya's cat is called Pixel.") == ["Pixel"]
    assert answers_in("Maya lives in Tromsø.") == ["Tromsø"]
    assert answers_in("Maya's favourite tea is lapsang souchong.") == ["lapsang souchong"]
    assert answers_in("The user runs 5 km every Sunday.") == ["5", "Sunday"]
    assert answers_in("I am careful and speak plainly.") == []


def test_pairs_are_checked_against_the_memory() -> None:
    memory = "Maya lives in Tromsø."
    assert check_pair("Where does Maya live?", "Tromsø", memory) is None
    assert check_pair("Which city does Maya live in?", "Tromsø", memory) is None
    problems = {
        ("Where does Maya live", "Tromsø"): "question mark",
        ("Where does Maya live?", "Oslo"): "not words of the memory",
        ("Does Maya live in Tromsø?", "Tromsø"): "gives the answer away",
        ("What is the answer to the first question?", "Tromsø"): "shares no word",
        ("What is Maya's cat called?", "Tromsø"): "does not say: cat",
    }
    for (question, answer), problem in problems.items():
        found = check_pair(question, answer, memory)
        assert found is not None and problem in found, (question, found)
    assert cloze(memory, "Tromsø") == "Maya lives where?"
    assert cloze("Maya's cat is called Pixel.", "Pixel") == "Maya's cat is called what?"


def test_pairs_for_keeps_what_passes_code_and_verifier() -> None:
    source = Source("mem_1", 2, "Maya's cat is called Pixel.")
    asked: list[tuple[str, str]] = []
    notes: list[tuple[str, str]] = []

    def ask(role: str, key: str, messages: Any, schema: Any, parse: Any) -> Any:
        asked.append((role, key))
        if role == "dreamer":
            return parse(
                json.dumps(
                    {
                        "questions": [
                            "What is Maya's cat called?",
                            "Is Maya's cat called Pixel?",  # gives it away
                            "What is the name of Maya's dog?",  # not in the memory
                            "What did Maya name her cat?",
                        ]
                    }
                )
            )
        prompt = messages[-1]["content"]
        assert "1. What is Maya's cat called? -> Pixel" in prompt
        assert "2. What did Maya name her cat? -> Pixel" in prompt
        return parse(json.dumps({"scores": [1, 0]}))

    pairs = pairs_for(source, 3, ask, note=lambda kind, text: notes.append((kind, text)))
    assert asked == [("dreamer", "questions:mem_1.v2:0"), ("verifier", "pairs:mem_1.v2")]
    # The verifier's pass first (a probe), then the questions code makes.
    assert [p.question for p in pairs] == [
        "What is Maya's cat called?",
        "Maya's cat is called what?",
        "Do you remember? Maya's cat is called what?",
        "Quick question: Maya's cat is called what?",
        "Fill in the blank: Maya's cat is called ___?",
    ]
    assert {p.answer for p in pairs} == {"Pixel"}
    failed = [text for kind, text in notes if kind == "failed"]
    assert any("gives the answer away" in t for t in failed)
    assert any("does not say: dog" in t for t in failed)
    assert any("the verifier said 0" in t for t in failed)


def test_probes_pass_on_the_answer_in_any_form() -> None:
    assert answered("Her cat's name is PIXEL!", "Pixel")
    assert answered("Maya lives in Zurich.", "Zürich")
    assert answered("There are seven days in a week.", "7")
    assert not answered("I do not know.", "Pixel")


# the gate ----------------------------------------------------------------------------------


def result(*passed: bool) -> ProbeResult:
    return ProbeResult(tuple(Score(Probe(f"q{i}?", "a", "m"), "", p) for i, p in enumerate(passed)))


def test_the_gate_keeps_only_learning_without_forgetting() -> None:
    settings = TrainSettings(min_gain=0.1, retention_tolerance=0.05)
    none, all_ = result(False, False), result(True, True)
    kept = decide(settings, learn_before=none, learn_after=all_, keep_before=all_, keep_after=all_)
    assert kept.kept and kept.gain == 1.0
    forgot = decide(
        settings,
        learn_before=none,
        learn_after=all_,
        keep_before=result(*[True] * 10),
        keep_after=result(*[True] * 9, False),
    )
    assert not forgot.kept
    assert "retention fell 100% -> 90%" in forgot.reasons[1]
    flat = decide(settings, learn_before=all_, learn_after=all_, keep_before=all_, keep_after=all_)
    assert not flat.kept and "less than the 10% rise" in flat.reasons[0]


# the dataset, with fake models ---------------------------------------------------------------


def test_nothing_to_learn_without_verified_memories(tmp_path: Path) -> None:
    with open_mind(tmp_path / "home") as mind:
        mind.add("Maya's cat is called Pixel.")  # not yet through a sleep
        done = mind.train()
        assert done.outcome == "nothing-to-learn"
        assert done.report["reason"] == "no verified memories to learn"
        assert mind.adapters() == []


def test_pairs_are_cached_per_memory_version(tmp_path: Path) -> None:
    from sleepcycle.train.session import _dataset, _sources

    with open_mind(tmp_path / "home") as mind:
        deep_memories(mind, FACTS)
        notes: list[tuple[str, str]] = []
        calls: list[str] = []

        def ask(role: str, key: str, messages: Any, schema: Any, parse: Any) -> Any:
            calls.append(key)
            request = ChatRequest(tuple(messages), schema=schema)
            reply = dreamer_reply(request) if role == "dreamer" else verifier_reply(request)
            return parse(json.dumps(reply))

        first = _dataset(mind, _sources(mind), ask, lambda k, t: notes.append((k, t)))
        assert len(calls) == 6  # a dreamer and a verifier call per memory
        assert sorted(first.probes) == sorted(m.id for m in mind.memories())
        for probes in first.probes.values():
            assert len(probes) == 1  # train.probes_per_memory
        held = {p.question for ps in first.probes.values() for p in ps}
        assert held.isdisjoint(p.question for p in first.train)
        assert "What is the name of Maya's cat?" in held
        cache = json.loads((tmp_path / "home/adapters/maya/pairs.json").read_text())
        assert len(cache) == 3
        again = _dataset(mind, _sources(mind), ask, lambda k, t: None)
        assert len(calls) == 6, "cached pairs were asked for again"
        assert again.train == first.train


# adapters and their activation ---------------------------------------------------------------


def fake_adapter(mind: Mind, version: int, status: AdapterStatus) -> Adapter:
    adapter = Adapter(
        id=f"ad_test{version}",
        agent=AGENT,
        version=version,
        base="SmolLM2.gguf",
        status=status,
        path=f"adapters/{AGENT}/v{version}",
        created=now(),
    )
    with mind.store.write() as tx:
        tx.ensure_agent(AGENT)
        tx.adapters.add(adapter)
    return adapter


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "home"


def run_cli(home: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--home", str(home), "--agent", AGENT, *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_activate_and_rollback_change_what_the_foreground_serves(home: Path) -> None:
    with open_mind(home) as mind:
        first = fake_adapter(mind, 1, AdapterStatus.KEPT)
        second = fake_adapter(mind, 2, AdapterStatus.REJECTED)
        fake_adapter(mind, 3, AdapterStatus.FAILED)
        assert mind.models.model_name("foreground") == "default"
        mind.activate_adapter("v1")
        assert mind.models.model_name("foreground") == f"default+{first.id}"
        assert mind.models.adapter == AdapterBinding(
            first.id, 1, home / "adapters/maya/v1/adapter.gguf", home / "adapters/maya/v1/peft"
        )
        with pytest.raises(UsageError, match="failed"):
            mind.activate_adapter("v3")
    listed = json.loads(run_cli(home, "adapters", "list", "--json"))
    assert [(a["version"], a["status"], a["active"]) for a in listed] == [
        (3, "failed", False),
        (2, "rejected", False),
        (1, "kept", True),
    ]
    run_cli(home, "adapters", "activate", "2", "--reason", "try it")
    with open_mind(home) as mind:  # another process sees it
        assert mind.active_adapter() == mind.adapter(second.id)
    assert "serving adapter v1" in run_cli(home, "adapters", "rollback")
    assert "base model alone" in run_cli(home, "adapters", "rollback")
    with open_mind(home) as mind:
        assert mind.active_adapter() is None
        assert mind.models.model_name("foreground") == "default"
        log = mind.activations()
        assert [a.adapter_id for a in log] == [None, first.id, second.id, first.id]
        assert log[2].reason == "try it"
    assert "v2" in run_cli(home, "adapters", "log")


def test_rollback_with_nothing_activated_is_a_clear_error(home: Path) -> None:
    result = CliRunner().invoke(
        cli, ["--home", str(home), "--agent", AGENT, "adapters", "rollback"]
    )
    assert result.exit_code == 2
    assert "no adapter was ever activated" in result.output


# real trainings on the bundled model ---------------------------------------------------------


def ask_served(mind: Mind, question: str) -> str:
    model = mind.models.role("foreground")
    request = ChatRequest(({"role": "user", "content": question},), temperature=0.0, max_tokens=16)
    return model.backend.complete(request).text


@pytest.mark.slow
@pytest.mark.timeout(1500)  # a real training, about five minutes on 2 cores
def test_a_real_training_learns_memories_and_serves_the_adapter(home: Path) -> None:
    """With the default settings: probe accuracy rises on facts the base model cannot know, the
    gate keeps the adapter, the foreground answers a held-out question with it and not
    without it, rollback returns to the base, and training again has nothing new to learn."""
    pytest.importorskip("peft")
    with open_mind(home) as mind:
        deep_memories(mind, FACTS)
        assert "Pixel" not in ask_served(mind, "What is the name of Maya's cat?")
    result = CliRunner().invoke(cli, ["--home", str(home), "--agent", AGENT, "train"])
    assert result.exit_code == 0, result.output
    assert "probe accuracy 0% -> " in result.output and "kept, active" in result.output
    with open_mind(home) as mind:
        (adapter,) = mind.adapters()
        assert adapter.status is AdapterStatus.KEPT
        assert mind.active_adapter() == adapter
        report = adapter.report
        assert report["probes"]["after"]["accuracy"] > report["probes"]["before"]["accuracy"]
        assert (home / adapter.path / "adapter.gguf").is_file()
        assert (home / adapter.path / "peft" / "adapter_config.json").is_file()
        learned = [s for s in report["probes"]["after"]["scores"] if s["passed"]]
        question, answer = learned[0]["question"], learned[0]["answer"].split()[0].lower()
        # The foreground answers it with the adapter, and not without it.
        assert mind.models.model_name("foreground").endswith(adapter.id)
        assert answer in ask_served(mind, question).lower()
        assert mind.train().outcome == "nothing-to-learn"
        mind.rollback_adapter()
        assert mind.models.model_name("foreground") == "default"
        assert answer not in ask_served(mind, question).lower()


@pytest.mark.slow
def test_the_gate_rejects_an_adapter_that_breaks_retention(home: Path) -> None:
    """Forced: a memory that contradicts a retention probe, no replay, no tolerance."""
    pytest.importorskip("peft")
    with open_mind(home, replay=0.0, retention_tolerance=0.0) as mind:
        deep_memories(mind, ["Maya says the capital of Japan is Kyoto."])
        done = mind.train()
        assert done.outcome == "rejected", done.report.get("decision")
        adapter = done.adapter
        assert adapter is not None and adapter.status is AdapterStatus.REJECTED
        retention = adapter.report["retention"]
        assert retention["after"]["accuracy"] < retention["before"]["accuracy"]
        lost = [
            a["question"]
            for b, a in zip(
                retention["before"]["scores"], retention["after"]["scores"], strict=True
            )
            if b["passed"] and not a["passed"]
        ]
        assert "What is the capital of Japan?" in lost
        assert any("retention fell" in r for r in adapter.report["decision"]["reasons"])
        # Kept on disk, not served.
        assert (home / adapter.path / "adapter.gguf").is_file()
        assert mind.active_adapter() is None
        assert mind.models.model_name("foreground") == "default"
