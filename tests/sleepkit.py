"""Helpers for sleep tests: a small night, and fake models that answer from the prompt.

The fakes are the library's own (``FunctionModel``); what they answer depends on the labels the
prompt shows (``e3``, ``m1``, ``t1``), found by the text each label stands for, so a test says
"supersede the memory that reads X, citing the line that says Y" and does not depend on ids.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sleepcycle
from sleepcycle import Config, Mind, MiniLMEmbedder
from sleepcycle.config import SleepSettings
from sleepcycle.models import ChatRequest, FunctionModel
from sleepcycle.records import Outcome

# One cluster holding everything, so every label is in one prompt.
ONE_CLUSTER = SleepSettings(
    cluster_size=64, cluster_similarity=-1.0, related_memories=32, reshape_rounds=2,
    max_operations=20,
)  # fmt: skip

NIGHT = [
    {"session": "d1", "time": "2026-03-02T08:05:00Z", "role": "user", "name": "Maya",
     "content": "I'm a UX designer at Brightline Studio in Manchester."},
    {"session": "d1", "time": "2026-03-02T08:06:00Z", "role": "assistant",
     "content": "Nice! What are you working on today?"},
    {"session": "d1", "time": "2026-03-02T08:07:00Z", "role": "user", "name": "Maya",
     "content": "Usability tests. Also remember that I'm allergic to peanuts."},
    {"session": "d2", "time": "2026-04-08T07:50:00Z", "role": "user", "name": "Maya",
     "content": "We moved to Lisbon last weekend. I live in Alfama now."},
    {"session": "d2", "time": "2026-04-08T07:51:00Z", "role": "user", "name": "Maya",
     "content": "Pixel, my grey cat, loves the big window."},
    {"session": "d2", "time": "2026-04-08T07:52:00Z", "role": "user", "name": "Maya",
     "content": "I gave up coffee. I drink green tea in the mornings now."},
    {"session": "d2", "time": "2026-04-08T07:53:00Z", "role": "user", "name": "Maya",
     "content": "I GOT THE JOB at Atlas Maps! My manager is Ines."},
]  # fmt: skip


APPLY_ALL = {k: "apply" for k in ("add", "edit", "amend", "retract", "merge", "persona")}


def open_mind(
    home: Path,
    embedder: MiniLMEmbedder,
    rounds: int = 2,
    review: dict[str, str] | None = None,
    settings: dict[str, Any] | None = None,
    **roles: Any,
) -> Mind:
    """A mind whose models are all fakes: the roles given, and quiet defaults for the rest.
    Every operation is applied unless ``review`` says otherwise; ``settings`` adds sections
    of config.toml."""
    roles = {
        "dreamer": dreamer(),
        "verifier": verifier(),
        "reshaper": reshaper(lambda prompt, change: None),
        "foreground": persona_model(),
        "sub": persona_model(),
        **roles,
    }
    config = Config.model_validate(
        {
            "sleep": ONE_CLUSTER.model_copy(update={"reshape_rounds": rounds}).model_dump(),
            "roles": {"dreamer": {"max_tokens": 4000}},
            "review": APPLY_ALL if review is None else review,
            **(settings or {}),
        }
    )
    return sleepcycle.open(home, "maya", embedder=embedder, config=config, backends=roles)


def labels(prompt: str) -> dict[str, str]:
    """Label -> the text shown for it (episodes, memories and thoughts)."""
    found = {}
    for line in prompt.splitlines():
        match = re.match(r"^([emt]\d+)\. (?:\[[^\]]*\] )?(?:\([a-z]+\) )?(.*)$", line)
        if match:
            found[match.group(1)] = match.group(2)
    return found


def find(prompt: str, prefix: str, fragment: str) -> str | None:
    for label, text in labels(prompt).items():
        if label.startswith(prefix) and fragment.casefold() in text.casefold():
            return label
    return None


@dataclass
class Intent:
    """An operation to propose once its memories, lines and thought are in the prompt."""

    op: str
    text: str = ""
    sources: list[str] = field(default_factory=list)  # fragments of episode texts
    targets: list[str] = field(default_factory=list)  # fragments of memory texts
    thought: str = ""  # fragment of a thought's text
    kind: str = "fact"

    def render(self, prompt: str) -> dict[str, Any] | None:
        sources = [find(prompt, "e", s) for s in self.sources]
        targets = [find(prompt, "m", t) for t in self.targets]
        thought = find(prompt, "t", self.thought) if self.thought else ""
        if None in sources or None in targets or thought is None:
            return None
        return {
            "op": self.op,
            "kind": self.kind,
            "text": self.text,
            "sources": sources,
            "targets": targets,
            "thought": thought,
            "reason": "test",
        }


def dreamer(*intents: Intent) -> FunctionModel:
    """Proposes each intent once, in the first prompt that shows everything it needs."""
    left = list(intents)

    def reply(request: ChatRequest) -> dict[str, Any]:
        prompt = request.messages[-1]["content"]
        ops = []
        for intent in list(left):
            op = intent.render(prompt)
            if op is not None:
                ops.append(op)
                left.remove(intent)
        return {"operations": ops}

    return FunctionModel(reply, model_id="fake-dreamer")


def proposal_text(prompt: str) -> str:
    """The text of the change a verify prompt asks about."""
    line = next(x for x in prompt.splitlines() if x.startswith("Change:"))
    quoted = re.findall(r'"([^"]*)"', line)
    return quoted[-1] if quoted else line


def verifier(judge: Callable[[str], int] = lambda text: 1) -> FunctionModel:
    def reply(request: ChatRequest) -> dict[str, Any]:
        text = proposal_text(request.messages[-1]["content"])
        score = judge(text)
        return {
            "score": score,
            "reasons": "supported" if score else "not supported",
            "feedback": "" if score else "say only what the line says",
        }

    return FunctionModel(reply, model_id="fake-verifier")


def reshaper(fix: Callable[[str, str], dict[str, Any] | None]) -> FunctionModel:
    """``fix(prompt, rejected_change_line)`` returns the rewritten operation."""

    def reply(request: ChatRequest) -> dict[str, Any]:
        prompt = request.messages[-1]["content"]
        change = next(x for x in prompt.splitlines() if x.startswith("Rejected change:"))
        op = fix(prompt, change)
        if op is None:
            raise AssertionError(f"unexpected rewrite request: {change}")
        return op

    return FunctionModel(reply, model_id="fake-reshaper")


def persona_model(*updates: dict[str, str]) -> FunctionModel:
    return FunctionModel(lambda request: {"updates": list(updates)}, model_id="fake-persona")


def night(mind: Mind) -> None:
    mind.ingest_messages(NIGHT)


def dump(value: Any) -> str:
    return json.dumps(value, indent=1, default=str)


PROPOSE_ADDS = {
    "add": "propose", "edit": "apply", "amend": "apply", "retract": "propose",
    "merge": "apply", "persona": "propose",
}  # fmt: skip


def sleep_with_proposals(home: Path, embedder: MiniLMEmbedder) -> Mind:
    mind = open_mind(
        home,
        embedder,
        review=PROPOSE_ADDS,
        dreamer=dreamer(
            Intent("add", "Maya has a grey cat called Pixel.", sources=["Pixel, my grey cat"]),
            Intent("retract", sources=["Pixel, my grey cat"], targets=["has a dog"]),
            Intent(
                "edit",
                "Maya drinks green tea in the mornings.",
                sources=["green tea"],
                targets=["oat milk"],
            ),
        ),
        verifier=verifier(),
        foreground=persona_model(
            {"action": "add", "line": "Maya has a grey cat called Pixel.", "new": "", "note": ""}
        ),
    )
    mind.add("Maya has a dog.")
    mind.add("Maya drinks oat milk flat whites.", kind="preference")
    night(mind)
    report = mind.sleep()
    assert report.outcome is Outcome.DONE, report.sleep.error
    return mind


def install_outside(site: Path, name: str, source: str, entry_points: str) -> Path:
    """Write a third-party package into ``site``: module ``name`` and its dist-info with
    ``entry_points`` (entry_points.txt text), as pip would install it. Put ``site`` on sys.path
    and call ``sleepcycle.plugins.reload()`` to use it."""
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{name}.py").write_text(source)
    info = site / f"{name}-0.1.dist-info"
    info.mkdir()
    dist = name.replace("_", "-")
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(entry_points)
    return site
