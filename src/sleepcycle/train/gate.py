"""The probe gate: an adapter is kept only if it learned and did not forget."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config import TrainSettings
from .probes import ProbeResult

__all__ = ["Decision", "decide"]


@dataclass(frozen=True, slots=True)
class Decision:
    kept: bool
    reasons: tuple[str, ...]
    gain: float
    retention_drop: float

    def to_json(self) -> dict[str, Any]:
        return {
            "kept": self.kept,
            "reasons": list(self.reasons),
            "gain": round(self.gain, 4),
            "retention_drop": round(self.retention_drop, 4),
        }


def decide(
    settings: TrainSettings,
    *,
    learn_before: ProbeResult,
    learn_after: ProbeResult,
    keep_before: ProbeResult,
    keep_after: ProbeResult,
) -> Decision:
    """Keep when probe accuracy rose by ``min_gain`` or more and retention fell by no more
    than ``retention_tolerance``."""
    gain = learn_after.accuracy - learn_before.accuracy
    drop = keep_before.accuracy - keep_after.accuracy
    reasons = []
    learned = gain >= settings.min_gain and learn_after.passed > learn_before.passed
    if learned:
        reasons.append(
            f"probe accuracy rose {learn_before.accuracy:.0%} -> {learn_after.accuracy:.0%}"
        )
    else:
        reasons.append(
            f"probe accuracy {learn_before.accuracy:.0%} -> {learn_after.accuracy:.0%}, "
            f"less than the {settings.min_gain:.0%} rise train.min_gain asks"
        )
    held = drop <= settings.retention_tolerance + 1e-9
    if held:
        reasons.append(f"retention held: {keep_before.accuracy:.0%} -> {keep_after.accuracy:.0%}")
    else:
        lost = [
            s.probe.question
            for s, b in zip(keep_after.scores, keep_before.scores, strict=True)
            if b.passed and not s.passed
        ]
        reasons.append(
            f"retention fell {keep_before.accuracy:.0%} -> {keep_after.accuracy:.0%}, more than "
            f"train.retention_tolerance ({settings.retention_tolerance:.0%}); forgot: "
            + "; ".join(lost[:3])
        )
    return Decision(learned and held, tuple(reasons), gain, drop)
