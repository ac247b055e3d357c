"""The embedded engine's speed with and without weight repacking (llama.cpp's extra buffer types).

pip's default build of llama-cpp-python is ``-march=native``; on a CPU with AMX that build's AMX
kernel crashes on the bundled model, so ``models.NAME.repack = "auto"`` loads without extra
buffer types where the CPU backend reports AMX. This measures what that costs: prompt and
generation tokens per second for ``repack = on`` and ``off``, each in its own process (a crash
is reported, not fatal), on the bundled SmolLM2-135M Q4_1 and on a Q4_0 copy of it made with
llama.cpp's own quantizer (Q4_0 is a type the CPU repack layouts cover; Q4_1 is not). The
timings are llama.cpp's own counters (``llama_perf_context``).

Run it once per build: it labels its section of docs/benchmarks.md with the build it finds
(``--build native`` or ``--build portable`` names it).

    python benchmarks/bench_engine.py --build native
    python benchmarks/bench_engine.py --build portable --runs 5 --no-write
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from report import write_section  # noqa: E402

DOCS = ROOT / "docs" / "benchmarks.md"
CACHE = ROOT / "benchmarks" / ".cache"
PROMPT = (
    "Here is a day of notes. Maya moved from Manchester to Lisbon and lives in Alfama now. She "
    "starts a new job at Atlas Maps as a cartographer on Monday, her manager is Inês. She gave "
    "up coffee and drinks green tea in the mornings. Her grey cat Pixel sleeps on the window "
    "sill. She is allergic to peanuts. She is learning Portuguese twice a week with a tutor. "
) * 3 + "Write down, one per line, every fact about Maya in these notes."
GENERATE = 128


def child(path: str, repack: str, runs: int) -> dict[str, Any]:
    """Prompt and generation speed of one model with one repack setting, in this process."""
    import llama_cpp  # noqa: PLC0415

    from sleepcycle.models import LlamaBackend  # noqa: PLC0415

    backend = LlamaBackend(Path(path), n_ctx=2048, repack=repack)  # type: ignore[arg-type]
    started = time.perf_counter()
    backend.load()
    load_ms = (time.perf_counter() - started) * 1000
    llm = backend._llm
    prompt_tps, gen_tps = [], []
    for i in range(runs + 1):  # the first run warms up
        llm.reset()
        llama_cpp.llama_perf_context_reset(llm.ctx)
        llm.create_completion(
            PROMPT,
            max_tokens=GENERATE,
            temperature=0.0,
            seed=1,
            logit_bias={llm.token_eos(): float("-inf")},  # always the full length
        )
        perf = llama_cpp.llama_perf_context(llm.ctx)
        if i:
            prompt_tps.append(perf.n_p_eval / perf.t_p_eval_ms * 1000)
            gen_tps.append(perf.n_eval / perf.t_eval_ms * 1000)
    extra = bool(llm.model_params.use_extra_bufts)
    backend.close()
    return {
        "load_ms": load_ms,
        "prompt_tps": statistics.median(prompt_tps),
        "gen_tps": statistics.median(gen_tps),
        "use_extra_bufts": extra,
    }


def measure(path: Path, repack: str, runs: int) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", str(path), repack, str(runs)],
        check=False,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        name = (
            signal.Signals(-proc.returncode).name
            if proc.returncode < 0
            else f"exit {proc.returncode}"
        )
        return {"crashed": name, "stderr": proc.stderr[-400:]}
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def q4_0_copy(source: Path) -> Path:
    """The bundled model requantized to Q4_0 by llama.cpp (cached)."""
    import llama_cpp  # noqa: PLC0415

    out = CACHE / "SmolLM2-135M-Instruct.Q4_0.gguf"
    if not out.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_0
        params.allow_requantize = True
        if llama_cpp.llama_model_quantize(str(source).encode(), str(out).encode(), params):
            raise RuntimeError("llama.cpp could not quantize the model to Q4_0")
    return out


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default="this", help="a label for the llama.cpp build")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per setting")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        path, repack, runs = args.child
        print(json.dumps(child(path, repack, int(runs))))
        return

    import llama_cpp  # noqa: PLC0415

    from sleepcycle.models import bundled_model_path  # noqa: PLC0415
    from sleepcycle.models.llama import cpu_features, use_repack  # noqa: PLC0415

    features = cpu_features()
    shown = [k for k in ("AVX2", "AVX512", "AVX512_VNNI", "AMX_INT8", "REPACK") if k in features]
    auto = "on" if use_repack("auto") else "off"
    bundled = bundled_model_path()
    models = {"SmolLM2-135M Q4_1 (bundled)": bundled, "the same, Q4_0": q4_0_copy(bundled)}
    rows = []
    for label, path in models.items():
        for repack in ("on", "off"):
            result = measure(path, repack, args.runs)
            rows.append((label, repack, result))
            shown_result = result.get("crashed") or (
                f"prompt {result['prompt_tps']:.0f} tok/s, generation {result['gen_tps']:.1f} "
                f"tok/s, load {result['load_ms']:.0f} ms"
            )
            print(f"{label}, repack {repack}: {shown_result}", flush=True)

    def cell(result: dict[str, Any], key: str, fmt: str) -> str:
        return f"crashed ({result['crashed']})" if "crashed" in result else format(result[key], fmt)

    lines = [
        f"### llama-cpp-python {llama_cpp.__version__}, {args.build} build",
        "",
        f"`python benchmarks/{Path(__file__).name} {shlex.join(sys.argv[1:])}`".replace(" `", "`"),
        f"on {cpu_name()}, {platform.machine()}, 2 cores; "
        f"{time.strftime('%Y-%m-%d', time.gmtime())}. CPU backend: {', '.join(shown)}; "
        f'`repack = "auto"` chooses **{auto}** here. Median of {args.runs} runs after a '
        f"warm-up; a {GENERATE}-token completion of a prompt of about 330 tokens.",
        "",
        "| model | repack | prompt tok/s | generation tok/s | load ms |",
        "|---|---|---|---|---|",
    ]
    for label, repack, result in rows:
        lines.append(
            f"| {label} | {repack}{' (auto)' if repack == auto else ''} | "
            f"{cell(result, 'prompt_tps', '.0f')} | {cell(result, 'gen_tps', '.1f')} | "
            f"{cell(result, 'load_ms', '.0f')} |"
        )
    body = "\n".join(lines)
    print("\n" + body)
    if not args.no_write:
        name = "".join(c if c.isalnum() else "-" for c in args.build.lower())
        write_section(DOCS, f"bench_engine-{name}", body)
        print(f"\nwrote {DOCS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
