"""Routes for nights: sleeps (start, status, wake, journal, diff, rollback) and the review
queue."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from ..lock import asleep
from ..mind import Mind
from ..records import ReviewStatus
from ..serialize import review_json, sleep_json
from ..server.deps import Caller, Hub, caller_of, hub_of, mind_of, reviewer_of
from ..sleep.journal import entry_json
from .schemas import ReasonBody, ReviewBody, RollbackBody, SleepBody
from .sleeper import Sleeper

__all__ = ["router"]

router = APIRouter()
agent_router = APIRouter(prefix="/v1/agents/{agent}")
MindDep = Annotated[Mind, Depends(mind_of)]
ReviewerDep = Annotated[str, Depends(reviewer_of)]
SleepId = Annotated[str, Path(description="a sleep id, an id prefix, or `latest`")]


def _sleep_id(sleep_id: str) -> str | None:
    return None if sleep_id == "latest" else sleep_id


@router.get("/v1/agents", tags=["agents"])
def agents(
    caller: Annotated[Caller, Depends(caller_of)], hub: Annotated[Hub, Depends(hub_of)]
) -> list[str]:
    """The agents this key may reach."""
    return hub.agents(caller)


@agent_router.get("/status", tags=["agents"])
def status(mind: MindDep) -> dict[str, Any]:
    """Counts, and the sleep running now (``asleep``) if any."""
    return {**mind.status(), "asleep": asleep(mind.store, mind.agent)}


@agent_router.get("/sleeps", tags=["sleeps"])
def sleeps(mind: MindDep, limit: int = Query(20, ge=1, le=1000)) -> list[dict[str, Any]]:
    """This agent's sleeps, newest first."""
    return [sleep_json(s) for s in mind.sleeps(limit=limit)]


@agent_router.post("/sleeps", status_code=202, tags=["sleeps"])
def start_sleep(body: SleepBody, mind: MindDep, request: Request) -> dict[str, Any]:
    """Start a sleep in the background (resuming an unfinished one unless ``fresh``); poll
    ``GET .../sleeps/{id}`` for its status. 409 while the agent is already asleep."""
    sleeper: Sleeper = request.app.state.sleeper
    sleep_id = sleeper.start(mind, dry_run=body.dry_run, fresh=body.fresh)
    return sleep_json(mind.get_sleep(sleep_id))


@agent_router.post("/wake", tags=["sleeps"])
def wake(mind: MindDep) -> dict[str, Any]:
    """Ask the running sleep to stop at its next safe point; it can be resumed later."""
    return {"sleep": mind.wake()}


@agent_router.get("/sleeps/{sleep_id}", tags=["sleeps"])
def get_sleep(sleep_id: SleepId, mind: MindDep) -> dict[str, Any]:
    return sleep_json(mind.get_sleep(_sleep_id(sleep_id)))


@agent_router.get("/sleeps/{sleep_id}/journal", tags=["sleeps"])
def journal(sleep_id: SleepId, mind: MindDep) -> dict[str, Any]:
    """The dream journal: what was thought, kept and rejected, and why."""
    sleep, entries = mind.journal(_sleep_id(sleep_id))
    return {"sleep": sleep_json(sleep), "entries": [entry_json(e) for e in entries]}


@agent_router.get("/sleeps/{sleep_id}/diff", tags=["sleeps"])
def diff(sleep_id: SleepId, mind: MindDep) -> dict[str, Any]:
    """What the sleep added, changed, superseded and retracted."""
    return mind.diff(_sleep_id(sleep_id)).to_json()


@agent_router.post("/sleeps/{sleep_id}/rollback", tags=["sleeps"])
def rollback(sleep_id: SleepId, body: RollbackBody, mind: MindDep) -> dict[str, Any]:
    """Undo a sleep: restore what it changed (as new versions), reopen its episodes. 409 if a
    memory changed since, unless ``force``."""
    target = mind.get_sleep(_sleep_id(sleep_id))
    return mind.rollback(target.id, force=body.force).to_json()


@agent_router.get("/review", tags=["review"])
def review(
    mind: MindDep,
    status: ReviewStatus | None = Query(ReviewStatus.PENDING, description="omit for pending"),
    every: bool = Query(False, alias="all", description="decided items too"),
) -> list[dict[str, Any]]:
    """Operations sleeps proposed instead of applying, oldest first."""
    return [review_json(i) for i in mind.review(status=None if every else status)]


@agent_router.get("/review/{item_id}", tags=["review"])
def review_item(item_id: str, mind: MindDep) -> dict[str, Any]:
    return review_json(mind.review_item(item_id))


@agent_router.post("/review/{item_id}/approve", tags=["review"])
def approve(item_id: str, body: ReviewBody, mind: MindDep, by: ReviewerDep) -> dict[str, Any]:
    """Apply the operation; the new version is authored by the key's holder."""
    return review_json(mind.approve(item_id, reason=body.reason, force=body.force, by=by))


@agent_router.post("/review/{item_id}/reject", tags=["review"])
def reject(item_id: str, body: ReasonBody, mind: MindDep, by: ReviewerDep) -> dict[str, Any]:
    """Decline the operation; later sleeps are told it was rejected."""
    return review_json(mind.reject(item_id, reason=body.reason, by=by))


router.include_router(agent_router)
