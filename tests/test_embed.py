"""The bundled embedding model: faithful to all-MiniLM-L6-v2, and it writes only in the home."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from sleepcycle import MiniLMEmbedder

REFERENCE = Path(__file__).parent / "data" / "minilm_reference.json"


def test_matches_the_fp32_sentence_transformers_model(embedder: MiniLMEmbedder) -> None:
    """Reference vectors were made once with sentence-transformers and the fp32 weights
    (tests/data/minilm_reference.json); the int8 ONNX model with the bundled tokenizer and
    mean pooling must point the same way, including unicode and a text past 256 tokens."""
    reference = json.loads(REFERENCE.read_text())
    ours = embedder.embed(reference["sentences"])
    theirs = np.array(reference["vectors"], dtype=np.float32)
    assert ours.shape == theirs.shape == (len(reference["sentences"]), 384)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    cosines = (ours * theirs).sum(axis=1)
    assert cosines.min() >= 0.99, cosines


def test_order_and_batching_do_not_change_vectors(embedder: MiniLMEmbedder) -> None:
    texts = ["short", "a somewhat longer sentence about Lisbon and cats", "mid length text"]
    together = embedder.embed(texts)
    alone = np.vstack([embedder.embed([t]) for t in texts])
    assert np.allclose(together, alone, atol=1e-5)
    assert embedder.embed([]).shape == (0, 384)


def test_nothing_is_written_outside_the_home(tmp_path: Path) -> None:
    """A fresh process that ingests, embeds and recalls leaves the user's home untouched
    (onnxruntime would otherwise write a device id under ~/.cache)."""
    root = tmp_path / "run"
    user_home, home = root / "user", root / "sc-home"
    user_home.mkdir(parents=True)
    script = (
        "import sleepcycle\n"
        "from sleepcycle.samples import sample_path\n"
        "m = sleepcycle.open()\n"
        "m.ingest(sample_path())\n"
        "m.embed_pending()\n"
        "print(m.recall('cat', scope='both').hits[0].text)\n"
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("XDG_") and key not in ("HOME", "SLEEPCYCLE_HOME")
    }
    env.update(HOME=str(user_home), SLEEPCYCLE_HOME=str(home))
    out = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Pixel" in out.stdout
    assert list(user_home.iterdir()) == []
    assert sorted(p.name for p in root.iterdir()) == ["sc-home", "user"]
    assert (home / "sleepcycle.db").exists() and (home / "cache").is_dir()
