"""One training: dataset, probes before, LoRA training, conversion, probes after, the gate.

    memories + persona -> question/answer pairs (dreamer, checked, verifier)
        -> training examples + held-out probes; replay answered by the base model
        -> probes asked of the model served now (base + active adapter)
        -> LoRA trained from the base, converted to GGUF
        -> probes asked of base + new adapter -> kept and activated, or rejected

The adapter's row is written first (``training``) and finished as ``kept``, ``rejected`` or
``failed`` with the whole report; a rejected adapter stays on disk, inactive. A training killed
midway leaves a ``training`` row that the next training marks ``failed``; the pairs already
written are cached per memory version, so they are not asked for again.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from .. import lock
from ..errors import ConfigError, ModelError, SleepcycleError, UsageError
from ..ids import random_id
from ..models import ChatRequest, LlamaBackend, Message, bundled_model_path, key_seed
from ..models.llama import LlamaSettings
from ..records import Activation, Adapter, AdapterStatus
from ..store import MemoryFilter
from ..times import now
from . import ADAPTER_GGUF, ADAPTER_PEFT
from .gate import Decision, decide
from .pairs import Ask, Pair, Source, pairs_for
from .probes import Probe, ProbeResult, ask_probes, general_probes, replay_prompts

if TYPE_CHECKING:
    from ..host import Host

__all__ = ["TrainResult", "activate", "adapter_dir", "base_weights", "rollback", "train"]

T = TypeVar("T", bound=BaseModel)
Note = Callable[[str, str], None]
REPLAY_TOKENS = 48
# Few memories make few pairs, but drift comes from the steps taken, not the memories: below
# this many general examples a three-memory training forgot 5 of 33 questions (15%).
MIN_REPLAY = 100


@dataclass
class TrainResult:
    """What a training did: ``outcome`` is kept, rejected, nothing-to-learn or stopped."""

    outcome: str
    adapter: Adapter | None = None
    report: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "adapter": self.adapter.id if self.adapter else None,
            "version": self.adapter.version if self.adapter else None,
            **self.report,
        }


class Stopped(Exception):
    """The training was asked to stop; nothing was activated."""


def adapter_dir(host: Host, version: int) -> Path:
    return host.home / "adapters" / host.agent / f"v{version}"


def base_weights(host: Host) -> Path:
    """The GGUF to train: ``train.base``, else the foreground model's."""
    settings = host.config.train
    if settings.base:
        path = Path(settings.base).expanduser()
        path = path if path.is_absolute() else host.home / path
    else:
        model = host.config.models[host.config.roles["foreground"].model]
        if not isinstance(model, LlamaSettings):
            raise ConfigError(
                "the foreground model runs on a server; set train.base to the GGUF of the same "
                "weights to train on"
            )
        path = Path(model.path).expanduser() if model.path else bundled_model_path()
        path = path if path.is_absolute() else host.home / path
    if path.suffix != ".gguf" or not path.is_file():
        raise ConfigError(f"no GGUF file at {path}; set train.base to the weights to train")
    return path


# asking models outside a sleep ------------------------------------------------------------


class _PlainAsk:
    """``Ask`` for ``sleepcycle train``: the roles asked directly (a sleep's ``ctx.ask`` also
    records every call)."""

    def __init__(self, host: Host):
        self.host = host

    def __call__(
        self,
        role: str,
        key: str,
        messages: Sequence[Message],
        schema: Mapping[str, Any],
        parse: Callable[[str], T],
    ) -> T:
        model = self.host.models.role(role)
        return model.ask(
            model.request(messages, schema, seed=key_seed(key)),
            parse,
            retries=self.host.config.sleep.reply_retries,
        )


# the dataset --------------------------------------------------------------------------------


def _sources(host: Host) -> list[Source]:
    """Verified active memories (those a sleep has passed), newest first, and the persona."""
    found = [m for m in host.store.memories.find(host.agent, MemoryFilter()) if m.deep]
    found.sort(key=lambda m: m.updated, reverse=True)
    sources = [Source(m.id, m.version, m.text) for m in found[: host.config.train.max_memories]]
    persona = host.persona()
    if persona is not None and persona.text.strip():
        sources.append(Source("persona", persona.version, persona.text))
    return sources


