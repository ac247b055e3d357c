"""A sleep's summary, typed: what it proposed, kept and committed, and what it cost.

Stored as the sleep's ``stats`` (JSON) and returned as ``SleepReport.summary``; read it back
with ``SleepSummary.model_validate(sleep.stats)`` or ``report.stats``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from .commit import CommitOutput

__all__ = ["CallTotals", "OpCounts", "SleepSummary", "VerifierCounts"]


class OpCounts(BaseModel):
    """Proposals of one operation (a rewrite counts as a new proposal)."""

    proposed: int = 0
    accepted: int = 0
    rejected: int = 0


class VerifierCounts(BaseModel):
    asked: int = 0
    passed: int = 0
    pass_rate: float | None = None


class CallTotals(BaseModel):
    """Model calls of one role: how many, tokens in and out, milliseconds."""

    calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    ms: int = 0


class SleepSummary(BaseModel):
    model_config = ConfigDict(extra="allow")

    operations: dict[str, OpCounts] = {}
    verifier: VerifierCounts = VerifierCounts()
    rewrites: int = 0
    rejections: int = 0
    committed: CommitOutput | None = None
    tokens: dict[str, CallTotals] = {}
    stage_ms: dict[str, int] = {}
    wall_ms: int = 0
    model_ms: int = 0
    outside_models_share: float | None = None
    interruptions: list[str] = []

    @property
    def proposed(self) -> int:
        """The dreamer's own proposals (rewrites are the same proposals again)."""
        return sum(row.proposed for row in self.operations.values()) - self.rewrites

    @property
    def accepted(self) -> int:
        return sum(row.accepted for row in self.operations.values())
