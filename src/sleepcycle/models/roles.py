"""Roles (foreground, sub, dreamer, verifier, reshaper) mapped to backends, and validated asks.

``Models`` builds each configured backend once, however many roles share it, and lets tests put
fakes in place of any role. ``RoleModel.ask`` sends a request with the role's sampling settings
and returns the reply parsed and validated, asking again (with the validation error in the
conversation) when a reply is not valid JSON for the schema.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ..config import ROLES, Config, EngineSettings
from ..errors import ConfigError, ModelError
from ..plugins import EngineBuild, engine
from ..residency import (
    AdapterBinding,
    AlwaysLoaded,
    EmbeddedResidency,
    Loadable,
    Residency,
    adapter_residency,
    engine_residency,
)
from .base import Backend, ChatReply, ChatRequest, Chooser, Message
from .llama import LlamaSettings, embedded

__all__ = ["AdapterBinding", "Models", "ReplyError", "RoleModel", "build_backend", "parse_reply"]

T = TypeVar("T", bound=BaseModel)

# The verifier's judge for the bundled model, built by tools/build_judge.py.
JUDGE_ADAPTER = Path(__file__).resolve().parent / "judge" / "judge.gguf"


class ReplyError(ValueError):
    """A reply that is not valid for its schema; the message says what is wrong."""


def parse_reply(text: str, model: type[T]) -> T:
    """The reply as ``model``; raises ReplyError naming the first problem."""
    start = text.find("{")
    if start < 0:
        raise ReplyError("the reply holds no JSON object")
    try:
        data = json.loads(text[start : text.rfind("}") + 1])
    except json.JSONDecodeError as exc:
        raise ReplyError(f"the reply is not valid JSON ({exc.msg})") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "reply"
        raise ReplyError(f"{where}: {first['msg']}") from None


@dataclass(slots=True)
class RoleModel:
    """One role: its backend and sampling settings."""

    role: str
    backend: Backend
    temperature: float
    max_tokens: int

    @property
    def model_id(self) -> str:
        return self.backend.model_id

    def request(
        self,
        messages: Sequence[Message],
        schema: Mapping[str, Any] | None = None,
        *,
        seed: int | None = None,
        max_tokens: int | None = None,
    ) -> ChatRequest:
        return ChatRequest(
            messages=tuple(messages),
            schema=schema,
            temperature=self.temperature,
            max_tokens=max_tokens or self.max_tokens,
            seed=seed,
        )

    def ask(
        self,
        request: ChatRequest,
        parse: Callable[[str], T],
        *,
        retries: int = 1,
        on_reply: Callable[[ChatRequest, ChatReply, str | None], None] | None = None,
    ) -> T:
        """A validated reply; ``on_reply`` sees every raw reply (for call records)."""
        attempt = request
        for left in range(retries, -1, -1):
            reply = self.backend.complete(attempt)
            try:
                parsed = parse(reply.text)
            except ReplyError as exc:
                if on_reply is not None:
                    on_reply(attempt, reply, str(exc))
                if left == 0:
                    raise
                attempt = ChatRequest(
                    messages=(
                        *attempt.messages,
                        {"role": "assistant", "content": reply.text[:2000]},
                        {
                            "role": "user",
                            "content": f"That reply was invalid: {exc}. Answer again with "
                            "JSON that follows the schema exactly.",
                        },
                    ),
                    schema=attempt.schema,
                    temperature=attempt.temperature,
                    max_tokens=attempt.max_tokens,
                    seed=None if attempt.seed is None else attempt.seed + 1,
                )
                continue
            if on_reply is not None:
                on_reply(attempt, reply, None)
            return parsed
        raise AssertionError("unreachable")  # pragma: no cover


def build_backend(
    name: str, settings: EngineSettings, home: Path, adapter: AdapterBinding | None = None
) -> Backend:
    """A backend for the model configured under ``[models.NAME]``, with ``adapter`` applied,
    built by the engine it names (``plugins``)."""
    return engine(settings.engine).build(EngineBuild(name, settings, home, adapter))


class Models:
    """The configured role models; backends are built on first use and shared by name.

    ``backends`` puts a backend in place of a role's configured model and ``residencies`` a
    residency adapter in place of a model's (tests use the library's fakes for both)."""

    def __init__(
        self,
        config: Config,
        home: Path,
        *,
        backends: Mapping[str, Backend] | None = None,
        residencies: Mapping[str, Residency] | None = None,
    ):
        self.config = config
        self.home = home
        self._overrides = dict(backends or {})
        unknown = set(self._overrides) - set(ROLES)
        if unknown:
            raise ConfigError(f"unknown role {sorted(unknown)[0]!r}; roles are {', '.join(ROLES)}")
        self._built: dict[str, Backend] = {}
        self._residencies: dict[str, Residency] = dict(residencies or {})
        self.adapter: AdapterBinding | None = None

    def view(self, adapter: AdapterBinding | None) -> Models:
        """The same backends and residencies, with ``adapter`` on the foreground (one agent's
        view: agents sharing a process share models but not adapters)."""
        other = Models.__new__(Models)
        other.config, other.home, other._overrides = self.config, self.home, self._overrides
        other._built, other._residencies = self._built, self._residencies
        other.adapter = adapter
        return other

    def model_name(self, role: str) -> str:
        """The model behind a role; the foreground with an adapter is ``NAME+ADAPTER``."""
        name = self.config.roles[role].model
        if role == "foreground" and self.adapter is not None and role not in self._overrides:
            return f"{name}+{self.adapter.id}"
        return name

    def drop(self, name: str) -> None:
        """Close and forget the backend and residency of ``name`` (an adapter no longer
        served); built again if asked for."""
        if "+" not in name:
            return
        backend = self._built.pop(name, None)
        residency = self._residencies.pop(name, None)
        if residency is not None and not isinstance(residency, EmbeddedResidency):
            # The engine serves it no more; an engine that is down holds nothing.
            with contextlib.suppress(ModelError):
                residency.unload()
            close = getattr(residency, "close", None)
            if close is not None:
                close()
        if backend is not None:
            backend.close()

    def settings(self, name: str) -> EngineSettings | None:
        """The ``[models.NAME]`` settings behind a model name (None for a role's own backend)."""
        return self.config.models.get(name.split("+", 1)[0])

    def _build(self, name: str) -> Backend:
        if name not in self._built:
            base, _, adapted = name.partition("+")
            adapter = self.adapter if adapted else None
            self._built[name] = build_backend(base, self.config.models[base], self.home, adapter)
        return self._built[name]

    def backend(self, role: str) -> Backend:
        if role in self._overrides:
            return self._overrides[role]
        return self._build(self.model_name(role))

    def role(self, role: str) -> RoleModel:
        if role not in ROLES:
            raise ConfigError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
        settings = self.config.roles[role]
        return RoleModel(role, self.backend(role), settings.temperature, settings.max_tokens)

    def model_names(self, *roles: str) -> set[str]:
        """The configured models behind these roles (a role given a backend stands alone)."""
        return {f"<{r}>" if r in self._overrides else self.model_name(r) for r in roles}

    def residency(self, name: str) -> Residency:
        """The residency adapter of the model configured under ``[models.NAME]``."""
        if name not in self._residencies:
            self._residencies[name] = self._make_residency(name)
        return self._residencies[name]

    def _make_residency(self, name: str) -> Residency:
        if name.startswith("<"):  # a role given its own backend
            return AlwaysLoaded(self._overrides[name.strip("<>")].model_id)
        settings = self.config.models[name.split("+", 1)[0]]
        kind = settings.residency_kind
        if kind == "embedded":
            backend = self._build(name)
            if not isinstance(backend, Loadable):
                raise ConfigError(
                    f"models.{name}: the {settings.engine} engine does not run in this process; "
                    "give it another residency"
                )
            return EmbeddedResidency(backend)
        model = settings.served_model() or name
        base = settings.base_url_of() or ""
        url = settings.control_url or base.removesuffix("/").removesuffix("/v1")
        if "+" in name and self.adapter is not None:
            return adapter_residency(kind, url, model, self.adapter)
        return engine_residency(kind, url, model, level=settings.sleep_level)

    def bundled(self, role: str) -> bool:
        """Whether ``role`` runs on the bundled model (embedded, no path, no own backend)."""
        if role in self._overrides:
            return False
        settings = self.config.models[self.model_name(role).split("+", 1)[0]]
        return isinstance(settings, LlamaSettings) and settings.path is None

    def judge(self) -> Chooser | None:
        """The verifier as a Yes/No judge scored by its token probabilities (``[verify]``),
        or None where the verifier writes its verdicts. Built on first use, with the judge
        adapter on the verifier's model; ``drop_judge`` frees it."""
        mode = self.config.verify.judge
        if mode == "reply":
            return None
        if "verifier" in self._overrides:
            backend = self._overrides["verifier"]
            if mode == "choice" and isinstance(backend, Chooser):
                return backend
            if mode == "choice":
                raise ConfigError(
                    "verify.judge = choice needs a model that scores options; the verifier's "
                    "backend cannot; set verify.judge = reply"
                )
            return None
        name = self.model_name("verifier")
        settings = self.config.models[name]
        if not isinstance(settings, LlamaSettings):
            if mode == "choice":
                raise ConfigError(
                    f"verify.judge = choice needs the llama engine; models.{name} is "
                    f"{settings.engine}; set verify.judge = reply"
                )
            return None
        if mode == "auto" and not self.bundled("verifier"):
            return None  # the bundled judge adapter fits only the bundled model
        key = f"{name}#judge"
        if key not in self._built:
            self._built[key] = embedded(settings, self.home, self._judge_adapter())
        judge = self._built[key]
        assert isinstance(judge, Chooser)
        return judge

    def _judge_adapter(self) -> Path | None:
        adapter = self.config.verify.adapter
        if adapter == "none":
            return None
        if adapter == "bundled":
            return JUDGE_ADAPTER
        path = Path(adapter).expanduser()
        return path if path.is_absolute() else self.home / path

    def drop_judge(self) -> None:
        """Free the judge's weights (after the verify stage)."""
        for key in [k for k in self._built if k.endswith("#judge")]:
            self._built.pop(key).close()

    def close(self) -> None:
        for backend in self._built.values():
            backend.close()
        self._built.clear()
