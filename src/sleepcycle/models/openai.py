"""OpenAI-compatible chat completions over HTTP: vLLM, llama.cpp's server, Ollama ``/v1``,
LM Studio and hosted APIs.

Structured output differs between engines, so it is a per-model setting:

- ``json_schema``: ``response_format = {"type": "json_schema", "json_schema": {"name", "schema",
  "strict"}}``, the nested form of the OpenAI API (vLLM, llama.cpp server, Ollama, OpenAI);
- ``json_object``: ``{"type": "json_object", "schema": ...}``, what llama-cpp-python's own server
  accepts (it answers 500 to ``json_schema``);
- ``none``: no ``response_format``; the prompt alone asks for JSON.

Whatever the setting, replies are validated by the caller; engines ignore schemas they do not
understand without saying so. Connection errors, timeouts, 429 and 5xx answers are retried with
exponential backoff; other errors are not.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal

import httpx
from pydantic import Field

from ..config import EngineSettings
from ..errors import ConfigError, ModelError
from ..plugins import Engine, EngineBuild
from .base import ChatReply, ChatRequest
from .relay import StreamCut, UpstreamError

__all__ = ["ENGINE", "OpenAIBackend", "OpenAISettings", "StructuredOutput"]

StructuredOutput = Literal["json_schema", "json_object", "none"]
_RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class OpenAIBackend:
    """A model behind ``{base_url}/chat/completions``."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        api_key_env: str | None = None,
        structured_output: StructuredOutput = "json_schema",
        timeout: float = 120.0,
        retries: int = 3,
        backoff: float = 0.5,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.model_id = model
        self.structured_output = structured_output
        self.retries = retries
        self.backoff = backoff
        self._sleep = sleep
        key = api_key or (os.environ.get(api_key_env) if api_key_env else None)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
        )

    def _body(self, request: ChatRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [dict(m) for m in request.messages],
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
            **request.extra,
        }
        if request.seed is not None:
            body["seed"] = request.seed
        if request.schema is not None:
            if self.structured_output == "json_schema":
                body["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {
                        "name": request.schema_name,
                        "schema": dict(request.schema),
                        "strict": True,
                    },
                }
            elif self.structured_output == "json_object":
                body["response_format"] = {"type": "json_object", "schema": dict(request.schema)}
        return body

    def _post(self, body: Mapping[str, Any]) -> httpx.Response:
        """POST a chat completion, retrying what may pass (lost connections, 429, 5xx); an
        error answer raises :class:`UpstreamError` with the upstream's status and body."""
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._client.post("/chat/completions", json=body)
            except httpx.TransportError as exc:
                if attempt > self.retries:
                    raise ModelError(
                        f"{self.model}: cannot reach {self.base_url} ({type(exc).__name__}: {exc})"
                    ) from None
            else:
                if response.status_code < 400:
                    return response
                if response.status_code not in _RETRY_STATUS or attempt > self.retries:
                    raise _upstream_error(self.model, self.base_url, response)
            self._sleep(self.backoff * 2 ** (attempt - 1))

    def complete(self, request: ChatRequest) -> ChatReply:
        body = self._body(request)
        started = time.perf_counter()
        response = self._post(body)
        ms = (time.perf_counter() - started) * 1000
        try:
            data = response.json()
            choice = data["choices"][0]
            text = choice["message"].get("content") or ""
        except (ValueError, KeyError, IndexError, TypeError):
            raise ModelError(
                f"{self.model}: {self.base_url} sent a reply that is not a chat completion: "
                f"{response.text[:200]}"
            ) from None
        usage = data.get("usage") or {}
        return ChatReply(
            text=text,
            model=str(data.get("model") or self.model),
            tokens_in=int(usage.get("prompt_tokens") or 0),
            tokens_out=int(usage.get("completion_tokens") or 0),
            ms=ms,
            finish_reason=choice.get("finish_reason"),
        )

    def stream(self, request: ChatRequest) -> Iterator[str]:
        """The reply's text as the server streams it (server-sent events)."""
        for chunk in self._chunks({**self._body(request), "stream": True}):
            try:
                piece = chunk["choices"][0]["delta"].get("content")
            except (KeyError, IndexError, TypeError, AttributeError):
                continue
            if piece:
                yield piece

    def check(self, body: Mapping[str, Any]) -> None:
        """The server decides what it takes; its refusals come back as they are."""

    def relay(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """The upstream's chat completion for an agent's request body, as it sent it."""
        response = self._post({**body, "model": self.model, "stream": False})
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
            raise ModelError(
                f"{self.model}: {self.base_url} sent a reply that is not a chat completion: "
                f"{response.text[:200]}"
            )
        return data

    def relay_stream(self, body: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """The upstream's chunks for an agent's request body, as it streams them."""
        return self._chunks({**body, "model": self.model, "stream": True})

    def _chunks(self, body: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """Server-sent chunks until ``[DONE]``; :class:`StreamCut` if the stream ends first."""
        try:
            with self._client.stream("POST", "/chat/completions", json=body) as response:
                if response.status_code >= 400:
                    response.read()
                    raise _upstream_error(self.model, self.base_url, response)
                for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    try:
                        chunk = json.loads(data)
                    except ValueError:
                        continue
                    if isinstance(chunk, dict) and "error" in chunk:
                        raise StreamCut(
                            f"{self.model}: {self.base_url} sent an error: {data[:200]}"
                        )
                    if isinstance(chunk, dict):
                        yield chunk
        except httpx.TransportError as exc:
            raise StreamCut(
                f"{self.model}: the stream from {self.base_url} broke off ({type(exc).__name__})"
            ) from None
        raise StreamCut(f"{self.model}: the stream from {self.base_url} ended before [DONE]")

    def close(self) -> None:
        self._client.close()


def _upstream_error(model: str, base_url: str, response: httpx.Response) -> UpstreamError:
    try:
        body: Any = response.json()
    except ValueError:
        body = {"error": {"message": response.text[:2000], "type": "upstream_error"}}
    return UpstreamError(
        response.status_code,
        body,
        f"{model}: {base_url} answered {response.status_code}: {response.text[:200]}",
    )


class OpenAISettings(EngineSettings):
    """``engine = "openai"``: a model behind an OpenAI-compatible server."""

    engine: Literal["openai"] = "openai"
    base_url: str = Field(description="e.g. http://127.0.0.1:8000/v1")
    model: str = Field(description="the model name the server expects")
    api_key_env: str | None = Field(None, description="environment variable with the key")
    structured_output: StructuredOutput = "json_schema"
    timeout: float = Field(120.0, gt=0, description="seconds per request")
    retries: int = Field(3, ge=0, description="retries on 429, 5xx and lost connections")

    def served_model(self) -> str | None:
        return self.model

    def base_url_of(self) -> str | None:
        return self.base_url


def _build(request: EngineBuild) -> OpenAIBackend:
    settings, adapter = request.settings, request.adapter
    assert isinstance(settings, OpenAISettings)
    if adapter is not None and settings.residency_kind not in ("vllm", "ollama"):
        raise ConfigError(
            f"models.{request.name} ({settings.residency_kind} residency) cannot serve a LoRA "
            "adapter; serve it with vllm or ollama residency, or `sleepcycle adapters activate "
            "none`"
        )
    return OpenAIBackend(
        settings.base_url,
        adapter.served_name if adapter else settings.model,
        api_key_env=settings.api_key_env,
        structured_output=settings.structured_output,
        timeout=settings.timeout,
        retries=settings.retries,
    )


ENGINE = Engine("openai", OpenAISettings, _build)
