"""Residency through an engine's HTTP control routes: llama.cpp's router, Ollama and vLLM.

Each adapter follows the engine's documentation, named in its docstring. Errors become
``ModelError`` naming the engine, the route and what it answered.
"""

from __future__ import annotations

from typing import Any

import httpx

from ..errors import ModelError
from .always import AlwaysLoaded
from .base import Residency, State, Status

__all__ = ["LlamaRouterResidency", "OllamaResidency", "VllmResidency"]


class _HttpResidency:
    kind = "http"

    def __init__(self, url: str, model: str, *, timeout: float = 300.0,
                 transport: httpx.BaseTransport | None = None):  # fmt: skip
        self.url = url.rstrip("/")
        self.model = model
        self._client = httpx.Client(base_url=self.url, timeout=timeout, transport=transport)

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ModelError(f"{self.kind} at {self.url}: cannot reach {path} ({exc})") from None
        if response.status_code >= 400:
            raise ModelError(
                f"{self.kind} at {self.url}: {method} {path} answered "
                f"{response.status_code}: {response.text[:200]}"
            )
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            return response.text

    def sleep(self) -> None:
        self.unload()  # type: ignore[attr-defined]

    def wake(self) -> None:
        self.load()  # type: ignore[attr-defined]

    def close(self) -> None:
        self._client.close()


class LlamaRouterResidency(_HttpResidency):
    """llama.cpp's ``llama-server`` in router mode (started without ``--model``).

    Following tools/server/README.md of ggml-org/llama.cpp and "New in llama.cpp: Model
    Management" (Hugging Face blog, 2025-12-11): ``GET /models`` lists the models with their
    status, ``POST /models/load`` and ``POST /models/unload`` take ``{"model": name}``.
    """

    kind = "llama-router"

    def status(self) -> Status:
        data = self._call("GET", "/models")
        for entry in (data or {}).get("data", []):
            if entry.get("id") == self.model or entry.get("name") == self.model:
                raw = entry.get("status")
                value = raw.get("value") if isinstance(raw, dict) else raw
                if value == "loaded":
                    return Status(State.LOADED)
                if value in ("unloaded", None):
                    return Status(State.UNLOADED)
                return Status(State.UNKNOWN, detail=str(value))
        raise ModelError(f"llama-router at {self.url}: no model {self.model!r} in GET /models")

    def load(self) -> None:
        self._call("POST", "/models/load", json={"model": self.model})

    def unload(self) -> None:
        self._call("POST", "/models/unload", json={"model": self.model})


class OllamaResidency(_HttpResidency):
    """Ollama.

    Following docs/api.md and docs/faq.md of ollama/ollama ("How do I keep a model loaded in
    memory or make it unload immediately?"): ``POST /api/generate`` with only ``model`` and
    ``keep_alive`` loads a model (``-1``: keep it loaded) or unloads it (``0``);
    ``GET /api/ps`` lists the loaded models with ``size_vram``.
    """

    kind = "ollama"

    def status(self) -> Status:
        data = self._call("GET", "/api/ps") or {}
        for entry in data.get("models", []):
            if _tagged(self.model) in {_tagged(entry.get("name")), _tagged(entry.get("model"))}:
                size = entry.get("size_vram") or entry.get("size")
                return Status(State.LOADED, float(size) / 2**20 if size else None)
        return Status(State.UNLOADED)

    def load(self) -> None:
        self._call("POST", "/api/generate", json={"model": self.model, "keep_alive": -1})

    def unload(self) -> None:
        self._call("POST", "/api/generate", json={"model": self.model, "keep_alive": 0})


def _tagged(name: object) -> str:
    """Ollama names an untagged model ``NAME:latest``."""
    text = str(name or "")
    return text if ":" in text.rsplit("/", 1)[-1] else f"{text}:latest"


class VllmResidency(_HttpResidency):
    """vLLM's sleep mode (``vllm serve --enable-sleep-mode`` with ``VLLM_SERVER_DEV_MODE=1``).

    Following docs/features/sleep_mode.md of vllm-project/vllm: ``POST /sleep?level=1`` offloads
    the weights to CPU memory and drops the KV cache, ``level=2`` drops the weights too;
    ``POST /wake_up`` restores them and ``GET /is_sleeping`` says which it is. After a level 2
    sleep the weights must be reloaded with ``POST /collective_rpc`` and
    ``{"method": "reload_weights"}``, or the model answers garbage. vLLM cannot unload a model
    without stopping, so ``unload`` sleeps at the configured level and ``load`` wakes it.
    """

    kind = "vllm"

    def __init__(self, url: str, model: str, *, level: int = 1, **kwargs: Any):
        super().__init__(url, model, **kwargs)
        if level not in (1, 2):
            raise ModelError(f"vLLM sleep level must be 1 or 2, not {level}")
        self.level = level

    def status(self) -> Status:
        data = self._call("GET", "/is_sleeping") or {}
        return Status(State.SLEEPING if data.get("is_sleeping") else State.LOADED)

    def sleep(self) -> None:
        self._call("POST", "/sleep", params={"level": self.level})

    def wake(self) -> None:
        self._call("POST", "/wake_up")
        if self.level == 2:
            self._call("POST", "/collective_rpc", json={"method": "reload_weights"})

    def load(self) -> None:
        if self.status().state is State.SLEEPING:
            self.wake()

    def unload(self) -> None:
        if self.status().state is not State.SLEEPING:
            self.sleep()


def engine_residency(kind: str, url: str, model: str, *, level: int = 1) -> Residency:
    """The residency adapter of ``model`` on an engine of this residency ``kind`` at ``url``
    (``always`` for hosted APIs that cannot be told to load or unload)."""
    if kind == "llama-router":
        return LlamaRouterResidency(url, model)
    if kind == "ollama":
        return OllamaResidency(url, model)
    if kind == "vllm":
        return VllmResidency(url, model, level=level)
    return AlwaysLoaded(model)
