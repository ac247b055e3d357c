"""The chat proxy's added latency, and the bundled model's swap time.

1. Proxy: what the proxy adds to a chat request before and after the model (recording the
   turns, recall over the agent's memories, building the prompt, recording the reply), at 10k
   memories. The model is the library's instant fake, so the whole request time is the
   proxy's. Target: p50 <= 30 ms. The request goes through the real ASGI app in process
   (FastAPI's TestClient), as an HTTP request would, minus the socket.
2. Swap: loading and unloading the bundled SmolLM2-135M through its embedded residency
   adapter, with the resident memory it takes and frees (RSS).

    python benchmarks/bench_proxy.py   # writes its section of docs/benchmarks.md
    python benchmarks/bench_proxy.py --no-write
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import sleepcycle  # noqa: E402
from report import write_section  # noqa: E402
from sleepcycle import FunctionModel  # noqa: E402
from sleepcycle.models import LlamaBackend  # noqa: E402
from sleepcycle.residency import EmbeddedResidency, rss_mb  # noqa: E402

DOCS = ROOT / "docs" / "benchmarks.md"
CACHE = ROOT / "benchmarks" / ".cache"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def build_store(home: Path, size: int) -> None:
    """A store of ``size`` generated memories with vectors (reused when present)."""
    import datagen  # noqa: PLC0415
    from sleepcycle import changes  # noqa: PLC0415

    marker = home / f"built-{size}"
    if marker.exists():
        return
    with sleepcycle.open(home, "bench") as mind:
        generated = datagen.MemoryStream(11).take(size)
        texts = [m.text for m in generated]
        with mind.store.write() as tx:
            tx.ensure_agent("bench")
            tx.memories.apply("bench", [changes.add(t, author=mind.author) for t in texts])
        mind.embed_pending()
        mind.set_persona("I am the assistant. I keep answers short and kind.")
    marker.write_text("ok")


TOOL = {
    "type": "function",
    "function": {
        "name": "lookup",
        "description": "Look something up.",
        "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
    },
}
MODES = {
    "plain": "a fake model behind the plain path (no tools)",
    "tools": "pass-through with tools to an OpenAI-compatible upstream (an in-process fake) "
    "that answers with a tool call",
    "stream": "the same, streamed: tool-call deltas chunk by chunk",
}


def _foreground(mode: str) -> Any:
    from sleepcycle.models import FakeUpstream, OpenAIBackend  # noqa: PLC0415

    if mode == "plain":
        return FunctionModel(lambda request: "Sure.", model_id="instant")
    call = {"function": {"name": "lookup", "arguments": '{"q": "the answer"}'}}
    upstream = FakeUpstream(lambda body: {"content": None, "tool_calls": [call]})
    return OpenAIBackend("http://upstream/v1", "up", transport=upstream.transport, retries=0)


def bench_proxy(size: int, requests: int, mode: str = "plain") -> dict[str, Any]:
    from fastapi.testclient import TestClient  # noqa: PLC0415

    import datagen  # noqa: PLC0415
    from sleepcycle.proxy import create_app  # noqa: PLC0415

    home = CACHE / f"proxy-{size}"
    build_store(home, size)
    with sleepcycle.open(home, "bench", backends={"foreground": _foreground(mode)}) as mind:
        people = sorted({m.text.split()[0] for m in mind.memories(limit=500)})[:40]
        queries = datagen.make_queries(people, requests + 10, 3)
        timings: list[float] = []
        recall_ms: list[float] = []
        with TestClient(create_app(mind), base_url="http://127.0.0.1") as client:
            for i, query in enumerate(queries):
                body: dict[str, Any] = {
                    "messages": [{"role": "user", "content": f"{query} ({i}, {mode})"}]
                }
                if mode != "plain":
                    body["tools"] = [TOOL]
                started = time.perf_counter()
                if mode == "stream":
                    with client.stream(
                        "POST", "/v1/chat/completions", json={**body, "stream": True}
                    ) as response:
                        lines = [line for line in response.iter_lines() if line]
                    assert lines[-1] == "data: [DONE]", lines[-1]
                else:
                    response = client.post("/v1/chat/completions", json=body)
                elapsed = (time.perf_counter() - started) * 1000
                assert response.status_code == 200, response.text
                if i >= 10:  # warm-up: the first requests load the index and the model
                    timings.append(elapsed)
                    recall_ms.append(mind.recall(query, k=mind.config.proxy.memories).elapsed_ms)
        memories = len(response.headers["X-Sleepcycle-Memories"].split(","))
    return {
        "mode": mode,
        "size": size,
        "requests": len(timings),
        "p50": statistics.median(timings),
        "p95": percentile(timings, 0.95),
        "recall_p50": statistics.median(recall_ms),
        "memories_added": memories,
    }


def bench_swap(rounds: int) -> dict[str, Any]:
    residency = EmbeddedResidency(LlamaBackend())
    loads, unloads, taken, freed = [], [], [], []
    base = rss_mb()
    for _ in range(rounds):
        started = time.perf_counter()
        residency.load()
        loads.append((time.perf_counter() - started) * 1000)
        taken.append(residency.last_change_mb or 0.0)
        started = time.perf_counter()
        residency.unload()
        unloads.append((time.perf_counter() - started) * 1000)
        freed.append(-(residency.last_change_mb or 0.0))
    return {
        "rounds": rounds,
        "load_ms": statistics.median(loads),
        "unload_ms": statistics.median(unloads),
        "taken_mb": statistics.median(taken),
        "freed_mb": statistics.median(freed),
        "rss_start": base,
        "rss_end": rss_mb(),
    }


def render(proxies: list[dict[str, Any]], swap: dict[str, Any], command: str, took: float) -> str:
    proxy = proxies[0]
    met = "met" if max(p["p50"] for p in proxies) <= 30 else "not met"
    rows = [
        f"| {MODES[p['mode']]} | {p['size']:,} | {p['p50']:.1f} | {p['p95']:.1f} | "
        f"{p['recall_p50']:.1f} | {p['memories_added']} |"
        for p in proxies
    ]
    return "\n".join(
        [
            "## Chat proxy and model swaps (`benchmarks/bench_proxy.py`)",
            "",
            f"Command: `{command}`  ",
            f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} (took {took:.0f} s); "
            f"{os.cpu_count()} cores, Python {platform.python_version()}",
            "",
            "### What the proxy adds to a chat request",
            "",
            f"{proxy['requests']} requests per row through the proxy's ASGI app, each a new "
            f"user turn, against an agent with {proxy['size']:,} memories; the model answers "
            "at once, so the time is the proxy's own: recording the turn, recall (query "
            "embedding, BM25 and vector search), building the prompt, forwarding, recording "
            "the reply (with its tool calls).",
            "",
            "| path | memories | p50 ms | p95 ms | recall alone, p50 ms | memories added |",
            "|---|---|---|---|---|---|",
            *rows,
            "",
            f"Target p50 <= 30 ms on every path: {met}.",
            "",
            "### Swapping the bundled model (embedded residency)",
            "",
            f"SmolLM2-135M-Instruct Q4_1, loaded and unloaded {swap['rounds']} times in this "
            "process; memory is the change in resident set size.",
            "",
            "| load ms | unload ms | MiB taken by a load | MiB freed by an unload |",
            "|---|---|---|---|",
            f"| {swap['load_ms']:.0f} | {swap['unload_ms']:.0f} | {swap['taken_mb']:.0f} | "
            f"{swap['freed_mb']:.0f} |",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000, help="memories (10000)")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--swaps", type=int, default=5)
    parser.add_argument("--write", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    started = time.perf_counter()
    proxies = []
    for mode in MODES:
        proxy = bench_proxy(args.size, args.requests, mode)
        proxies.append(proxy)
        print(
            f"proxy ({mode}) at {proxy['size']:,} memories: p50 {proxy['p50']:.1f} ms, "
            f"p95 {proxy['p95']:.1f} ms"
        )
    swap = bench_swap(args.swaps)
    print(
        f"swap: load {swap['load_ms']:.0f} ms, unload {swap['unload_ms']:.0f} ms, "
        f"+{swap['taken_mb']:.0f} / -{swap['freed_mb']:.0f} MiB"
    )
    command = "python benchmarks/bench_proxy.py " + shlex.join(sys.argv[1:])
    section = render(proxies, swap, command.strip(), time.perf_counter() - started)
    if args.write:
        write_section(DOCS, "bench_proxy", section)
        print(f"wrote the bench_proxy section of {DOCS}")


if __name__ == "__main__":
    main()
