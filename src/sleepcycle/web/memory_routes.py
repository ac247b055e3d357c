"""Pages for what an agent remembers: the memory browser, one memory with its history, an
episode, and the persona with its history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse

from ..records import MemoryKind, MemoryStatus
from .guard import Visit, visit_of
from .memory_views import browse, choice, history, persona_history, sources

__all__ = ["router"]

router = APIRouter(prefix="/agents/{agent}", include_in_schema=False)
VisitDep = Annotated[Visit, Depends(visit_of)]


@router.get("/memories")
def memories(
    visit: VisitDep,
    q: str = Query("", max_length=2000),
    kind: str = "",
    status: str = MemoryStatus.ACTIVE.value,
) -> HTMLResponse:
    """Recall with ``q`` (best first), or every memory newest first; filtered by kind and
    status (``all`` for any)."""
    chosen = choice(MemoryStatus, status, "status") if status != "all" else None
    statuses = (chosen,) if chosen else tuple(MemoryStatus)
    listing = browse(visit.mind, q, choice(MemoryKind, kind, "kind"), statuses)
    return visit.render(
        "memories.html",
        section="memories",
        listing=listing,
        q=q,
        kind=kind,
        shown_status=status,
        kinds=[k.value for k in MemoryKind],
        statuses=[s.value for s in MemoryStatus],
    )


@router.get("/memories/{memory_id}")
def memory(memory_id: str, visit: VisitDep) -> HTMLResponse:
    """A memory, its source episodes, its links, and each version as a diff."""
    mind = visit.mind
    found = mind.memory(memory_id)
    return visit.render(
        "memory.html",
        section="memories",
        m=found,
        sources=sources(mind, found.sources),
        linked_from=mind.linked_from(found.id),
        history=history(mind, found.id),
    )


@router.get("/episodes/{episode_id}")
def episode(episode_id: str, visit: VisitDep) -> HTMLResponse:
    return visit.render("episode.html", section="memories", ep=visit.mind.episode(episode_id))


@router.get("/persona")
def persona(visit: VisitDep) -> HTMLResponse:
    return visit.render(
        "persona.html",
        section="persona",
        current=visit.mind.persona(),
        history=persona_history(visit.mind),
    )
