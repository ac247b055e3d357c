"""Consolidation quality: does the sleep's verify stage keep true memories and refuse false ones?

LoCoMo (Maharana et al., ACL 2024; CC BY-NC 4.0, evaluation only) ships reference
*observations*: facts about each speaker that cite their source turns. Each is put to the
sleep's verify stage as a dreamer's proposal ("add", citing its turns), and so are corrupted
copies of it, one kind at a time (``corruptions.py``): an entity swapped for another of the
conversation, a number or time changed, a negation, the other speaker as the subject, a fact
from an unrelated session cited to these turns. The stage runs as a sleep runs it: code checks,
then the configured verifier, with ``sleep.reshape_rounds`` rewrites by the reshaper. Each
session is one night, so the night's participants and repeats are those of the session.

Reported per kind of proposal, and per conversation split: how many were accepted (for true
ones, as proposed or after a rewrite) and rejected, which check refused them first (the code
checks by name, then the verifier), verifier calls and model seconds per proposal. Conversations
1-5 are the *dev* split the code checks' floors were set on; 6-10 are *test*, never tuned on.

The conversations are ingested into homes under ``benchmarks/.cache/quality/<config>/<conv>``,
reused across runs; model replies are recorded there too, so a rerun that changes only the code
checks replays the verifier instead of asking again (``--fresh`` starts over).

    python benchmarks/quality.py                       # bundled models, 40 per kind and conv
    python benchmarks/quality.py --per-kind 0          # every observation (hours on 2 cores)
    python benchmarks/quality.py --config my.toml      # the roles on other models
    python benchmarks/quality.py --conversations conv-26 --kinds true,speaker --no-write
"""

from __future__ import annotations

import argparse
import hashlib
import platform
import random
import re
import shlex
import shutil
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import corruptions  # noqa: E402
import locomo_data  # noqa: E402
import sleepcycle  # noqa: E402
from report import write_section  # noqa: E402
from sleepcycle import FunctionModel, Mind  # noqa: E402
from sleepcycle.records import MemoryKind, Sleep, SleepStatus  # noqa: E402
from sleepcycle.sleep import verify  # noqa: E402
from sleepcycle.sleep.checks import CHECKS  # noqa: E402
from sleepcycle.sleep.context import SleepContext  # noqa: E402
from sleepcycle.sleep.crunch import Cluster, CrunchOutput  # noqa: E402
from sleepcycle.sleep.dream import DreamOutput  # noqa: E402
from sleepcycle.sleep.proposals import Proposal  # noqa: E402
from sleepcycle.times import now  # noqa: E402

CACHE = ROOT / "benchmarks" / ".cache" / "quality"
DOCS = ROOT / "docs" / "benchmarks.md"
KINDS = ("true", *corruptions.KINDS)
DEV = {"conv-26", "conv-30", "conv-41", "conv-42", "conv-43"}  # the first five of locomo10
DUMP: list[dict[str, Any]] | None = None  # --dump: every loss and every false memory
DUMP_ALL = False  # --dump-all: every proposal, with its verdict


@dataclass(frozen=True, slots=True)
class Observation:
    sample_id: str
    session: int
    subject: str
    text: str
    turns: tuple[str, ...]


@dataclass(slots=True)
class Tally:
    """What happened to the proposals of one kind."""

    proposed: int = 0
    accepted: int = 0
    rewritten: int = 0  # accepted after a rewrite
    refused_by: Counter[str] = field(default_factory=Counter)
    verifier_calls: int = 0
    model_ms: float = 0.0
    seconds: float = 0.0
    follows: list[float] = field(default_factory=list)  # the judge's P(yes), first verdicts

    def add(self, other: Tally) -> None:
        self.follows += other.follows
        self.proposed += other.proposed
        self.accepted += other.accepted
        self.rewritten += other.rewritten
        self.refused_by.update(other.refused_by)
        self.verifier_calls += other.verifier_calls
        self.model_ms += other.model_ms
        self.seconds += other.seconds


def observations(sample: dict[str, Any], turn_ids: set[str]) -> list[Observation]:
    found = []
    for key, by_speaker in sample["observation"].items():
        session = int(re.search(r"\d+", key).group())  # type: ignore[union-attr]
        for subject, items in by_speaker.items():
            for text, evidence in items:
                raw = evidence if isinstance(evidence, str) else " ".join(evidence)
                turns = tuple(dict.fromkeys(locomo_data.EVIDENCE_ID.findall(raw)))
                if turns and all(t in turn_ids for t in turns):
                    found.append(Observation(sample["sample_id"], session, subject, text, turns))
    return found


