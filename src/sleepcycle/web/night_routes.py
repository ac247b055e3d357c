"""Pages for nights: the list of sleeps, a night's journal and diff, rolling a night back
(behind a confirmation), and the review queue with approve and reject."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from ..records import ReviewItem, ReviewStatus
from ..server.deps import reviewer_of
from ..sleep.journal import summary_lines
from .guard import Visit, from_this_site, visit_of
from .night_views import night, review_view

__all__ = ["router"]

router = APIRouter(prefix="/agents/{agent}", include_in_schema=False)
VisitDep = Annotated[Visit, Depends(visit_of)]
ReviewerDep = Annotated[str, Depends(reviewer_of)]
Reason = Annotated[str, Form(max_length=2000)]
Force = Annotated[bool, Form()]
CHANGE = [Depends(from_this_site)]


def _sleep_id(sleep_id: str) -> str | None:
    return None if sleep_id == "latest" else sleep_id


@router.get("/sleeps")
def sleeps(visit: VisitDep, limit: int = Query(100, ge=1, le=1000)) -> HTMLResponse:
    rows = [(s, summary_lines(s)) for s in visit.mind.sleeps(limit=limit)]
    return visit.render("sleeps.html", section="sleeps", rows=rows)


@router.get("/sleeps/{sleep_id}")
def sleep(sleep_id: str, visit: VisitDep) -> HTMLResponse:
    """A night (``latest`` for the last one): summary, journal by outcome, diff, stages."""
    return visit.render("sleep.html", section="night", night=night(visit.mind, _sleep_id(sleep_id)))


@router.get("/sleeps/{sleep_id}/rollback")
def confirm_rollback(sleep_id: str, visit: VisitDep) -> HTMLResponse:
    """The confirmation a rollback needs: what it will undo, and the button that does it."""
    shown = night(visit.mind, _sleep_id(sleep_id))
    return visit.render("rollback.html", section="night", night=shown, report=None)


@router.post("/sleeps/{sleep_id}/rollback", dependencies=CHANGE)
def rollback(sleep_id: str, visit: VisitDep, force: Force = False) -> HTMLResponse:
    target = visit.mind.get_sleep(_sleep_id(sleep_id))
    report = visit.mind.rollback(target.id, force=force)
    if visit.htmx:
        return visit.render("_rolled_back.html", section="night", report=report, fragment=True)
    shown = night(visit.mind, target.id)
    return visit.render("rollback.html", section="night", night=shown, report=report)


@router.get("/review")
def review(visit: VisitDep, every: bool = Query(False, alias="all")) -> HTMLResponse:
    items = visit.mind.review(status=None if every else ReviewStatus.PENDING)
    views = [review_view(visit.mind, i) for i in items]
    return visit.render("review.html", section="review", items=views, every=every)


def _decided(visit: Visit, item: ReviewItem) -> Response:
    """The decided item in place of the pending one (htmx), or back to the queue."""
    if not visit.htmx:
        return RedirectResponse(f"{visit.base}/review", status_code=303)
    view = review_view(visit.mind, item)
    return visit.render("_review_item.html", section="review", v=view, fragment=True)


@router.post("/review/{item_id}/approve", dependencies=CHANGE)
def approve(
    item_id: str, visit: VisitDep, by: ReviewerDep, reason: Reason = "", force: Force = False
) -> Response:
    """Apply the proposal; the new version is authored by the key's holder."""
    item = visit.mind.approve(item_id, reason=reason or None, force=force, by=by)
    return _decided(visit, item)


@router.post("/review/{item_id}/reject", dependencies=CHANGE)
def reject(item_id: str, visit: VisitDep, by: ReviewerDep, reason: Reason = "") -> Response:
    item = visit.mind.reject(item_id, reason=reason or None, by=by)
    return _decided(visit, item)
