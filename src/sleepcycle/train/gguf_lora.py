"""A PEFT LoRA adapter, converted to a GGUF LoRA adapter that llama.cpp applies to its base model.

PEFT saves ``adapter_config.json`` and ``adapter_model.safetensors`` with tensors named
``base_model.model.<module>.lora_A.weight`` (shape ``(r, n_in)``) and ``.lora_B.weight``
(shape ``(n_out, r)``). llama.cpp wants, per base tensor ``blk.N.attn_q.weight``, the pair
``blk.N.attn_q.weight.lora_a`` with ggml shape ``[n_in, r]`` and ``.lora_b`` with ``[r, n_out]``.
ggml lists dimensions fastest-first, so those are the same row-major arrays: no transpose. It
checks ``a[0] == base[0]``, ``b[1] == base[1]`` and ``a[1] == b[0]`` and refuses anything else.

Two things differ from a plain copy:

- llama.cpp scales each pair by ``alpha / rank`` (rank read from the tensor), so rsLoRA's
  ``alpha / sqrt(r)`` is written as ``alpha * sqrt(r)``; a module whose rank differs from ``r``
  (``rank_pattern``) gets the difference folded into its ``lora_b``.
- GGUF "llama" models store the q and k projections with each head's rows interleaved in pairs
  (llama.cpp's rotary layout) where Hugging Face keeps the two halves apart, so ``lora_b`` of
  q and k gets the same row order. Architectures whose q/k layout is not known here are refused.

Tensors are written as F32: the adapter is small next to the base, and F32 keeps the trained
values exactly (llama.cpp adds the LoRA product in F32 on the CPU either way).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gguf
import numpy as np
import numpy.typing as npt
import torch
from safetensors import safe_open

from ..errors import ModelError

__all__ = ["AdapterInfo", "convert_adapter"]

Array = npt.NDArray[np.float32]

CONFIG_FILE = "adapter_config.json"
WEIGHTS_FILE = "adapter_model.safetensors"

# Architectures whose q/k rows llama.cpp keeps pair-interleaved per head (see module doc), and
# those whose projections it stores in Hugging Face order.
_INTERLEAVED_QK = frozenset({"llama"})
_PLAIN_QK = frozenset({"qwen2", "qwen3"})
_SUPPORTED = sorted(_INTERLEAVED_QK | _PLAIN_QK)

_KEY = re.compile(r"base_model\.model\.(?P<module>.+)\.lora_(?P<part>[AB])\.weight")


@dataclass(frozen=True)
class AdapterInfo:
    """What a conversion wrote."""

    path: Path
    architecture: str
    tensor_count: int
    rank: int
    alpha: float  # as written: llama.cpp scales by alpha / rank
    target_modules: tuple[str, ...]  # module kinds, e.g. ("down_proj", "q_proj")
    size_bytes: int


@dataclass(frozen=True)
class _Config:
    rank: int
    alpha: float
    rslora: bool


@dataclass(frozen=True)
class _Base:
    architecture: str
    block_count: int
    head_count: int
    head_count_kv: int
    shapes: dict[str, tuple[int, ...]]  # ggml order: fastest dimension first


@dataclass(frozen=True)
class _Pair:
    name: str  # the base tensor's GGUF name
    module: str  # the PEFT module path
    a: Array
    b: Array


def convert_adapter(adapter_dir: Path, out: Path, *, base_gguf: Path) -> AdapterInfo:
    """Convert the PEFT LoRA adapter in ``adapter_dir`` to a GGUF adapter for ``base_gguf``.

    Writes ``out`` atomically; raises ``ModelError`` (and writes nothing) when the adapter
    cannot be served on that base.
    """
    config = _read_config(adapter_dir)
    base = _read_base(base_gguf)
    pairs = _pairs(_read_tensors(adapter_dir), base)
    alpha = config.alpha * math.sqrt(config.rank) if config.rslora else config.alpha
    pairs = [_fit(pair, base, config, alpha) for pair in pairs]
    _write(out, base.architecture, alpha, pairs)
    return AdapterInfo(
        path=out,
        architecture=base.architecture,
        tensor_count=2 * len(pairs),
        rank=config.rank,
        alpha=alpha,
        target_modules=tuple(sorted({p.module.rsplit(".", 1)[-1] for p in pairs})),
        size_bytes=out.stat().st_size,
    )


def _read_config(adapter_dir: Path) -> _Config:
    path = adapter_dir / CONFIG_FILE
    try:
        raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelError(
            f"cannot read the adapter config {path} ({e}); save the adapter "
            "with PEFT's save_pretrained"
        ) from None
    if raw.get("peft_type") != "LORA":
        raise ModelError(
            f"{path}: peft_type is {raw.get('peft_type')!r}; only LoRA adapters convert to GGUF"
        )
    unsupported = {
        "use_dora": "DoRA",
        "modules_to_save": "modules_to_save (fully trained layers)",
        "alpha_pattern": "alpha_pattern (per-module alpha)",
    }
    for key, what in unsupported.items():
        if raw.get(key):
            raise ModelError(
                f"{path}: {what} cannot be served as a GGUF LoRA adapter; train without {key}"
            )
    if raw.get("bias", "none") != "none":
        raise ModelError(
            f"{path}: bias={raw['bias']!r} trains biases that llama.cpp cannot "
            "load; train with bias='none'"
        )
    rank, alpha = raw.get("r"), raw.get("lora_alpha")
    if not isinstance(rank, int) or rank <= 0 or not isinstance(alpha, int | float) or alpha <= 0:
        raise ModelError(
            f"{path}: r={rank!r} and lora_alpha={alpha!r} must be positive numbers; "
            "fix the adapter config"
        )
    return _Config(rank=rank, alpha=float(alpha), rslora=bool(raw.get("use_rslora")))


def _read_base(base_gguf: Path) -> _Base:
    try:
        reader = gguf.GGUFReader(base_gguf)
    except (OSError, ValueError) as e:
        raise ModelError(
            f"cannot read the base model {base_gguf} ({e}); "
            "point at the GGUF file the adapter will be served on"
        ) from None
    arch = str(_field(reader, "general.architecture", base_gguf))
    if arch not in _INTERLEAVED_QK | _PLAIN_QK:
        raise ModelError(
            f"{base_gguf}: architecture {arch!r} is not supported for GGUF "
            f"adapters (supported: {', '.join(_SUPPORTED)}); use a supported model"
        )
    head_count = int(_field(reader, f"{arch}.attention.head_count", base_gguf))
    kv_key = f"{arch}.attention.head_count_kv"
    return _Base(
        architecture=arch,
        block_count=int(_field(reader, f"{arch}.block_count", base_gguf)),
        head_count=head_count,
        head_count_kv=int(_field(reader, kv_key, base_gguf))
        if kv_key in reader.fields
        else head_count,
        shapes={t.name: tuple(int(n) for n in t.shape) for t in reader.tensors},
    )


def _field(reader: gguf.GGUFReader, key: str, path: Path) -> Any:
    field = reader.fields.get(key)
    if field is None:
        raise ModelError(f"{path}: the GGUF has no {key}; use a complete llama.cpp model file")
    return field.contents()


def _read_tensors(adapter_dir: Path) -> dict[str, Array]:
    path = adapter_dir / WEIGHTS_FILE
    if not path.is_file():
        raise ModelError(
            f"{path} is missing; save the adapter with PEFT's save_pretrained "
            "(safetensors, the default)"
        )
    with safe_open(str(path), framework="pt") as f:
        return {key: f.get_tensor(key).to(torch.float32).numpy() for key in f.keys()}  # noqa: SIM118


def _pairs(tensors: dict[str, Array], base: _Base) -> list[_Pair]:
    """Group lora_A/lora_B by module and name each module's base tensor in the GGUF."""
    names = gguf.get_tensor_name_map(_arch_enum(base.architecture), base.block_count)
    parts: dict[str, dict[str, Array]] = {}
    for key, value in tensors.items():
        match = _KEY.fullmatch(key)
        if match is None:
            raise ModelError(
                f"adapter tensor {key!r} is not a LoRA A/B matrix of a linear layer "
                "(embeddings, DoRA and biases are unsupported); target linear "
                "layers only, e.g. q/k/v/o/gate/up/down_proj"
            )
        parts.setdefault(match["module"], {})[match["part"]] = value
    if not parts:
        raise ModelError("the adapter has no LoRA tensors; train one before converting")
    pairs = []
    for module, ab in sorted(parts.items()):
        if set(ab) != {"A", "B"}:
            raise ModelError(
                f"adapter module {module!r} lacks lora_A or lora_B; re-save the adapter"
            )
        name = names.get_name(f"{module}.weight", try_suffixes=(".weight",))
        if name is None:
            raise ModelError(
                f"adapter module {module!r} has no {base.architecture} tensor in "
                "llama.cpp; train LoRA on q/k/v/o/gate/up/down_proj only"
            )
        pairs.append(_Pair(name=name, module=module, a=ab["A"], b=ab["B"]))
    return pairs


