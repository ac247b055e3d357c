"""The sample night: does a sleep on the bundled defaults keep what a person would write down?

Ingests the bundled sample chat (``src/sleepcycle/samples/maya.jsonl``) into a fresh home,
sleeps once on the configured (default: bundled) models, as ``sleepcycle demo`` does, and
judges the result against ``fixtures/maya_facts.json``: the share of its facts held by an
active memory, whether each outdated fact is out of the active set (superseded, or bounded in
time with ``valid_to``), and the active memories that match a false pattern. Every active
memory is listed, so a person can read for falsehoods the patterns do not name. Prints the
section and writes it to ``docs/benchmarks.md``.

    python benchmarks/sample.py [--config my.toml] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import sleepcycle  # noqa: E402
from report import write_section  # noqa: E402
from sleepcycle import MemoryStatus  # noqa: E402
from sleepcycle.records import Memory  # noqa: E402
from sleepcycle.samples import sample_path  # noqa: E402

FIXTURE = ROOT / "benchmarks" / "fixtures" / "maya_facts.json"
DOCS = ROOT / "docs" / "benchmarks.md"


def holds(memory: Memory, alternatives: list[list[str]]) -> bool:
    text = memory.text.casefold()
    return any(all(word.casefold() in text for word in words) for words in alternatives)


def judge(memories: list[Memory], fixture: dict[str, Any]) -> dict[str, Any]:
    active = [m for m in memories if m.status is MemoryStatus.ACTIVE]
    kept = {f["fact"]: any(holds(m, f["any"]) for m in active) for f in fixture["facts"]}
    outdated = {}
    for f in fixture["outdated"]:
        current = [m for m in active if holds(m, f["any"]) and m.valid_to is None]
        anywhere = [m for m in memories if holds(m, f["any"])]
        outdated[f["fact"]] = (
            "still active" if current else "superseded or bounded" if anywhere else "not kept"
        )
    false = [(f["fact"], m.text) for f in fixture["false"] for m in active if holds(m, f["any"])]
    return {"kept": kept, "outdated": outdated, "false": false, "active": active}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, help="a config.toml for the roles")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    fixture = json.loads(FIXTURE.read_text("utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        if args.config:
            shutil.copy(args.config, home / "config.toml")
        with sleepcycle.open(home, "maya") as mind:
            mind.ingest(sample_path())
            mind.embed_pending()
            episodes = len(mind.episodes())
            started = time.perf_counter()
            report = mind.sleep()
            seconds = time.perf_counter() - started
            memories = mind.memories(statuses=list(MemoryStatus))
            calls = mind.store.calls.totals(report.sleep.id)
    result = judge(memories, fixture)
    kept = sum(result["kept"].values())
    total = len(result["kept"])
    lines = [
        "## The sample night (`benchmarks/sample.py`)",
        "",
        f"`python benchmarks/sample.py{' --config ' + args.config.name if args.config else ''}` "
        f"on {platform.machine()}, 2 cores, {time.strftime('%Y-%m-%d', time.gmtime())}: one "
        f"sleep over the {episodes} episodes of `maya.jsonl` in {seconds:.0f} s "
        f"({60 * episodes / seconds:.0f} episodes per minute), outcome {report.outcome.value}. "
        f"Model calls: "
        + ", ".join(f"{role} {c['calls']}" for role, c in sorted(calls.items()))
        + ".",
        "",
        f"**{kept} of {total} facts kept ({100 * kept / total:.0f}%; target 80%)**, "
        f"{len(result['false'])} false memories by the fixture's patterns, "
        f"{len(result['active'])} active memories.",
        "",
        "| fact | kept |",
        "|---|---|",
        *[f"| {fact} | {'yes' if ok else 'no'} |" for fact, ok in result["kept"].items()],
        "",
        "| outdated fact | now |",
        "|---|---|",
        *[f"| {fact} | {state} |" for fact, state in result["outdated"].items()],
        "",
        "Active memories after the night:",
        "",
        *[f"- {m.text}" for m in result["active"]],
    ]
    if result["false"]:
        lines += ["", "False memories:", "", *[f"- {t} ({f})" for f, t in result["false"]]]
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        write_section(DOCS, "sample-night", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