class _PairCache:
    """Pairs per memory version, in ``adapters/AGENT/pairs.json`` (written atomically)."""

    def __init__(self, path: Path):
        self.path = path
        self.data: dict[str, list[list[str]]] = (
            json.loads(path.read_text("utf-8")) if path.is_file() else {}
        )

    def get(self, source: Source) -> list[Pair] | None:
        rows = self.data.get(f"{source.id}.v{source.version}")
        return None if rows is None else [Pair(q, a, source.id) for q, a in rows]

    def put(self, source: Source, pairs: list[Pair]) -> None:
        self.data[f"{source.id}.v{source.version}"] = [[p.question, p.answer] for p in pairs]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, ensure_ascii=False, indent=1), "utf-8")
        tmp.replace(self.path)


@dataclass
class _Dataset:
    train: list[Pair] = field(default_factory=list)
    probes: dict[str, list[Probe]] = field(default_factory=dict)  # per source
    skipped: list[str] = field(default_factory=list)


def _dataset(host: Host, sources: list[Source], ask: Ask, note: Note) -> _Dataset:
    settings = host.config.train
    cache = _PairCache(host.home / "adapters" / host.agent / "pairs.json")
    held = settings.probes_per_memory
    data = _Dataset()
    for source in sources:
        pairs = cache.get(source)
        if pairs is None:
            pairs = pairs_for(source, settings.pairs_per_memory + held, ask, note=note)
            cache.put(source, pairs)
        if len(pairs) <= held:
            data.skipped.append(source.id)
            note("skipped", f"{source.id}: {len(pairs)} usable questions, too few to learn from")
            continue
        data.probes[source.id] = [Probe(p.question, p.answer, p.source) for p in pairs[:held]]
        data.train.extend(pairs[held:])
    return data


def _replay(backend: LlamaBackend, count: int) -> list[tuple[str, str]]:
    """General requests answered by the base model itself, ``count`` of them: the shipped
    prompts in order, taken again from the first when more are asked for than ship."""
    prompts = replay_prompts()[:count]
    answers: list[tuple[str, str]] = []
    for prompt in prompts:
        reply = backend.complete(
            ChatRequest(
                ({"role": "user", "content": prompt},),
                temperature=0.0,
                max_tokens=REPLAY_TOKENS,
                seed=0,
            )
        )
        if reply.text.strip():
            answers.append((prompt, reply.text.strip()))
    return [answers[i % len(answers)] for i in range(count)] if answers else []


# the training -------------------------------------------------------------------------------


def _fail_stale(host: Host) -> None:
    """Mark trainings that died midway (no live lock holder) as failed."""
    for stale in host.store.adapters.find(host.agent, status=AdapterStatus.TRAINING):
        if lock.asleep(host.store, host.agent) != stale.id:
            with host.store.write() as tx:
                tx.adapters.finish(
                    stale.id, AdapterStatus.FAILED, report=stale.report, error="interrupted"
                )


def _probe(
    base: Path,
    adapter: Path | None,
    learn: list[Probe],
    keep: list[Probe],
    check: Callable[[], None],
) -> tuple[ProbeResult, ProbeResult]:
    """Both probe sets asked of one load of base (+ adapter)."""
    backend = LlamaBackend(base, lora_path=adapter, n_ctx=1024)
    try:
        return (
            ask_probes(backend, learn, check_stop=check),
            ask_probes(backend, keep, check_stop=check),
        )
    finally:
        backend.close()


def _active_gguf(host: Host) -> tuple[Path | None, set[str]]:
    """The active adapter's GGUF and the memories it learned (none: the base alone)."""
    current = host.store.adapters.current(host.agent)
    if current is None or current.adapter_id is None:
        return None, set()
    active = host.store.adapters.get(host.agent, current.adapter_id)
    return host.home / active.path / ADAPTER_GGUF, set(active.report.get("learned", []))


