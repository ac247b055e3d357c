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
from collections.abc import Callable, Iterator
from typing import Any, Literal

import httpx

from ..errors import ModelError
from .base import ChatReply, ChatRequest

__all__ = ["OpenAIBackend", "StructuredOutput"]

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

    def complete(self, request: ChatRequest) -> ChatReply:
        body = self._body(request)
        started = time.perf_counter()
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._client.post("/chat/completions", json=body)
            except httpx.TransportError as exc:
                problem = f"cannot reach {self.base_url} ({type(exc).__name__}: {exc})"
                retry = True
            else:
                if response.status_code < 400:
                    break
                problem = f"{self.base_url} answered {response.status_code}: {response.text[:200]}"
                retry = response.status_code in _RETRY_STATUS
            if not retry or attempt > self.retries:
                raise ModelError(f"{self.model}: {problem}")
            self._sleep(self.backoff * 2 ** (attempt - 1))
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
        body = {**self._body(request), "stream": True}
        try:
            with self._client.stream("POST", "/chat/completions", json=body) as response:
                if response.status_code >= 400:
                    response.read()
                    raise ModelError(
                        f"{self.model}: {self.base_url} answered {response.status_code}: "
                        f"{response.text[:200]}"
                    )
                for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    try:
                        piece = json.loads(data)["choices"][0]["delta"].get("content")
                    except (ValueError, KeyError, IndexError, TypeError):
                        continue
                    if piece:
                        yield piece
        except httpx.TransportError as exc:
            raise ModelError(f"{self.model}: cannot reach {self.base_url} ({exc})") from None

    def close(self) -> None:
        self._client.close()