def _arch_enum(arch: str) -> gguf.MODEL_ARCH:
    for enum, name in gguf.MODEL_ARCH_NAMES.items():
        if name == arch:
            return enum
    raise ModelError(f"the gguf package does not know architecture {arch!r}; upgrade gguf")


def _fit(pair: _Pair, base: _Base, config: _Config, alpha: float) -> _Pair:
    """Check ``pair`` against its base tensor; reorder and rescale ``lora_b`` for llama.cpp."""
    shape = base.shapes.get(pair.name)
    if shape is None:
        raise ModelError(
            f"the base model has no tensor {pair.name} for adapter module "
            f"{pair.module!r}; convert against the model the adapter was trained on"
        )
    rank = pair.a.shape[0]
    if (
        (pair.a.ndim, pair.b.ndim, len(shape)) != (2, 2, 2)
        or pair.b.shape[1] != rank
        or (pair.a.shape[1], pair.b.shape[0]) != shape
    ):
        raise ModelError(
            f"adapter module {pair.module!r} (A {tuple(pair.a.shape)}, "
            f"B {tuple(pair.b.shape)}) does not fit base tensor {pair.name} "
            f"{shape}; convert against the model the adapter was trained on"
        )
    b = pair.b
    if base.architecture in _INTERLEAVED_QK and ".attn_q." in pair.name:
        b = _interleave_heads(b, base.head_count)
    elif base.architecture in _INTERLEAVED_QK and ".attn_k." in pair.name:
        b = _interleave_heads(b, base.head_count_kv)
    peft_scale = config.alpha / (math.sqrt(rank) if config.rslora else rank)
    fold = peft_scale * rank / alpha
    if not math.isclose(fold, 1.0, rel_tol=1e-9):
        b = b * np.float32(fold)
    return _Pair(name=pair.name, module=pair.module, a=pair.a, b=b)


def _interleave_heads(rows: Array, heads: int) -> Array:
    """Reorder each head's rows from halves ``[x0..xn, y0..yn]`` to pairs ``[x0, y0, x1, ...]``."""
    out, rank = rows.shape
    half = out // heads // 2
    if half * 2 * heads != out:
        raise ModelError(
            f"{out} q/k rows do not split into {heads} heads; "
            "convert against the model the adapter was trained on"
        )
    split = rows.reshape(heads, 2, half, rank)
    return np.ascontiguousarray(split.transpose(0, 2, 1, 3).reshape(out, rank))


def _write(out: Path, arch: str, alpha: float, pairs: list[_Pair]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with _atomic(out) as tmp:
        writer = gguf.GGUFWriter(tmp, arch)
        writer.add_type(gguf.GGUFType.ADAPTER)
        writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
        writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
        for pair in pairs:
            writer.add_tensor(f"{pair.name}.lora_a", np.ascontiguousarray(pair.a))
            writer.add_tensor(f"{pair.name}.lora_b", np.ascontiguousarray(pair.b))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()


@contextlib.contextmanager
def _atomic(out: Path) -> Iterator[Path]:
    """A temp path beside ``out``, renamed over it when the block succeeds."""
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        tmp.replace(out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
