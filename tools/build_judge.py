"""Build the verifier's judge adapter that ships in the package, bit for bit.

    python tools/build_judge.py            # about half an hour on 2 cores

Trains a LoRA adapter on the bundled SmolLM2-135M with pairs that code generates
(``sleepcycle.train.judgedata``: made-up conversations, true memories and false ones of five
kinds; never LoCoMo or the sample data), converts it to GGUF and writes it to
``src/sleepcycle/models/judge/judge.gguf`` with ``judge.json`` beside it (settings, time,
sha256). The same seed and thread count give the same file; needs the ``train`` extra.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

from sleepcycle.config import TrainSettings
from sleepcycle.models.llama import bundled_model_path
from sleepcycle.train import judgedata
from sleepcycle.train.gguf_lora import convert_adapter
from sleepcycle.train.trainer import load_base, train_lora

OUT = Path(__file__).resolve().parent.parent / "src" / "sleepcycle" / "models" / "judge"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=1200)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--learning-rate", type=float, default=5e-4)
    parser.add_argument("--threads", type=int, default=2, help="fixed, so the file is the same")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)

    settings = TrainSettings(
        epochs=args.epochs,
        rank=args.rank,
        alpha=2 * args.rank,
        learning_rate=args.learning_rate,
        threads=args.threads,
        seed=args.seed,
        batch_size=8,
    )
    examples = judgedata.examples(args.examples, seed=args.seed)
    base_gguf = bundled_model_path()
    started = time.perf_counter()

    def progress(epoch: int, step: int, loss: float) -> None:
        if step % 10 == 0:
            print(f"epoch {epoch} step {step} loss {loss:.4f}", flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        with load_base(base_gguf) as base:
            report = train_lora(base, examples, settings, Path(tmp) / "peft", progress=progress)
        args.out.mkdir(parents=True, exist_ok=True)
        gguf = args.out / "judge.gguf"
        convert_adapter(Path(tmp) / "peft", gguf, base_gguf=base_gguf)
    seconds = time.perf_counter() - started
    digest = hashlib.sha256(gguf.read_bytes()).hexdigest()
    manifest = {
        "base": base_gguf.name,
        "examples": args.examples,
        "epochs": args.epochs,
        "rank": args.rank,
        "learning_rate": args.learning_rate,
        "threads": args.threads,
        "seed": args.seed,
        "steps": report.steps,
        "seconds": round(seconds),
        "bytes": gguf.stat().st_size,
        "sha256": digest,
        "command": "python tools/build_judge.py",
    }
    (args.out / "judge.json").write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
    print(json.dumps(manifest, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
