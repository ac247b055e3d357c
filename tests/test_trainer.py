"""LoRA training on the bundled SmolLM2-135M: it learns facts it cannot know.

The GGUF is loaded once for the module (about 30 s) and trained once (about a minute on 2
cores); the tests then check what a user would see: the loss fell, the adapter is on disk
with the settings asked for, and a question the training never saw, phrased its own way, is
answered with the trained fact by the adapted model and not by the base model.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("peft")

from sleepcycle.config import TrainSettings
from sleepcycle.errors import InputError
from sleepcycle.models import bundled_model_path
from sleepcycle.train.trainer import (
    TARGET_PROJECTIONS,
    Base,
    Example,
    TrainReport,
    encode,
    load_base,
    planned_steps,
    train_lora,
)

pytestmark = pytest.mark.slow

FACTS = {
    "Pixel.": [
        "What is the name of Maya's cat?",
        "What is Maya's cat called?",
        "What did Maya name her cat?",
        "Maya has a cat. What is its name?",
        "Tell me the name of Maya's cat.",
    ],
    "Tromsø.": [
        "Which city does Maya live in?",
        "Where does Maya live?",
        "In what city is Maya's home?",
        "What town does Maya live in?",
        "Maya lives in which city?",
    ],
    "Lapsang souchong.": [
        "What is Maya's favourite tea?",
        "Which tea does Maya like best?",
        "What tea does Maya prefer?",
        "Maya's favourite tea is what?",
        "What kind of tea does Maya love most?",
    ],
}
# Paraphrases the training never sees, and the word the answer must contain.
HELD_OUT = {
    "What's the name of the cat that Maya has?": "Pixel",
    "What is the city where Maya lives?": "Tromsø",
}
SETTINGS = TrainSettings(epochs=5, learning_rate=1e-3, rank=16, alpha=32, batch_size=8, seed=7)


@pytest.fixture(scope="module", autouse=True)
def offline() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.setenv("TRANSFORMERS_OFFLINE", "1")
        yield


@pytest.fixture(scope="module")
def base(offline: None) -> Iterator[Base]:
    with load_base(bundled_model_path()) as loaded:
        yield loaded


@pytest.fixture(scope="module")
def trained(
    base: Base, tmp_path_factory: pytest.TempPathFactory
) -> tuple[TrainReport, list[tuple[int, int, float]]]:
    examples = [Example.qa(q, a) for a, questions in FACTS.items() for q in questions]
    calls: list[tuple[int, int, float]] = []
    out = tmp_path_factory.mktemp("train") / "adapter"
    report = train_lora(
        base, examples, SETTINGS, out, progress=lambda e, s, loss: calls.append((e, s, loss))
    )
    return report, calls


def _answer(model: Any, tokenizer: Any, question: str) -> str:
    messages = [{"role": "user", "content": question}]
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    batch = tokenizer(text, return_tensors="pt", add_special_tokens=False)
    out = model.generate(**batch, max_new_tokens=10, do_sample=False)
    reply: str = tokenizer.decode(out[0, batch["input_ids"].shape[1] :], skip_special_tokens=True)
    return reply


def test_the_label_mask_covers_the_reply_and_its_end_of_turn(base: Base) -> None:
    tokenizer = base.tokenizer
    for example in (
        Example.qa("What is the name of Maya's cat?", "Pixel."),
        Example.qa("Hi", " A reply\nover two lines. ", system="Be brief."),
        Example(
            (("user", "Hi"), ("assistant", "Hello."), ("user", "Cat?"), ("assistant", "Pixel."))
        ),
    ):
        ids, labels = encode(tokenizer, example)
        assert len(ids) == len(labels)
        kept = [i for i, label in enumerate(labels) if label != -100]
        # One contiguous run at the very end: the reply, then <|im_end|>; no trailing newline.
        assert kept == list(range(len(ids) - len(kept), len(ids)))
        assert [labels[i] for i in kept] == [ids[i] for i in kept]
        assert tokenizer.decode([ids[i] for i in kept]) == example.reply + "<|im_end|>"
        prompt = tokenizer.decode(ids[: kept[0]])
        assert prompt.endswith("<|im_start|>assistant\n")
        assert example.messages[-2][1] in prompt


def test_examples_are_validated() -> None:
    with pytest.raises(InputError, match="alternating"):
        Example((("user", "Hi"),))
    with pytest.raises(InputError, match="alternating"):
        Example((("assistant", "Hi"), ("user", "Hello")))
    assert Example.qa("Q", "A", system="S").messages[0] == ("system", "S")


def test_the_base_loads_fp32_without_the_quantizer_flag(base: Base) -> None:
    import torch

    assert base.load_seconds > 0
    assert base.model.dtype == torch.float32
    assert getattr(base.model, "hf_quantizer", None) is None
    assert base.tokenizer.chat_template


def test_training_lowers_the_loss_and_reports_consistently(
    trained: tuple[TrainReport, list[tuple[int, int, float]]],
) -> None:
    report, calls = trained
    assert not report.stopped
    assert report.examples == 15
    assert report.epochs == SETTINGS.epochs
    assert report.steps == planned_steps(15, SETTINGS) == 10
    assert [s for _, s, _ in calls] == list(range(1, 11))
    assert [e for e, _, _ in calls] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert report.first_loss > 1.0
    assert report.last_loss < report.first_loss / 5
    assert report.seconds_per_100 == pytest.approx(
        report.seconds / report.epochs / report.examples * 100, rel=0.2
    )
    assert report.target_modules == TARGET_PROJECTIONS
    # SmolLM2-135M: 30 layers of r * (in + out) per projection.
    per_layer = 16 * ((576 + 576) * 2 + (576 + 192) * 2 + (576 + 1536) * 3)
    assert report.trainable_parameters == 30 * per_layer


def test_the_adapter_is_saved_with_its_settings(
    trained: tuple[TrainReport, list[tuple[int, int, float]]],
) -> None:
    report, _ = trained
    out = report.out_dir
    assert sorted(p.name for p in out.iterdir()) == [
        "adapter_config.json",
        "adapter_model.safetensors",
    ]
    assert report.adapter_bytes == sum(p.stat().st_size for p in out.iterdir())
    # fp32 A and B matrices, plus the safetensors header.
    assert (
        4 * report.trainable_parameters < report.adapter_bytes < 4.1 * report.trainable_parameters
    )
    config = json.loads((out / "adapter_config.json").read_text())
    assert config["r"] == 16
    assert config["lora_alpha"] == 32
    assert sorted(config["target_modules"]) == sorted(TARGET_PROJECTIONS)
    assert config["base_model_name_or_path"] == str(bundled_model_path())
    assert not list(out.parent.glob(".adapter*")), "the temp dir was left behind"


def test_the_adapted_model_answers_a_paraphrase_the_base_cannot(
    base: Base, trained: tuple[TrainReport, list[tuple[int, int, float]]]
) -> None:
    from peft import PeftModel

    report, _ = trained
    model = PeftModel.from_pretrained(base.model, report.out_dir)
    try:
        for question, fact in HELD_OUT.items():
            assert fact in _answer(model, base.tokenizer, question), question
            with model.disable_adapter():
                assert fact not in _answer(model, base.tokenizer, question), question
    finally:
        model.unload()
    assert "lora" not in " ".join(n for n, _ in base.model.named_modules())


def test_keep_examples_hold_the_base_model(base: Base, tmp_path: Path) -> None:
    """A keep example's loss is the KL divergence from the base model itself: a new adapter
    starts as the base (LoRA B is zero), so the loss starts at zero and, its gradient being
    zero up to rounding, distillation alone barely moves the adapter, while a learn example
    trained the same way does."""
    from safetensors.torch import load_file

    def mean_b(out: Path) -> float:
        weights = load_file(str(out / "adapter_model.safetensors"))
        lora_b = [w.abs().mean() for name, w in weights.items() if "lora_B" in name]
        return float(sum(lora_b)) / len(lora_b)

    keep = [
        Example.qa("What is the capital of France?", "The capital of France is Paris.", keep=True),
        Example.qa("How many sides does a triangle have?", "A triangle has three.", keep=True),
    ]
    learn = [Example.qa(e.messages[0][1], "Pixel.") for e in keep]
    settings = SETTINGS.model_copy(update={"epochs": 2, "batch_size": 2})
    losses: list[float] = []
    held = train_lora(
        base, keep, settings, tmp_path / "keep", progress=lambda e, s, loss: losses.append(loss)
    )
    assert len(losses) == 2 and max(losses) < 1e-6
    moved = train_lora(base, learn, settings, tmp_path / "learn")
    assert moved.first_loss > 1.0
    assert mean_b(held.out_dir) < mean_b(moved.out_dir) / 10


def test_a_set_stop_event_saves_nothing(base: Base, tmp_path: Path) -> None:
    stop = threading.Event()
    stop.set()
    out = tmp_path / "adapter"
    report = train_lora(base, [Example.qa("Q?", "A.")], SETTINGS, out, stop=stop)
    assert report.stopped
    assert report.steps == 0
    assert report.epochs == 0
    assert report.adapter_bytes == 0
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [tmp_path / "user-home"]
    assert "lora" not in " ".join(n for n, _ in base.model.named_modules())


def _llama_answer(backend: Any, question: str) -> str:
    from sleepcycle.models import ChatRequest

    request = ChatRequest(
        ({"role": "user", "content": question},), temperature=0.0, max_tokens=10, seed=0
    )
    return str(backend.complete(request).text)


def test_the_gguf_adapter_answers_through_llama_cpp(
    trained: tuple[TrainReport, list[tuple[int, int, float]]], tmp_path: Path
) -> None:
    from gguf import GGUFReader

    from sleepcycle.models import LlamaBackend
    from sleepcycle.train.gguf_lora import convert_adapter

    report, _ = trained
    out = tmp_path / "v1" / "adapter.gguf"
    info = convert_adapter(report.out_dir, out, base_gguf=bundled_model_path())
    assert info.architecture == "llama"
    assert info.rank == 16
    assert info.tensor_count == 2 * 7 * 30
    assert info.target_modules == tuple(sorted(TARGET_PROJECTIONS))
    reader = GGUFReader(out)
    assert reader.fields["general.type"].contents() == "adapter"
    assert reader.fields["adapter.lora.alpha"].contents() == 32.0
    names = {t.name for t in reader.tensors}
    assert "blk.0.attn_q.weight.lora_a" in names
    assert "blk.29.ffn_down.weight.lora_b" in names

    adapted = LlamaBackend(bundled_model_path(), lora_path=out, n_ctx=512)
    plain = LlamaBackend(bundled_model_path(), n_ctx=512)
    try:
        assert adapted.model_id.endswith("+v1")
        for question, fact in HELD_OUT.items():
            assert fact in _llama_answer(adapted, question), question
            assert fact not in _llama_answer(plain, question), question
    finally:
        adapted.close()
        plain.close()


def test_a_conversion_against_another_model_writes_nothing(
    trained: tuple[TrainReport, list[tuple[int, int, float]]], tmp_path: Path
) -> None:
    from sleepcycle.errors import ModelError
    from sleepcycle.train.gguf_lora import convert_adapter

    report, _ = trained
    broken = tmp_path / "peft"
    broken.mkdir()
    config = json.loads((report.out_dir / "adapter_config.json").read_text())
    (broken / "adapter_config.json").write_text(json.dumps({**config, "use_dora": True}))
    out = tmp_path / "adapter.gguf"
    with pytest.raises(ModelError, match="DoRA"):
        convert_adapter(broken, out, base_gguf=bundled_model_path())
    not_gguf = tmp_path / "model.gguf"
    not_gguf.write_bytes(b"not a gguf")
    with pytest.raises(ModelError, match="cannot read the base model"):
        convert_adapter(report.out_dir, out, base_gguf=not_gguf)
    assert not out.exists()
    assert [p.name for p in tmp_path.glob("*adapter.gguf*")] == []  # no temp file either
