"""Serving an agent's LoRA adapter on an engine: vLLM loads the PEFT directory at run time,
Ollama serves a model created from the base and the GGUF adapter.

The adapter is served under its own model name (``AdapterBinding.served_name``), so the
foreground's requests name it while the night's roles keep using the base model.
"""

from __future__ import annotations

import hashlib
from typing import Any

import httpx

from ..errors import ConfigError, ModelError
from .always import AlwaysLoaded
from .base import AdapterBinding, Residency, State, Status
from .http import OllamaResidency, _HttpResidency

__all__ = ["OllamaAdapterResidency", "VllmLoraResidency", "adapter_residency"]


class VllmLoraResidency(_HttpResidency):
    """A LoRA adapter on vLLM (``vllm serve --enable-lora`` with
    ``VLLM_ALLOW_RUNTIME_LORA_UPDATING=True``).

    Following docs/features/lora.md of vllm-project/vllm ("Dynamically serving LoRA
    Adapters"): ``POST /v1/load_lora_adapter`` with ``lora_name`` and ``lora_path`` (a PEFT
    directory the server can read), ``POST /v1/unload_lora_adapter`` with ``lora_name``;
    ``GET /v1/models`` lists the loaded adapters next to the base model.
    """

    kind = "vllm-lora"

    def __init__(self, url: str, adapter: AdapterBinding, **kwargs: Any):
        super().__init__(url, adapter.served_name, **kwargs)
        self.adapter = adapter

    def status(self) -> Status:
        data = self._call("GET", "/v1/models") or {}
        ids = {entry.get("id") for entry in data.get("data", [])}
        return Status(State.LOADED if self.model in ids else State.UNLOADED)

    def load(self) -> None:
        if self.status().state is State.LOADED:
            return
        self._call(
            "POST",
            "/v1/load_lora_adapter",
            json={"lora_name": self.model, "lora_path": str(self.adapter.peft)},
        )

    def unload(self) -> None:
        if self.status().state is State.LOADED:
            self._call("POST", "/v1/unload_lora_adapter", json={"lora_name": self.model})


class OllamaAdapterResidency(OllamaResidency):
    """A model Ollama creates from the base model and the GGUF adapter, then loads and
    unloads like any other.

    Following docs/api.md of ollama/ollama: ``HEAD /api/blobs/sha256:DIGEST`` says whether the
    server has a file, ``POST /api/blobs/sha256:DIGEST`` uploads it, and ``POST /api/create``
    with ``model``, ``from`` and ``adapters`` (file name to digest) creates the model, the
    API's form of a Modelfile's ``FROM`` and ``ADAPTER``; ``POST /api/show`` answers 404 for
    a model that does not exist.
    """

    kind = "ollama-adapter"

    def __init__(self, url: str, base_model: str, adapter: AdapterBinding, **kwargs: Any):
        super().__init__(url, adapter.served_name, **kwargs)
        self.base_model = base_model
        self.adapter = adapter

    def _status_of(self, method: str, path: str, **kwargs: Any) -> int:
        """The status code, for routes whose 404 is an answer; other errors are errors."""
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ModelError(f"{self.kind} at {self.url}: cannot reach {path} ({exc})") from None
        if response.status_code not in (200, 404):
            raise ModelError(
                f"{self.kind} at {self.url}: {method} {path} answered "
                f"{response.status_code}: {response.text[:200]}"
            )
        return response.status_code

    def _exists(self) -> bool:
        return self._status_of("POST", "/api/show", json={"model": self.model}) == 200

    def _create(self) -> None:
        try:
            data = self.adapter.gguf.read_bytes()
        except OSError as exc:
            raise ModelError(f"cannot read the adapter {self.adapter.gguf}: {exc}") from None
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if self._status_of("HEAD", f"/api/blobs/{digest}") != 200:
            self._call("POST", f"/api/blobs/{digest}", content=data)
        self._call(
            "POST",
            "/api/create",
            json={
                "model": self.model,
                "from": self.base_model,
                "adapters": {self.adapter.gguf.name: digest},
                "stream": False,
            },
        )

    def load(self) -> None:
        if not self._exists():
            self._create()
        super().load()


def adapter_residency(kind: str, url: str, base_model: str, adapter: AdapterBinding) -> Residency:
    """The residency of ``adapter`` served on an engine of this residency ``kind``."""
    if kind == "vllm":
        return VllmLoraResidency(url, adapter)
    if kind == "ollama":
        return OllamaAdapterResidency(url, base_model, adapter)
    if kind == "always":
        return AlwaysLoaded(adapter.served_name)
    raise ConfigError(
        f"a {kind} model cannot serve a LoRA adapter; use embedded, vllm or ollama residency"
    )
