"""Errors on the web page: an HTML page (or, for htmx, a message in the page's flash area)
with the same one-line message the API gives; a missing key sends the browser to /login."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from fastapi import Request, Response
from fastapi.responses import RedirectResponse

from .guard import is_htmx
from .render import render

__all__ = ["error_page", "login_url", "safe_next"]

TITLES = {
    400: "That did not work",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed",
    409: "Conflict",
    422: "Invalid request",
    502: "A model failed",
}


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path on this site, never another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def login_url(request: Request) -> str:
    """/login, coming back to this page afterwards (to the page htmx was on for a change)."""
    if request.method == "GET":
        query = f"?{request.url.query}" if request.url.query else ""
        here = request.url.path + query
    else:
        current = urlsplit(request.headers.get("hx-current-url", ""))
        here = current.path + (f"?{current.query}" if current.query else "")
    return "/login?" + urlencode({"next": safe_next(here)})


def error_page(request: Request, status: int, kind: str, message: str) -> Response:
    """The web form of an error the API would answer as JSON."""
    if status == 401:
        target = login_url(request)
        if is_htmx(request):
            return Response(status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)
    if is_htmx(request):
        return render(
            "_flash.html",
            status=status,
            headers={"HX-Retarget": "#flash", "HX-Reswap": "innerHTML", "HX-Reselect": ".flash"},
            kind=kind,
            message=message,
        )
    gate = request.app.state.hub.gate
    return render(
        "error.html",
        status=status,
        title=TITLES.get(status, "Something went wrong"),
        code=status,
        kind=kind,
        message=message,
        login=status == 403 and not gate.open,
    )
