"""Records as plain JSON values, the same for the CLI's --json, the HTTP API and MCP."""

from __future__ import annotations

from typing import Any

from .records import (
    Activation,
    Adapter,
    Episode,
    MemoryVersion,
    PersonaVersion,
    ReviewItem,
    Sleep,
    Thought,
)
from .times import format_time

__all__ = [
    "activation_json",
    "adapter_json",
    "episode_json",
    "persona_json",
    "review_json",
    "sleep_json",
    "thought_json",
    "version_json",
]


def episode_json(ep: Episode) -> dict[str, Any]:
    return {
        "id": ep.id,
        "agent": ep.agent,
        "session": ep.session,
        "role": ep.role.value,
        "name": ep.name,
        "content": ep.content,
        "time": format_time(ep.time),
        "recorded_at": format_time(ep.recorded_at),
        "meta": dict(ep.meta),
        "source": ep.source,
        "consolidated_in": ep.consolidated_in,
    }


def thought_json(t: Thought) -> dict[str, Any]:
    return {
        "id": t.id,
        "agent": t.agent,
        "kind": t.kind.value,
        "text": t.text,
        "status": t.status.value,
        "sources": list(t.sources),
        "meta": dict(t.meta),
        "created": format_time(t.created),
        "updated": format_time(t.updated),
        "resolved_in": t.resolved_in,
        "note": t.note,
    }


def version_json(v: MemoryVersion) -> dict[str, Any]:
    return {
        "memory_id": v.memory_id,
        "version": v.version,
        "op": v.op.value,
        "author": {
            "kind": v.author.kind.value,
            "name": v.author.name,
            "stage": v.author.stage,
            "model": v.author.model,
        },
        "reason": v.reason,
        "verdict": dict(v.verdict) if v.verdict is not None else None,
        "created": format_time(v.created),
        "before": v.before.to_json() if v.before is not None else None,
        "after": v.after.to_json(),
    }


def persona_json(p: PersonaVersion) -> dict[str, Any]:
    return {
        "agent": p.agent,
        "version": p.version,
        "text": p.text,
        "pinned": list(p.pinned),
        "author": str(p.author),
        "reason": p.reason,
        "created": format_time(p.created),
    }


def review_json(item: ReviewItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "agent": item.agent,
        "sleep": item.sleep_id,
        "op": item.op,
        "summary": item.summary,
        "status": item.status.value,
        "created": format_time(item.created),
        "decided_at": format_time(item.decided_at) if item.decided_at else None,
        "decided_by": item.decided_by,
        "note": item.note,
        "payload": dict(item.payload),
        "result": dict(item.result) if item.result else None,
    }


def sleep_json(s: Sleep) -> dict[str, Any]:
    return {
        "id": s.id,
        "agent": s.agent,
        "status": s.status.value,
        "outcome": s.outcome.value if s.outcome else None,
        "trigger": s.trigger,
        "dry_run": s.dry_run,
        "started": format_time(s.started),
        "ended": format_time(s.ended) if s.ended else None,
        "error": s.error,
        "stats": dict(s.stats),
    }


def adapter_json(a: Adapter, *, active: bool = False, report: bool = False) -> dict[str, Any]:
    """An adapter; its training report (dataset, probes, decision) only with ``report``."""
    decision = a.report.get("decision") or {}
    probes = a.report.get("probes") or {}
    retention = a.report.get("retention") or {}
    value: dict[str, Any] = {
        "id": a.id,
        "agent": a.agent,
        "version": a.version,
        "base": a.base,
        "status": a.status.value,
        "active": active,
        "path": a.path,
        "created": format_time(a.created),
        "finished": format_time(a.finished) if a.finished else None,
        "sleep": a.sleep_id,
        "probes": {k: (probes.get(k) or {}).get("accuracy") for k in ("before", "after")},
        "retention": {k: (retention.get(k) or {}).get("accuracy") for k in ("before", "after")},
        "reasons": decision.get("reasons", []),
        "error": a.error,
    }
    if report:
        value["report"] = dict(a.report)
    return value


def activation_json(a: Activation) -> dict[str, Any]:
    return {
        "seq": a.seq,
        "adapter": a.adapter_id,
        "by": a.by,
        "reason": a.reason,
        "replaces": a.replaces,
        "at": format_time(a.at),
    }
