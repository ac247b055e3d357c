"""Small HTTP servers on 127.0.0.1 that implement the documented control routes of engines we
cannot install here (Ollama, vLLM, llama.cpp's router) plus an OpenAI-compatible
``/v1/chat/completions`` answered by a function, so residency and routing are tested over real
HTTP. Each keeps the state the routes change, and a log of the requests it served.

LoRA adapters: a vLLM engine loads and unloads them at run time (``/v1/load_lora_adapter``,
``/v1/unload_lora_adapter``, listed by ``GET /v1/models``); an Ollama engine stores blobs
(``/api/blobs/sha256:DIGEST``) and creates models from a base and adapter blobs
(``/api/create``, checked with ``/api/show``).
"""

from __future__ import annotations

import hashlib
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
    loras: dict[str, str] = field(default_factory=dict)  # vllm: lora_name -> lora_path
    blobs: dict[str, bytes] = field(default_factory=dict)  # ollama: "sha256:HEX" -> content
    created: dict[str, dict[str, Any]] = field(default_factory=dict)  # ollama: /api/create bodies
    url: str = ""

    def served(self) -> list[str]:
        """vllm: the base models and the loaded LoRA adapters, as ``GET /v1/models`` lists them."""
        return [*self.models, *self.loras]

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

        def _raw(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _body(self) -> Any:
            raw = self._raw()
            return json.loads(raw) if raw else None

        def do_HEAD(self) -> None:
            url = urlparse(self.path)
            engine.log.append(("HEAD", url.path, None))
            found = (
                engine.kind == "ollama"
                and url.path.startswith("/api/blobs/")
                and url.path.removeprefix("/api/blobs/") in engine.blobs
            )
            self.send_response(200 if found else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

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
            elif engine.kind == "vllm" and url.path == "/v1/models":
                self._send(200, {"object": "list", "data": [
                    {"id": m, "object": "model"} for m in engine.served()
                ]})  # fmt: skip
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
            if engine.kind == "ollama" and url.path.startswith("/api/blobs/"):
                self._upload(url.path, self._raw())
                return
            body = self._body()
            engine.log.append(("POST", url.path + (f"?{url.query}" if url.query else ""), body))
            if url.path == "/v1/chat/completions":
                if engine.kind == "vllm" and engine.sleeping:
                    self._send(503, {"error": "the engine is asleep"})
                    return
                model = body.get("model")
                if engine.kind == "vllm" and model not in engine.served():
                    self._send(404, {"error": f"The model `{model}` does not exist."})
                    return
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
            elif engine.kind == "ollama" and url.path == "/api/show":
                if body.get("model") in engine.models:
                    self._send(200, {"details": {}, **engine.created.get(body["model"], {})})
                else:
                    self._send(404, {"error": f"model '{body.get('model')}' not found"})
            elif engine.kind == "ollama" and url.path == "/api/create":
                self._create(body)
            elif engine.kind == "vllm" and url.path == "/v1/load_lora_adapter":
                name, path = body.get("lora_name"), body.get("lora_path")
                if not name or not path:
                    self._send(400, {"error": "both 'lora_name' and 'lora_path' must be provided"})
                elif name in engine.served():
                    self._send(
                        400, {"error": f"The lora adapter '{name}' has already been loaded."}
                    )
                else:
                    engine.loras[name] = path
                    self._text(200, f"Success: LoRA adapter '{name}' added successfully.")
            elif engine.kind == "vllm" and url.path == "/v1/unload_lora_adapter":
                name = body.get("lora_name")
                if name not in engine.loras:
                    self._send(404, {"error": f"The lora adapter '{name}' cannot be found."})
                else:
                    del engine.loras[name]
                    self._text(200, f"Success: LoRA adapter '{name}' removed successfully.")
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

        def _text(self, status: int, text: str) -> None:
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _upload(self, path: str, data: bytes) -> None:
            """Ollama's ``POST /api/blobs/sha256:DIGEST``: 201 when stored, 400 when the
            content's digest is not the one named."""
            engine.log.append(("POST", path, data))
            digest = path.removeprefix("/api/blobs/")
            if digest != "sha256:" + hashlib.sha256(data).hexdigest():
                self._send(400, {"error": "digest mismatch"})
                return
            engine.blobs[digest] = data
            self.send_response(201)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _create(self, body: dict[str, Any]) -> None:
            """Ollama's ``POST /api/create`` from a base model and adapter blobs."""
            model, base = body.get("model"), body.get("from")
            if not model:
                self._send(400, {"error": "model is required"})
                return
            if base not in engine.models:
                self._send(400, {"error": f"model '{base}' not found"})
                return
            missing = [d for d in (body.get("adapters") or {}).values() if d not in engine.blobs]
            if missing:
                self._send(400, {"error": f"blob {missing[0]} not found"})
                return
            engine.created[model] = body
            if model not in engine.models:
                engine.models.append(model)
            self._send(200, {"status": "success"})

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