def proposals_of(
    sample: dict[str, Any], found: list[Observation], kinds: Sequence[str], per_kind: int
) -> dict[str, list[tuple[Observation, str]]]:
    """For each kind, (observation, text to propose): the observation itself or its corrupted
    copy, at most ``per_kind`` of them (0: all), chosen by a seed."""
    conv = sample["conversation"]
    people = [conv["speaker_a"], conv["speaker_b"]]
    turns = {t["dia_id"]: t for k, v in conv.items() if re.fullmatch(r"session_\d+", k) for t in v}
    pool = sorted({e for o in found for e in corruptions.entities(o.text, people)})
    out: dict[str, list[tuple[Observation, str]]] = {}
    for kind in kinds:
        made = []
        for o in found:
            cited = " ".join(locomo_data.turn_content(turns[t]) for t in o.turns)
            other = people[1] if o.subject == people[0] else people[0]
            text: str | None
            if kind == "true":
                text = o.text
            elif kind == "entity":
                text = corruptions.entity(o.text, people, pool, cited)
            elif kind == "number":
                text = corruptions.number(o.text)
            elif kind == "negation":
                text = corruptions.negation(o.text, o.subject)
            elif kind == "speaker":
                text = corruptions.speaker(o.text, o.subject, other)
            else:
                text = corruptions.foreign(
                    o.text, [x.text for x in found if abs(x.session - o.session) >= 2]
                )
            if (text and text != o.text) or kind == "true":
                made.append((o, text or o.text))
        if per_kind and len(made) > per_kind:
            made = random.Random(f"{sample['sample_id']}:{kind}").sample(made, per_kind)
        out[kind] = made
    return out


def _passing(request: object) -> dict[str, object]:
    return {"score": 1, "reasons": "code only", "feedback": ""}


def prepare(
    home: Path, config: Path | None, conversation: locomo_data.Conversation, code_only: bool
) -> Mind:
    home.mkdir(parents=True, exist_ok=True)
    if config is not None:
        shutil.copy(config, home / "config.toml")
    if code_only:  # the code checks alone: a verifier that passes everything, no rewrites
        settings = _config(config)
        settings = settings.model_copy(
            update={"sleep": settings.sleep.model_copy(update={"reshape_rounds": 0})}
        )
        verifier = FunctionModel(_passing, model_id="pass-all")
        mind = sleepcycle.open(home, "bench", config=settings, backends={"verifier": verifier})
    else:
        mind = sleepcycle.open(home, "bench")
    if mind.status()["episodes"] == 0:
        mind.ingest_messages(locomo_data.conversation_messages(conversation))
        mind.embed_pending()
    return mind


def _night(mind: Mind, key: str) -> str:
    """A sleep row for one benchmark night (the same id every run, so replies replay)."""
    sleep_id = "slp_q" + hashlib.sha256(key.encode()).hexdigest()[:12]
    if not any(s.id == sleep_id for s in mind.sleeps()):
        with mind.store.write() as tx:
            tx.ensure_agent(mind.agent)
            tx.sleeps.create(
                Sleep(sleep_id, mind.agent, SleepStatus.FAILED, now(), "benchmark", True),
                mind.config.model_dump(),
            )
    return sleep_id


def verify_night(
    mind: Mind, kind: str, session: int, items: list[tuple[Observation, str]], label: str
) -> Tally:
    """One session's proposals of one kind through the verify stage, as one night."""
    episodes = mind.episodes(sessions=[f"session_{session}"])
    by_turn = {str(ep.meta.get("dia_id")): ep for ep in episodes}
    cluster = Cluster(id=f"s{session}", episodes=[ep.id for ep in by_turn.values()])
    proposals = [
        Proposal(
            id=f"p{n}",
            cluster=cluster.id,
            op="add",
            kind=MemoryKind.FACT,
            text=text,
            sources=[by_turn[t].id for t in o.turns if t in by_turn],
        )
        for n, (o, text) in enumerate(items, start=1)
    ]
    sleep_id = _night(mind, f"{label}:{kind}:{session}:{[p.text for p in proposals]}")
    ctx = SleepContext(mind, mind.models, sleep_id, dry_run=True, stage="verify")
    started = time.perf_counter()
    out = verify.run(ctx, CrunchOutput(clusters=[cluster]), DreamOutput(proposals=proposals))
    tally = Tally(proposed=len(proposals), seconds=time.perf_counter() - started)
    accepted = set(out.accepted)
    verdicts: dict[str, list[verify.Verdict]] = defaultdict(list)
    for v in out.verdicts:
        verdicts[v.proposal].append(v)
    family: dict[str, list[Proposal]] = defaultdict(list)
    for p in out.proposals:
        root = p.id.split("r")[0]
        family[root].append(p)
    for p, (o, _) in zip(proposals, items, strict=True):
        kept = [q for q in family[p.id] if q.id in accepted]
        first = verdicts[p.id][0]
        if first.follows is not None:
            tally.follows.append(first.follows)
        if kept:
            tally.accepted += 1
            tally.rewritten += kept[0].id != p.id
        else:
            tally.refused_by[first.failed[0] if first.failed else "verifier"] += 1
        if DUMP is not None and (DUMP_ALL or bool(kept) != (kind == "true")):
            cited = [
                f"{e.name}: {e.content}"
                for e in mind.store.episodes.get_many(mind.agent, p.sources)
            ]
            DUMP.append(
                {
                    "kind": kind,
                    "conversation": o.sample_id,
                    "accepted": bool(kept),
                    "failed": first.failed,
                    "follows": first.follows,
                    "text": p.text,
                    "observation": o.text,
                    "cited": cited,
                    "verdict": first.reasons,
                    "score": first.score,
                }
            )
    calls = mind.store.calls.totals(sleep_id)
    tally.verifier_calls = calls.get("verifier", {}).get("calls", 0)
    tally.model_ms = sum(c["ms"] for c in calls.values())
    return tally