def train(
    host: Host,
    *,
    sleep_id: str | None = None,
    ask: Ask | None = None,
    note: Note | None = None,
    progress: Callable[[str], None] | None = None,
    stop: threading.Event | None = None,
) -> TrainResult:
    """Train, gate and (if kept) activate a new adapter for ``host``'s agent.

    Inside a sleep, ``ask`` and ``note`` are the sleep's (calls recorded, journaled) and the
    sleep already holds the agent's lock; alone, this takes the lock itself."""
    base = base_weights(host)
    say = progress or (lambda text: None)
    notes: list[tuple[str, str]] = []

    def noted(kind: str, text: str) -> None:
        notes.append((kind, text))
        if note is not None:
            note(kind, text)

    holder = random_id("ad")
    if sleep_id is None:
        lock.acquire(host.store, host.agent, holder)
    try:
        _fail_stale(host)
        return _train(host, base, holder, sleep_id, ask or _PlainAsk(host), noted, say, stop)
    finally:
        if sleep_id is None:
            lock.release(host.store, host.agent, holder)


def _train(
    host: Host,
    base: Path,
    adapter_id: str,
    sleep_id: str | None,
    ask: Ask,
    note: Note,
    say: Callable[[str], None],
    stop: threading.Event | None,
) -> TrainResult:
    def check() -> None:
        if stop is not None and stop.is_set():
            raise Stopped

    say("writing questions from memories")
    sources = _sources(host)
    data = _dataset(host, sources, ask, note)
    active, learned_before = _active_gguf(host)
    new = [s for s in data.probes if s not in learned_before]
    if not new:
        why = "no verified memories to learn" if not sources else "nothing new to learn"
        note("summary", why)
        return TrainResult("nothing-to-learn", report={"reason": why})
    check()
    version = host.store.adapters.next_version(host.agent)
    out = adapter_dir(host, version)
    adapter = Adapter(
        id=adapter_id,
        agent=host.agent,
        version=version,
        base=base.name,
        status=AdapterStatus.TRAINING,
        path=str(out.relative_to(host.home)),
        created=now(),
        sleep_id=sleep_id,
    )
    with host.store.write() as tx:
        tx.adapters.add(adapter)
    report: dict[str, Any] = {"base": base.name, "learned": sorted(data.probes)}
    try:
        decision = _fit(host, base, out, data, new, active, report, note, say, check)
    except Stopped:
        _finish(host, adapter, AdapterStatus.FAILED, report, "stopped before it finished")
        return TrainResult("stopped", host.store.adapters.get(host.agent, adapter.id), report)
    except (SleepcycleError, OSError, RuntimeError, ValueError) as exc:
        _finish(host, adapter, AdapterStatus.FAILED, report, f"{type(exc).__name__}: {exc}")
        raise ModelError(f"training adapter v{version} failed: {exc}") from exc
    status = AdapterStatus.KEPT if decision.kept else AdapterStatus.REJECTED
    _finish(host, adapter, status, report, None)
    if decision.kept:
        by = f"sleep {sleep_id}" if sleep_id else "train"
        activate(host, adapter.id, by=by, reason="; ".join(decision.reasons))
    verdict = "kept" if decision.kept else "rejected"
    note(verdict, f"adapter v{version}: " + "; ".join(decision.reasons))
    return TrainResult(status.value, host.store.adapters.get(host.agent, adapter.id), report)


