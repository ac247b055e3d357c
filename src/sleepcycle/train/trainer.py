"""Train a LoRA adapter on CPU: chat examples in, a PEFT adapter directory out.

``load_base`` reads the weights to train (a GGUF file, dequantized to fp32, or a Hugging Face
model directory) with their tokenizer and chat template, offline only. ``train_lora`` renders
each ``Example`` with that template, computes the loss on the assistant reply alone (through
its end-of-turn token), trains LoRA on the q/k/v/o/gate/up/down projections with AdamW in a
plain torch loop, and saves the adapter atomically. The base model is left as it was loaded,
so it can train again; ``Base.close`` frees it.

Two kinds of example. A *learn* example is trained with cross-entropy on its reply: the model
should say it. A *keep* example (``keep=True``) is trained by distillation: on its reply's
positions the adapted model's next-token distribution is pulled toward the base model's own
(KL divergence, the base read through the same model with the adapter switched off), weighted
by ``train.keep_weight``. Keeping the base's whole distribution on general requests holds
what the model knew far better than cross-entropy on the base's greedy answers, which the
adapter memorises while drifting everywhere else (docs/training.md has the measurements).

What to train on (memory pairs, replay of general data) is the caller's choice; this module
trains on exactly the examples it is given.
"""

from __future__ import annotations

import contextlib
import gc
import io
import math
import os
import shutil
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import torch

from ..config import TrainSettings
from ..errors import InputError, ModelError, UsageError

__all__ = [
    "TARGET_PROJECTIONS",
    "Base",
    "Example",
    "TrainReport",
    "encode",
    "load_base",
    "planned_steps",
    "train_lora",
]

TARGET_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
MAX_TOKENS = 2048  # one example, prompt and reply; memory pairs are far shorter
IGNORE = -100  # the label torch's cross-entropy skips

Progress = Callable[[int, int, float], None]


