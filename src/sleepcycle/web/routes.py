"""The web page of ``sleepcycle serve``: pages rendered on the server from the same Mind API
the CLI uses, with htmx for the actions that change memory. Every agent page goes through
the API's gate.

    /                                       the agents this key reaches (or straight to the one)
    /login, /logout                         enter an API key once (kept in a cookie), forget it
    /agents/{agent}                         overview: counts, review queue, last night
    /agents/{agent}/sleeps                  the nights
    /agents/{agent}/sleeps/{id|latest}      a night's journal (kept, queued, rejected) and diff
    /agents/{agent}/sleeps/{id}/rollback    the confirmation, then the rollback (POST)
    /agents/{agent}/memories                browser: recall, filters by kind and status
    /agents/{agent}/memories/{id}           a memory, its sources and its history as diffs
    /agents/{agent}/episodes/{id}           one episode
    /agents/{agent}/review                  the review queue; POST .../{id}/approve or reject
    /agents/{agent}/persona                 the persona and its history as diffs
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from ..lock import asleep
from ..server.auth import COOKIE, Unauthorized
from ..server.deps import Caller, Hub, caller_of, hub_of
from ..sleep.journal import summary_lines
from .errors import safe_next
from .guard import Visit, visit_of
from .memory_routes import router as memory_router
from .night_routes import router as night_router
from .render import STATIC, render

__all__ = ["mount", "router"]

router = APIRouter(include_in_schema=False)
CallerDep = Annotated[Caller, Depends(caller_of)]
HubDep = Annotated[Hub, Depends(hub_of)]


@router.get("/")
def home(caller: CallerDep, hub: HubDep) -> Response:
    agents = hub.agents(caller)
    if len(agents) == 1:
        return RedirectResponse(f"/agents/{agents[0]}", status_code=303)
    return render(
        "agents.html",
        agents=agents,
        default=hub.base.agent,
        who=caller.name,
        locked=not hub.gate.open,
    )


@router.get("/login")
def login_form(
    hub: HubDep, after: Annotated[str, Query(alias="next", max_length=2000)] = "/"
) -> Response:
    if hub.gate.open:
        return RedirectResponse(safe_next(after), status_code=303)
    return render("login.html", next=safe_next(after), error="")


@router.post("/login")
def login(
    request: Request,
    hub: HubDep,
    key: Annotated[str, Form(max_length=1000)] = "",
    after: Annotated[str, Form(alias="next", max_length=2000)] = "/",
) -> Response:
    """Check the key and keep it in an HttpOnly, SameSite=Strict cookie."""
    try:
        hub.gate.agents_for(key.strip())
    except Unauthorized:
        message = "That is not one of this server's API keys."
        return render("login.html", status=401, next=safe_next(after), error=message)
    response = RedirectResponse(safe_next(after), status_code=303)
    response.set_cookie(
        COOKIE,
        key.strip(),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout")
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


@router.get("/agents/{agent}")
def overview(visit: Annotated[Visit, Depends(visit_of)]) -> HTMLResponse:
    mind = visit.mind
    sleeps = mind.sleeps(limit=1)
    return visit.render(
        "overview.html",
        section="overview",
        counts=mind.status(),
        asleep=asleep(mind.store, mind.agent),
        sleeps=sleeps,
        summary=summary_lines(sleeps[0])[1:] if sleeps else [],
    )


router.include_router(night_router)
router.include_router(memory_router)


def mount(app: FastAPI) -> None:
    """Add the web page's routes and its static files (htmx, the stylesheet) to ``app``."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
