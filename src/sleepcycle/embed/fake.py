"""A documented fake embedder for unit tests of logic that does not depend on meaning.

``HashingEmbedder`` hashes lower-cased words into a fixed number of buckets (feature hashing),
so texts that share words get similar vectors and identical texts identical ones. It is fast,
deterministic and needs no model files. Use the real ``MiniLMEmbedder`` wherever the test is
about the quality of recall. ``embedding.model = "hashing"`` selects it by configuration,
for processes that run from config alone (a fleet worker in tests and benchmarks).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from ..plugins import EmbedderPlugin

__all__ = ["HASHING", "HashingEmbedder"]

_WORD = re.compile(r"\w+", re.UNICODE)


class HashingEmbedder:
    """Bag-of-words feature hashing into ``dim`` buckets; unit length."""

    def __init__(self, dim: int = 384):
        self.dim = dim
        self.model_id = f"hashing-{dim}"

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                digest = hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest()
                bucket = int.from_bytes(digest[:4], "little") % self.dim
                sign = 1.0 if digest[4] & 1 else -1.0
                out[row, bucket] += sign
            norm = float(np.linalg.norm(out[row]))
            if norm == 0:
                out[row, 0] = 1.0
            else:
                out[row] /= norm
        return out


HASHING = EmbedderPlugin("hashing", lambda settings, model, cache: HashingEmbedder())
