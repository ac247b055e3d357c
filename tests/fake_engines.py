"""Small HTTP servers on 127.0.0.1 that implement the documented control routes of engines we
cannot install here (Ollama, vLLM, llama.cpp's router) plus an OpenAI-compatible
``/v1/chat/completions`` answered by a function, so residency and routing are tested over real
HTTP. Each keeps the state the routes change, and a log of the requests it served.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlparse

Reply = Callable[[dict[str, Any]], str]


@dataclass
class Engine:
    """The state of a fake engine: which models are loaded, and what was asked."""

    kind: str  # "ollama" | "vllm" | "llama-router"
    models: list[str]
    reply: Reply = lambda body: "ok"
    loaded: set[str] = field(default_factory=set)
    sleeping: bool = False
    log: list[tuple[str, str, Any]] = field(default_factory=list)
    chats: list[tuple[str, frozenset[str]]] = field(default_factory=list)  # model, loaded then
    url: str = ""

    def control_log(self) -> list[tuple[str, str, Any]]:
        return [x for x in self.log if not x[1].startswith("/v1/")]


def _handler(engine: Engine) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _send(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> Any:
            length = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(length)) if length else None

        def do_GET(self) -> None:
            url = urlparse(self.path)
            engine.log.append(("GET", url.path, None))
            if engine.kind == "ollama" and url.path == "/api/ps":
                self._send(
                    200,
                    {
                        "models": [
                            {"name": m, "model": m, "size_vram": 2**30}
                            for m in sorted(engine.loaded)
                        ]
                    },
                )
            elif engine.kind == "vllm" and url.path == "/is_sleeping":
                self._send(200, {"is_sleeping": engine.sleeping})
            elif engine.kind == "llama-router" and url.path == "/models":
                self._send(200, {"data": [
                    {"id": m, "status": {"value": "loaded" if m in engine.loaded else "unloaded"}}
                    for m in engine.models
                ]})  # fmt: skip
            else:
                self._send(404, {"error": "no such route"})

        def do_POST(self) -> None:
            url = urlparse(self.path)
            body = self._body()
            engine.log.append(("POST", url.path + (f"?{url.query}" if url.query else ""), body))
            if url.path == "/v1/chat/completions":
                if engine.kind == "vllm" and engine.sleeping:
                    self._send(503, {"error": "the engine is asleep"})
                    return
                model = body.get("model")
                engine.chats.append((model, frozenset(engine.loaded)))
                if engine.kind in ("ollama", "llama-router"):
                    engine.loaded.add(model)  # both load on demand
                text = engine.reply(body)
                self._send(200, {
                    "model": model,
                    "choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 7, "completion_tokens": len(text.split())},
                })  # fmt: skip
            elif engine.kind == "ollama" and url.path == "/api/generate":
                if body.get("keep_alive") == 0:
                    engine.loaded.discard(body["model"])
                else:
                    engine.loaded.add(body["model"])
                self._send(200, {"model": body["model"], "response": "", "done": True})
            elif engine.kind == "vllm" and url.path == "/sleep":
                engine.sleeping = True
                self._send(200, {})
            elif engine.kind == "vllm" and url.path == "/wake_up":
                engine.sleeping = False
                self._send(200, {})
            elif engine.kind == "vllm" and url.path == "/collective_rpc":
                self._send(200, {"results": [None]})
            elif engine.kind == "llama-router" and url.path in ("/models/load", "/models/unload"):
                if body["model"] not in engine.models:
                    self._send(400, {"error": f"unknown model {body['model']}"})
                    return
                if url.path == "/models/load":
                    engine.loaded.add(body["model"])
                else:
                    engine.loaded.discard(body["model"])
                self._send(200, {"success": True})
            else:
                self._send(404, {"error": "no such route"})

    return Handler


@contextmanager
def serve(engine: Engine) -> Iterator[Engine]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(engine))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    engine.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield engine
    finally:
        server.shutdown()
        server.server_close()
