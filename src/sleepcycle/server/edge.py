"""What every sleepcycle HTTP server does before a route sees a request (``serve``, ``proxy``
and ``daemon`` alike).

- **Body size**: a body over ``limits.request_bytes`` is refused with 413, by its
  ``Content-Length`` before a byte of it is read, or, sent in chunks, as soon as the chunks pass
  the limit; the body is never held whole.
- **Host names**: a server without API keys answers only requests addressed to a loopback
  name (``127.0.0.1``, ``localhost``, ``::1``), so a web page elsewhere cannot reach it through
  DNS rebinding.
- **Origins**: a request that may change something (any method but GET, HEAD and OPTIONS)
  and carries an ``Origin`` header must come from the server's own origin: browsers send
  ``Origin`` on every cross-site POST, so no other site can make a visitor's browser write
  here (cross-site request forgery). Clients that are not browsers send none.

Refusals are answered in the surface's own error shape (``Refuse``).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from .auth import is_loopback

__all__ = ["Edge", "Refuse", "host_name"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]
Refuse = Callable[[int, str, str], dict[str, Any]]  # (status, kind, message) -> JSON body

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def host_name(header: str) -> str:
    """The name in a Host header, without the port (``[::1]:8788`` -> ``::1``)."""
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


class Edge:
    """ASGI middleware with the checks above. ``loopback_only`` is for servers without keys."""

    def __init__(self, app: App, *, max_bytes: int, loopback_only: bool, refuse: Refuse):
        self.app = app
        self.max_bytes = max_bytes
        self.loopback_only = loopback_only
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        refusal = self._check(scope, headers)
        if refusal is not None:
            await self._answer(send, *refusal)
            return
        await self._limited(scope, receive, send)

    def _check(self, scope: Scope, headers: dict[str, str]) -> tuple[int, str, str] | None:
        host = headers.get("host", "")
        if self.loopback_only and not is_loopback(host_name(host)):
            return (
                403,
                "forbidden",
                "this server has no api keys, so it answers only requests to 127.0.0.1 or "
                f"localhost, not {host_name(host)!r}; add [[api.keys]] to config.toml to serve "
                "others",
            )
        origin = headers.get("origin")
        if scope["method"] not in SAFE_METHODS and origin is not None:
            netloc = urlsplit(origin).netloc if origin != "null" else "null"
            if netloc != host:
                return (
                    403,
                    "forbidden",
                    f"refused a {scope['method']} from another origin ({origin}); changes "
                    "come from this server's own page or from clients that are not browsers",
                )
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_bytes:
            return 413, "too_large", self._too_large(int(length))
        return None

    def _too_large(self, size: int | None = None) -> str:
        have = f" ({size:,} bytes)" if size is not None else ""
        return (
            f"the request body is larger than the limits.request_bytes limit of "
            f"{self.max_bytes:,} bytes{have}; send less at once, or raise the limit"
        )

    async def _limited(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app, cutting its body off at the limit and answering 413 in its place."""
        seen = 0
        over = False
        started = False

        async def limited_receive() -> Message:
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    over = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if over:
                return  # the app's answer to a body cut short is replaced by the 413
            started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not over:
                raise
        if over and not started:
            await self._answer(send, 413, "too_large", self._too_large())

    async def _answer(self, send: Send, status: int, kind: str, message: str) -> None:
        body = json.dumps(self.refuse(status, kind, message)).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