def run_conversation(
    sample: dict[str, Any],
    conversation: locomo_data.Conversation,
    args: argparse.Namespace,
    label: str,
) -> dict[str, Tally]:
    home = CACHE / label / conversation.sample_id
    mind = prepare(home, args.config, conversation, args.code_only)
    try:
        found = observations(sample, set(conversation.turn_ids))
        made = proposals_of(sample, found, args.kinds, args.per_kind)
        tallies: dict[str, Tally] = {}
        for kind, items in made.items():
            total = Tally()
            by_session: dict[int, list[tuple[Observation, str]]] = defaultdict(list)
            for o, text in items:
                by_session[o.session].append((o, text))
            for session, chunk in sorted(by_session.items()):
                total.add(verify_night(mind, kind, session, chunk, label))
            tallies[kind] = total
            _log(f"{conversation.sample_id} {kind}: {_summary(kind, total)}")
        return tallies
    finally:
        mind.close()


def _summary(kind: str, t: Tally) -> str:
    share = t.accepted / t.proposed if t.proposed else 0.0
    verb = "accepted" if kind == "true" else "rejected"
    value = share if kind == "true" else 1 - share
    return f"{value:.1%} {verb} of {t.proposed} ({dict(t.refused_by)})"


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}" if whole else "-"


def table(tallies: dict[str, Tally]) -> list[str]:
    refusals = [c for c in CHECKS if any(t.refused_by[c] for t in tallies.values())]
    head = ["kind", "proposed", "accepted %", "rejected %", *[f"by {c}" for c in refusals]]
    head += ["by verifier", "verifier calls", "model s / proposal"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for kind, t in tallies.items():
        rejected = t.proposed - t.accepted
        cells = [
            kind,
            str(t.proposed),
            _pct(t.accepted, t.proposed) + (f" ({t.rewritten} rewritten)" if t.rewritten else ""),
            _pct(rejected, t.proposed),
            *[str(t.refused_by[c]) for c in refusals],
            str(t.refused_by["verifier"]),
            str(t.verifier_calls),
            f"{t.model_ms / 1000 / t.proposed:.2f}" if t.proposed else "-",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def verdict_line(tallies: dict[str, Tally]) -> str:
    true = tallies.get("true")
    parts = []
    if true and true.proposed:
        parts.append(f"true accepted {_pct(true.accepted, true.proposed)}% (target 95)")
    worst = [
        (1 - t.accepted / t.proposed, k) for k, t in tallies.items() if k != "true" and t.proposed
    ]
    if worst:
        share, kind = min(worst)
        parts.append(f"least rejected corruption: {kind} {100 * share:.1f}% (target 95)")
    return "; ".join(parts)


THRESHOLDS = (0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99)


def calibration(tallies: dict[str, Tally]) -> list[str]:
    """For each ``verify.reject_above``: of the proposals the judge was asked about (they
    passed the code checks), the share of true ones kept and of false ones rejected."""
    if not any(t.follows for t in tallies.values()):
        return []
    head = ["reject_above", *[f"{k} {'kept' if k == 'true' else 'rejected'} %" for k in tallies]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for limit in THRESHOLDS:
        cells = [str(limit)]
        for kind, t in tallies.items():
            kept = sum(1 - f <= limit for f in t.follows)
            cells.append(
                f"{_pct(kept if kind == 'true' else len(t.follows) - kept, len(t.follows))} "
                f"of {len(t.follows)}"
            )
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def render(splits: dict[str, dict[str, Tally]], args: argparse.Namespace, seconds: float) -> str:
    mind = sleepcycle.open(CACHE / "models-probe", "probe", config=_config(args.config))
    try:
        roles = {r: mind.models.role(r).model_id for r in ("verifier", "reshaper")}
    finally:
        mind.close()
    rounds = _config(args.config).sleep.reshape_rounds
    judging = _config(args.config).verify
    out = [
        "## Consolidation quality: verify on LoCoMo observations (`benchmarks/quality.py`)",
        "",
        f"`python benchmarks/quality.py {shlex.join(sys.argv[1:])}`".replace(" `", "`"),
        f"on {platform.machine()}, 2 cores, {time.strftime('%Y-%m-%d', time.gmtime())}, "
        f"{seconds / 60:.0f} minutes. Verifier {roles['verifier']}, reshaper "
        f"{roles['reshaper']}, {rounds} reshape rounds; "
        + (
            "the code checks alone (a verifier that passes all, no rewrites); "
            if args.code_only
            else ""
        )
        + (f"{args.per_kind} per kind and conversation" if args.per_kind else "every observation")
        + (
            ""
            if args.code_only
            else f"; a judge read by its probabilities (`verify.judge = choice`, the bundled "
            f"model's) rejects above {judging.reject_above} No, and is not asked about a "
            f"proposal with similarity {judging.settled_similarity} or more to a cited line "
            f"that also holds {judging.settled_overlap:.0%} of its words (settled by code)"
        )
        + ". True proposals are LoCoMo's reference observations; the others are corrupted copies "
        "(see the script). *by X* counts the proposals that check refused first; a rejected "
        "true proposal is a loss, an accepted corruption a false memory.",
    ]
    for name, tallies in splits.items():
        if not tallies:
            continue
        out += ["", f"### {name}: {verdict_line(tallies)}", "", *table(tallies)]
        judged = calibration(tallies)
        if judged:
            out += ["", f"The judge on {name}, by threshold (first verdicts only):", "", *judged]
    return "\n".join(out)


def _config(path: Path | None) -> sleepcycle.Config:
    from sleepcycle.config import load_config  # noqa: PLC0415

    if path is None:
        return sleepcycle.Config()
    home = CACHE / "config-probe"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, home / "config.toml")
    return load_config(home)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=locomo_data.DEFAULT_DATA)
    parser.add_argument("--config", type=Path, help="a config.toml for the roles")
    parser.add_argument("--conversations", help="comma-separated sample ids (default: all)")
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated kinds")
    parser.add_argument("--per-kind", type=int, default=40, help="per conversation; 0: all")
    parser.add_argument("--fresh", action="store_true", help="rebuild the homes")
    parser.add_argument(
        "--code-only", action="store_true", help="the code checks alone (no verifier, no rewrites)"
    )
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument(
        "--dump-all", action="store_true", help="with --dump: every proposal, not only mistakes"
    )
    parser.add_argument(
        "--dump", type=Path, help="write every rejected true and accepted false proposal here"
    )
    args = parser.parse_args(argv)
    args.kinds = [k for k in args.kinds.split(",") if k]
    unknown = set(args.kinds) - set(KINDS)
    if unknown:
        parser.error(f"unknown kinds {sorted(unknown)}; kinds are {', '.join(KINDS)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    import json  # noqa: PLC0415

    global DUMP, DUMP_ALL  # noqa: PLW0603 - one run's record of mistakes
    args = parse_args(argv)
    DUMP = [] if args.dump else None
    DUMP_ALL = args.dump_all
    label = (args.config.stem if args.config else "bundled") + ("-code" if args.code_only else "")
    if args.fresh:
        shutil.rmtree(CACHE / label, ignore_errors=True)
    samples = json.loads(args.data.read_text(encoding="utf-8"))
    wanted = set(args.conversations.split(",")) if args.conversations else None
    started = time.perf_counter()
    splits: dict[str, dict[str, Tally]] = {"dev (conv 1-5)": {}, "test (conv 6-10)": {}}
    everything: dict[str, Tally] = {}
    for sample in samples:
        if wanted and sample["sample_id"] not in wanted:
            continue
        conversation = locomo_data.parse_conversation(sample)
        tallies = run_conversation(sample, conversation, args, label)
        split = splits["dev (conv 1-5)" if sample["sample_id"] in DEV else "test (conv 6-10)"]
        for kind, t in tallies.items():
            split.setdefault(kind, Tally()).add(t)
            everything.setdefault(kind, Tally()).add(t)
    splits["all ten"] = everything
    body = render(splits, args, time.perf_counter() - started)
    print(body)
    if args.dump and DUMP is not None:
        args.dump.write_text(json.dumps(DUMP, indent=1, ensure_ascii=False), encoding="utf-8")
    if not args.no_write and not wanted:
        write_section(DOCS, f"quality-{label}", body)
        _log(f"wrote {DOCS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