# examples -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    """One chat-format training example: ``(role, content)`` pairs, an optional system
    message, then user and assistant turns in turn, ending with the assistant reply the
    loss is computed on."""

    messages: tuple[tuple[str, str], ...]
    keep: bool = False  # distil the base model's distribution on the reply instead

    def __post_init__(self) -> None:
        roles = [role for role, _ in self.messages]
        turns = roles[1:] if roles[:1] == ["system"] else roles
        pattern = ["user", "assistant"] * (len(turns) // 2)
        if not turns or turns != pattern:
            raise InputError(
                f"a training example is [system], user, assistant (alternating), ending with "
                f"the assistant reply; got roles {roles}"
            )

    @classmethod
    def qa(
        cls, question: str, answer: str, system: str | None = None, *, keep: bool = False
    ) -> Example:
        """A one-turn example: ``question`` asked, ``answer`` replied."""
        head = (("system", system),) if system is not None else ()
        return cls((*head, ("user", question), ("assistant", answer)), keep)

    @property
    def reply(self) -> str:
        """The assistant reply the loss is on."""
        return self.messages[-1][1]


# the base model -------------------------------------------------------------------------------


class Base:
    """Weights to train (fp32, CPU) with their tokenizer; ``close`` frees them."""

    def __init__(self, model: Any, tokenizer: Any, path: Path, load_seconds: float):
        self._model = model
        self.tokenizer = tokenizer
        self.path = path
        self.load_seconds = load_seconds

    @property
    def model(self) -> Any:
        """The transformers model (raises after ``close``)."""
        if self._model is None:
            raise UsageError(f"the base model {self.path.name} was closed; load it again")
        return self._model

    def close(self) -> None:
        """Free the weights."""
        self._model = None
        gc.collect()

    def __enter__(self) -> Base:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def load_base(path: Path) -> Base:
    """Load a GGUF file (dequantized to fp32) or a Hugging Face model directory, with its
    tokenizer, from local files only. The GGUF of SmolLM2-135M takes about 30 s."""
    if path.is_file() and path.suffix.lower() == ".gguf":
        source, extra = path.parent, {"gguf_file": path.name}
    elif path.is_dir() and (path / "config.json").is_file():
        source, extra = path, {}
    else:
        raise InputError("not a GGUF file or a Hugging Face model directory", path=path)
    from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: PLC0415

    started = time.perf_counter()
    options: dict[str, Any] = {"local_files_only": True, "trust_remote_code": False, **extra}
    try:
        with _quiet():
            tokenizer = AutoTokenizer.from_pretrained(source, **options)
            model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32, **options)
    except (OSError, ValueError, KeyError, NotImplementedError) as exc:
        raise ModelError(f"cannot load {path} for training: {exc}") from None
    if not getattr(tokenizer, "chat_template", None):
        raise ModelError(f"{path} has no chat template; train from an instruct (chat) model")
    _clear_quantizer(model)
    model.requires_grad_(False)  # inference until train_lora() makes the adapter trainable
    cast(Any, model).eval()
    return Base(model, tokenizer, path, time.perf_counter() - started)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """No progress bars or deprecation warnings from transformers and PEFT on the user's
    terminal (their GGUF progress bar is plain tqdm, which transformers' switch misses);
    failures still arrive as exceptions."""
    with contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def _clear_quantizer(model: Any) -> None:
    """A GGUF loads dequantized to fp32 but flagged as quantized, which makes transformers
    refuse to save it and treat it as untrainable; the flag describes the file, not the
    weights, so drop it."""
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:
        quantizer.remove_quantization_config(model)
        model.config._is_quantized = False


# tokenizing -----------------------------------------------------------------------------------


def encode(tokenizer: Any, example: Example) -> tuple[list[int], list[int]]:
    """Token ids and labels for one example: labels are ``-100`` except on the assistant
    reply and its end-of-turn token.

    The prompt (with the generation prompt) and the reply are tokenized apart, as a served
    model sees them: it reads the prompt and then generates the reply token by token.
    """
    messages = [{"role": role, "content": content} for role, content in example.messages]
    prompt = tokenizer.apply_chat_template(
        messages[:-1], tokenize=False, add_generation_prompt=True
    )
    full = tokenizer.apply_chat_template(messages, tokenize=False)
    if not full.startswith(prompt):
        raise ModelError(
            "the chat template renders a conversation differently from its prompt; "
            "train from a model whose template appends the reply to the generation prompt"
        )
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    reply_ids = _through_end_of_turn(
        tokenizer(full[len(prompt) :], add_special_tokens=False)["input_ids"], tokenizer
    )
    ids = [*prompt_ids, *reply_ids]
    if len(ids) > MAX_TOKENS:
        raise InputError(f"a training example has {len(ids)} tokens; the most is {MAX_TOKENS}")
    return ids, [IGNORE] * len(prompt_ids) + reply_ids


def _through_end_of_turn(reply_ids: list[int], tokenizer: Any) -> list[int]:
    """The reply up to and including its end-of-turn token (what follows it, such as the
    template's newline, is never generated); one is added when the template has none."""
    ends = _end_tokens(tokenizer)
    for i, token in enumerate(reply_ids):
        if token in ends:
            return reply_ids[: i + 1]
    return [*reply_ids, tokenizer.eos_token_id]


def _end_tokens(tokenizer: Any) -> set[int]:
    ends = {tokenizer.eos_token_id}
    for name in ("<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|end|>"):
        if name in tokenizer.get_vocab():
            ends.add(tokenizer.convert_tokens_to_ids(name))
    return {e for e in ends if e is not None}


@dataclass(frozen=True)
class _Encoded:
    ids: list[int]
    labels: list[int]
    keep: bool


def _batches(
    encoded: Sequence[_Encoded], size: int, generator: torch.Generator
) -> Iterator[dict[str, torch.Tensor]]:
    """Shuffled mini-batches, right-padded; pads are masked out of attention and loss."""
    order = torch.randperm(len(encoded), generator=generator).tolist()
    for start in range(0, len(order), size):
        chosen = [encoded[i] for i in order[start : start + size]]
        width = max(len(e.ids) for e in chosen)
        ids = torch.zeros((len(chosen), width), dtype=torch.long)
        labels = torch.full((len(chosen), width), IGNORE, dtype=torch.long)
        mask = torch.zeros((len(chosen), width), dtype=torch.long)
        for row, example in enumerate(chosen):
            ids[row, : len(example.ids)] = torch.tensor(example.ids)
            labels[row, : len(example.labels)] = torch.tensor(example.labels)
            mask[row, : len(example.ids)] = 1
        keep = torch.tensor([e.keep for e in chosen], dtype=torch.bool)
        yield {"input_ids": ids, "labels": labels, "attention_mask": mask, "keep": keep}


def _loss(model: Any, batch: dict[str, torch.Tensor], keep_weight: float) -> Any:
    """Cross-entropy on learn rows' replies, plus ``keep_weight`` times the KL divergence from
    the base model's next-token distribution on keep rows' replies (each a mean over its
    tokens)."""
    logits: torch.Tensor = model(
        input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False
    ).logits[:, :-1]
    targets = batch["labels"][:, 1:]
    scored = targets != IGNORE
    keep = batch["keep"][:, None]
    learn, kept = scored & ~keep, scored & keep
    loss = logits.new_zeros(())
    if learn.any():
        loss = loss + torch.nn.functional.cross_entropy(logits[learn], targets[learn])
    if kept.any():
        rows = batch["keep"]
        with torch.no_grad(), model.disable_adapter():
            base = model(
                input_ids=batch["input_ids"][rows],
                attention_mask=batch["attention_mask"][rows],
                use_cache=False,
            ).logits[:, :-1]
        # In float64: in float32 the teacher's probabilities sum to 1 only within ~1e-7, a
        # gradient of that size where there should be none, which Adam (scaling each step to
        # the gradient's size) turns into real steps away from the base.
        student = torch.log_softmax(logits[rows][kept[rows]].double(), dim=-1)
        teacher = torch.log_softmax(base[kept[rows]].double(), dim=-1)
        divergence = torch.nn.functional.kl_div(
            student, teacher, log_target=True, reduction="batchmean"
        )
        loss = loss + keep_weight * divergence
    return loss


# training -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainReport:
    """What a training run did. ``stopped``: the stop event ended it early and no adapter
    was saved (``adapter_bytes`` is 0)."""

    examples: int
    epochs: int  # completed
    steps: int
    seconds: float  # the training loop and saving, not loading
    seconds_per_100: float  # per epoch per 100 examples
    first_loss: float  # mean loss of the first epoch
    last_loss: float  # mean loss of the last completed epoch
    adapter_bytes: int
    trainable_parameters: int
    target_modules: tuple[str, ...]
    out_dir: Path
    stopped: bool = False


def planned_steps(examples: int, settings: TrainSettings) -> int:
    """Optimizer steps a run of ``examples`` will take (for a progress bar)."""
    return settings.epochs * math.ceil(examples / settings.batch_size)


def train_lora(
    base: Base,
    examples: Sequence[Example],
    settings: TrainSettings,
    out_dir: Path,
    *,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> TrainReport:
    """Train a LoRA adapter on ``examples`` and save it to ``out_dir`` (replaced whole).

    ``progress(epoch, step, loss)`` is called after every step (both count from 1; the loss
    is the batch's). ``stop`` is checked before every step: when set, training ends, nothing
    is saved and the report says ``stopped``. Deterministic for a seed and thread count.
    """
    if not examples:
        raise UsageError("no training examples; there is nothing to learn")
    encoded = [_Encoded(*encode(base.tokenizer, example), example.keep) for example in examples]
    targets = _target_modules(base.model)
    threads = torch.get_num_threads()
    torch.set_num_threads(settings.threads or os.cpu_count() or 1)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(settings.seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                return _train(base, encoded, targets, settings, out_dir, progress, stop)
    finally:
        torch.set_num_threads(threads)


def _target_modules(model: Any) -> tuple[str, ...]:
    """The LoRA target projections this model has, found by module name."""
    found = {
        name.rsplit(".", 1)[-1]
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear)
    }
    targets = tuple(p for p in TARGET_PROJECTIONS if p in found)
    if not targets:
        raise ModelError(
            f"no {'/'.join(TARGET_PROJECTIONS)} layers in {type(model).__name__}; "
            "train a llama-style model"
        )
    return targets


def _train(
    base: Base,
    encoded: list[_Encoded],
    targets: tuple[str, ...],
    settings: TrainSettings,
    out_dir: Path,
    progress: Progress | None,
    stop: threading.Event | None,
) -> TrainReport:
    from peft import LoraConfig, get_peft_model  # noqa: PLC0415

    config = LoraConfig(
        r=settings.rank,
        lora_alpha=settings.alpha,
        lora_dropout=0.0,
        target_modules=list(targets),
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(base.model, config)
    try:
        started = time.perf_counter()
        losses, steps, stopped = _loop(model, encoded, settings, progress, stop)
        loop_seconds = time.perf_counter() - started
        size = 0 if stopped else _save(model, base.path, out_dir)
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    finally:
        model.unload()  # the LoRA layers out again: the base can train once more
        base.model.eval()
    done = len(losses)
    return TrainReport(
        examples=len(encoded),
        epochs=done,
        steps=steps,
        seconds=time.perf_counter() - started,
        seconds_per_100=loop_seconds / max(done, 1) / len(encoded) * 100,
        first_loss=losses[0] if losses else math.nan,
        last_loss=losses[-1] if losses else math.nan,
        adapter_bytes=size,
        trainable_parameters=trainable,
        target_modules=targets,
        out_dir=out_dir,
        stopped=stopped,
    )


def _loop(
    model: Any,
    encoded: list[_Encoded],
    settings: TrainSettings,
    progress: Progress | None,
    stop: threading.Event | None,
) -> tuple[list[float], int, bool]:
    """The epochs: mean loss of each completed epoch, steps taken, whether stopped."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=settings.learning_rate, weight_decay=0.0)
    generator = torch.Generator().manual_seed(settings.seed)
    model.train()
    losses: list[float] = []
    step = 0
    for epoch in range(1, settings.epochs + 1):
        epoch_losses: list[float] = []
        for batch in _batches(encoded, settings.batch_size, generator):
            if stop is not None and stop.is_set():
                return losses, step, True
            loss = _loss(model, batch, settings.keep_weight)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            epoch_losses.append(float(loss.detach()))
            if progress is not None:
                progress(epoch, step, epoch_losses[-1])
        losses.append(sum(epoch_losses) / len(epoch_losses))
    return losses, step, False


def _save(model: Any, base_path: Path, out_dir: Path) -> int:
    """Save the adapter into a temp dir beside ``out_dir``, then rename it into place;
    returns its size in bytes."""
    model.peft_config["default"].base_model_name_or_path = str(base_path)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    temp = out_dir.parent / f".{out_dir.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        model.save_pretrained(temp, save_embedding_layers=False)
        (temp / "README.md").unlink(missing_ok=True)  # PEFT's empty model card
        _replace_dir(temp, out_dir)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return sum(f.stat().st_size for f in out_dir.iterdir() if f.is_file())


def _replace_dir(new: Path, target: Path) -> None:
    """Rename ``new`` to ``target``; an existing ``target`` is moved aside first and then
    removed (a rename cannot replace a non-empty directory in one step)."""
    if not target.exists():
        new.rename(target)
        return
    old = target.parent / f".{target.name}.{uuid.uuid4().hex[:8]}.old"
    target.rename(old)
    try:
        new.rename(target)
    except OSError:
        old.rename(target)
        raise
    shutil.rmtree(old, ignore_errors=True)
