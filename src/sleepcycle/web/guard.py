"""Who may see a page, and which requests may change anything.

Pages go through the API's gate (``server.deps``): the key comes from the ``sleepcycle_key``
cookie that /login sets, or from the headers the API reads. A change (approve, reject,
rollback) must also come from this site's own page: htmx sends ``HX-Request: true``, which a
cross-site form cannot send, and a plain form post carries an ``Origin`` that must name this
host. Anything else is refused with 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse

from ..mind import Mind
from ..server.auth import Forbidden
from ..server.deps import Caller, Hub, caller_of, hub_of, mind_of
from .render import render

__all__ = ["Visit", "from_this_site", "is_htmx", "visit_of"]


def is_htmx(request: Request) -> bool:
    """Whether htmx sent the request (it then wants a fragment, not a whole page)."""
    return request.headers.get("hx-request") == "true"


@dataclass(frozen=True)
class Visit:
    """A page request that passed the gate: the request, who asks, and the agent's Mind."""

    request: Request
    caller: Caller
    mind: Mind
    locked: bool  # the server has API keys (so there is a login to leave)

    @property
    def base(self) -> str:
        """The agent's pages' URL prefix (agent names are URL-safe by the API's pattern)."""
        return f"/agents/{self.mind.agent}"

    @property
    def htmx(self) -> bool:
        return is_htmx(self.request)

    def render(
        self, template: str, *, section: str, status: int = 200, **context: Any
    ) -> HTMLResponse:
        """A page or fragment with what every agent page shows: the agent, the navigation,
        the count of review items waiting, and who is logged in."""
        return render(
            template,
            status=status,
            agent=self.mind.agent,
            base=self.base,
            section=section,
            pending=len(self.mind.review()),
            who=self.caller.name,
            locked=self.locked,
            **context,
        )


def visit_of(
    request: Request,
    mind: Annotated[Mind, Depends(mind_of)],
    caller: Annotated[Caller, Depends(caller_of)],
    hub: Annotated[Hub, Depends(hub_of)],
) -> Visit:
    return Visit(request, caller, mind, not hub.gate.open)


def from_this_site(request: Request) -> None:
    """Refuse a change that did not come from this site's own page (cross-site forgery)."""
    if is_htmx(request):
        return
    origin, host = request.headers.get("origin", ""), request.headers.get("host", "")
    if origin and host and urlsplit(origin).netloc == host:
        return
    raise Forbidden(
        "refused: a change must come from this site's own page (htmx's HX-Request header, "
        "or a form post whose Origin is this host); reload the page and try again"
    )
