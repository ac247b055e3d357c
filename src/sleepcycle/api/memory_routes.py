"""Routes for what an agent records and remembers: episodes, thoughts, recall, memories,
the persona."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from ..changes import UNSET
from ..mind import Mind
from ..recall import Mode, Scope
from ..records import Author, MemoryKind, MemoryStatus, Role, ThoughtKind, ThoughtStatus
from ..serialize import episode_json, persona_json, thought_json, version_json
from ..server.deps import author_of, mind_of
from .schemas import (
    AmendBody,
    ApiTime,
    EditBody,
    EpisodesBody,
    LinkBody,
    MemoryBody,
    PersonaBody,
    ReasonBody,
    RestoreBody,
    ThoughtBody,
)

__all__ = ["router"]

router = APIRouter(prefix="/v1/agents/{agent}")
MindDep = Annotated[Mind, Depends(mind_of)]
AuthorDep = Annotated[Author, Depends(author_of)]
Statuses = Annotated[list[MemoryStatus] | None, Query(description="default: active")]


@router.post("/episodes", status_code=201, tags=["episodes"])
def post_episodes(body: EpisodesBody, mind: MindDep) -> dict[str, Any]:
    """Record messages, events and thoughts; idempotent, all or nothing."""
    return mind.ingest_messages(body.messages, session=body.session).to_json()


@router.get("/episodes", tags=["episodes"])
def get_episodes(
    mind: MindDep,
    session: list[str] | None = Query(None),
    role: list[Role] | None = Query(None),
    since: ApiTime | None = None,
    until: ApiTime | None = None,
    unconsolidated: bool = False,
    limit: int = Query(100, ge=1, le=10_000),
) -> list[dict[str, Any]]:
    episodes = mind.episodes(
        roles=role or (),
        sessions=session or (),
        since=since,
        until=until,
        unconsolidated=unconsolidated,
        limit=limit,
    )
    return [episode_json(e) for e in episodes]


@router.get("/episodes/{episode_id}", tags=["episodes"])
def get_episode(episode_id: str, mind: MindDep) -> dict[str, Any]:
    return episode_json(mind.episode(episode_id))


@router.post("/thoughts", status_code=201, tags=["thoughts"])
def post_thought(body: ThoughtBody, mind: MindDep) -> dict[str, Any]:
    """Park a question for later, note a dismissed idea, or keep an internal thought."""
    return thought_json(mind.think(body.text, kind=body.kind, sources=body.sources))


@router.get("/thoughts", tags=["thoughts"])
def get_thoughts(
    mind: MindDep,
    status: list[ThoughtStatus] | None = Query(None),
    kind: list[ThoughtKind] | None = Query(None),
) -> list[dict[str, Any]]:
    return [thought_json(t) for t in mind.thoughts(statuses=status or (), kinds=kind or ())]


@router.get("/recall", tags=["recall"])
def recall(
    mind: MindDep,
    q: str = Query(min_length=1, max_length=2000, description="what to recall"),
    k: int = Query(10, ge=1, le=200),
    scope: Scope = Query(Scope.MEMORIES, alias="in"),
    kind: list[MemoryKind] | None = Query(None),
    status: Statuses = None,
    role: list[Role] | None = Query(None),
    session: list[str] | None = Query(None),
    since: ApiTime | None = None,
    until: ApiTime | None = None,
    mode: Mode = Mode.HYBRID,
) -> dict[str, Any]:
    """Hybrid recall (BM25 and vectors): hits with ids, scores, sources and the records."""
    result = mind.recall(
        q,
        k=k,
        scope=scope,
        kinds=kind or (),
        statuses=status or (MemoryStatus.ACTIVE,),
        roles=role or (),
        sessions=session or (),
        since=since,
        until=until,
        mode=mode,
    )
    return result.to_json()


@router.post("/memories", status_code=201, tags=["memories"])
def post_memory(body: MemoryBody, mind: MindDep, author: AuthorDep) -> dict[str, Any]:
    memory = mind.add(
        body.text,
        kind=body.kind,
        tags=body.tags,
        sources=body.sources,
        valid_from=body.valid_from,
        valid_to=body.valid_to,
        reason=body.reason,
        author=author,
    )
    return memory.to_json()


@router.get("/memories", tags=["memories"])
def get_memories(
    mind: MindDep,
    kind: list[MemoryKind] | None = Query(None),
    status: Statuses = None,
    since: ApiTime | None = None,
    until: ApiTime | None = None,
    limit: int | None = Query(None, ge=1, le=100_000),
) -> list[dict[str, Any]]:
    memories = mind.memories(
        kinds=kind or (),
        statuses=status or (MemoryStatus.ACTIVE,),
        since=since,
        until=until,
        limit=limit,
    )
    return [m.to_json() for m in memories]


@router.get("/memories/{memory_id}", tags=["memories"])
def get_memory(memory_id: str, mind: MindDep) -> dict[str, Any]:
    memory = mind.memory(memory_id)
    return {
        **memory.to_json(),
        "linked_from": [{"id": i, "relation": r} for i, r in mind.linked_from(memory.id)],
    }


@router.patch("/memories/{memory_id}", tags=["memories"])
def patch_memory(
    memory_id: str, body: EditBody, mind: MindDep, author: AuthorDep
) -> dict[str, Any]:
    given = body.model_fields_set
    memory = mind.edit(
        memory_id,
        text=body.text,
        kind=body.kind,
        tags=body.tags,
        valid_from=body.valid_from if "valid_from" in given else UNSET,
        valid_to=body.valid_to if "valid_to" in given else UNSET,
        reason=body.reason,
        author=author,
    )
    return memory.to_json()


@router.post("/memories/{memory_id}/amend", tags=["memories"])
def amend_memory(
    memory_id: str, body: AmendBody, mind: MindDep, author: AuthorDep
) -> dict[str, Any]:
    memory = mind.amend(
        memory_id, body.text, sources=body.sources, reason=body.reason, author=author
    )
    return memory.to_json()


@router.post("/memories/{memory_id}/retract", tags=["memories"])
def retract_memory(
    memory_id: str, body: ReasonBody, mind: MindDep, author: AuthorDep
) -> dict[str, Any]:
    """Withdraw a memory: a tombstone; its text and history stay."""
    return mind.retract(memory_id, reason=body.reason, author=author).to_json()


@router.post("/memories/{memory_id}/restore", tags=["memories"])
def restore_memory(
    memory_id: str, body: RestoreBody, mind: MindDep, author: AuthorDep
) -> dict[str, Any]:
    memory = mind.restore(memory_id, version=body.version, reason=body.reason, author=author)
    return memory.to_json()


@router.post("/memories/{memory_id}/links", tags=["memories"])
def link_memory(memory_id: str, body: LinkBody, mind: MindDep, author: AuthorDep) -> dict[str, Any]:
    memory = mind.link(
        memory_id, body.other, relation=body.relation, reason=body.reason, author=author
    )
    return memory.to_json()


@router.get("/memories/{memory_id}/history", tags=["memories"])
def memory_history(memory_id: str, mind: MindDep) -> list[dict[str, Any]]:
    return [version_json(v) for v in mind.history(memory_id)]


@router.get("/persona", tags=["persona"])
def get_persona(mind: MindDep) -> dict[str, Any] | None:
    current = mind.persona()
    return persona_json(current) if current else None


@router.put("/persona", tags=["persona"])
def put_persona(body: PersonaBody, mind: MindDep, author: AuthorDep) -> dict[str, Any]:
    version = mind.set_persona(body.text, pinned=body.pinned, reason=body.reason, author=author)
    return persona_json(version)


@router.get("/persona/history", tags=["persona"])
def persona_history(mind: MindDep) -> list[dict[str, Any]]:
    return [persona_json(v) for v in mind.persona_history()]