def _fit(
    host: Host,
    base: Path,
    out: Path,
    data: _Dataset,
    new: list[str],
    active: Path | None,
    report: dict[str, Any],
    note: Note,
    say: Callable[[str], None],
    check: Callable[[], None],
) -> Decision:
    from .gguf_lora import convert_adapter  # noqa: PLC0415 - the train extra
    from .trainer import Example, load_base, train_lora  # noqa: PLC0415 - the train extra

    settings = host.config.train
    learn = [p for s in new for p in data.probes[s]]
    keep = general_probes() + [p for s, ps in data.probes.items() if s not in new for p in ps]
    say(f"asking {len(learn) + len(keep)} probes of the model served now")
    learn_before, keep_before = _probe(base, active, learn, keep, check)
    wanted = round(settings.replay * len(data.train))
    replay_count = max(wanted, MIN_REPLAY) if settings.replay else 0
    plain = LlamaBackend(base, n_ctx=1024)
    try:
        replay = _replay(plain, replay_count)
    finally:
        plain.close()
    examples = [Example.qa(p.question, p.answer) for p in data.train]
    examples += [Example.qa(q, a, keep=True) for q, a in replay]
    report["dataset"] = {
        "memories": len(data.probes),
        "new": len(new),
        "pairs": len(data.train),
        "replay": len(replay),
        "probes": len(learn),
        "retention_probes": len(keep),
        "skipped": data.skipped,
        "examples": [
            {"question": p.question, "answer": p.answer, "source": p.source} for p in data.train
        ],
    }
    say(f"training on {len(examples)} examples ({len(data.train)} from memories)")
    started = time.perf_counter()
    with load_base(base) as weights:
        trained = train_lora(weights, examples, settings, out / ADAPTER_PEFT)
        load_seconds = weights.load_seconds
    if trained.stopped:
        raise Stopped
    converted = convert_adapter(out / ADAPTER_PEFT, out / ADAPTER_GGUF, base_gguf=base)
    report["training"] = {
        "examples": trained.examples,
        "epochs": trained.epochs,
        "steps": trained.steps,
        "seconds": round(trained.seconds, 1),
        "load_seconds": round(load_seconds, 1),
        "seconds_per_100": round(trained.seconds_per_100, 1),
        "first_loss": round(trained.first_loss, 4),
        "last_loss": round(trained.last_loss, 4),
        "rank": converted.rank,
        "adapter_bytes": converted.size_bytes,
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    say("asking the probes again, with the new adapter")
    learn_after, keep_after = _probe(base, out / ADAPTER_GGUF, learn, keep, check)
    decision = decide(
        settings,
        learn_before=learn_before,
        learn_after=learn_after,
        keep_before=keep_before,
        keep_after=keep_after,
    )
    report["probes"] = {"before": learn_before.to_json(), "after": learn_after.to_json()}
    report["retention"] = {"before": keep_before.to_json(), "after": keep_after.to_json()}
    report["decision"] = decision.to_json()
    for before, after in zip(learn_before.scores, learn_after.scores, strict=True):
        if after.passed and not before.passed:
            note("learned", f'"{after.probe.question}" -> "{after.reply}"')
    return decision


def _finish(
    host: Host, adapter: Adapter, status: AdapterStatus, report: dict[str, Any], error: str | None
) -> None:
    with host.store.write() as tx:
        tx.adapters.finish(adapter.id, status, report=report, error=error)


# activation ---------------------------------------------------------------------------------


def activate(host: Host, adapter_id: str | None, *, by: str, reason: str | None = None) -> None:
    """Make ``adapter_id`` (None: the base model alone) the agent's active adapter."""
    with host.store.write() as tx:
        current = tx.adapters.current(host.agent)
        if adapter_id is not None:
            adapter = tx.adapters.get(host.agent, adapter_id)
            if adapter.status in (AdapterStatus.TRAINING, AdapterStatus.FAILED):
                raise UsageError(
                    f"adapter v{adapter.version} is {adapter.status.value}; only a finished "
                    "adapter can be activated"
                )
        tx.adapters.activate(
            host.agent,
            adapter_id,
            by=by,
            reason=reason,
            replaces=current.seq if current else None,
        )


def rollback(host: Host, *, by: str) -> Activation:
    """Return to the state before the latest activation (another adapter, or none)."""
    with host.store.write() as tx:
        current = tx.adapters.current(host.agent)
        if current is None:
            raise UsageError("no adapter was ever activated for this agent; nothing to roll back")
        previous = tx.adapters.activation(current.replaces) if current.replaces else None
        return tx.adapters.activate(
            host.agent,
            previous.adapter_id if previous else None,
            by=by,
            reason=f"rollback of activation {current.seq}",
            replaces=previous.replaces if previous else None,
        )
