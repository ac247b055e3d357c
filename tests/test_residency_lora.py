"""Serving an agent's LoRA adapter on an engine, over real HTTP against fake engines that
implement the documented routes: vLLM's runtime LoRA loading and Ollama's blobs and create."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from fake_engines import Engine, serve
from sleepcycle import ChatRequest, Config, ConfigError, ModelError
from sleepcycle.config import ROLES
from sleepcycle.models import Models
from sleepcycle.residency import (
    AdapterBinding,
    AlwaysLoaded,
    OllamaAdapterResidency,
    State,
    VllmLoraResidency,
    adapter_residency,
)

GGUF_BYTES = b"GGUF\x03\x00\x00\x00 not really an adapter"


@pytest.fixture
def binding(tmp_path: Path) -> AdapterBinding:
    root = tmp_path / "adapters" / "ad_7f3k"
    (root / "peft").mkdir(parents=True)
    (root / "peft" / "adapter_config.json").write_text("{}")
    (root / "adapter.gguf").write_bytes(GGUF_BYTES)
    return AdapterBinding("ad_7f3k", 3, root / "adapter.gguf", root / "peft")


def _posts(engine: Engine) -> list[tuple[str, Any]]:
    return [(path, body) for method, path, body in engine.log if method == "POST"]


def test_the_served_name_is_the_adapter_id(binding: AdapterBinding) -> None:
    assert binding.served_name == "sleepcycle-ad-7f3k"


# vLLM


def test_vllm_loads_and_unloads_the_peft_directory(binding: AdapterBinding) -> None:
    with serve(Engine("vllm", ["qwen"])) as engine:
        residency = VllmLoraResidency(engine.url, binding)
        assert residency.kind == "vllm-lora" and residency.model == "sleepcycle-ad-7f3k"
        assert residency.status().state is State.UNLOADED
        residency.load()
        assert residency.status().state is State.LOADED
        assert engine.loras == {"sleepcycle-ad-7f3k": str(binding.peft)}
        residency.load()  # already loaded: nothing asked (vLLM would answer 400)
        assert _posts(engine) == [
            (
                "/v1/load_lora_adapter",
                {"lora_name": "sleepcycle-ad-7f3k", "lora_path": str(binding.peft)},
            )
        ]
        residency.unload()
        assert residency.status().state is State.UNLOADED and engine.loras == {}
        residency.unload()  # already unloaded: nothing asked (vLLM would answer 404)
        assert _posts(engine)[1:] == [
            ("/v1/unload_lora_adapter", {"lora_name": "sleepcycle-ad-7f3k"})
        ]
        assert engine.models == ["qwen"]  # the base model keeps serving the night's roles


def test_vllm_sleep_and_wake_unload_and_load_the_adapter(binding: AdapterBinding) -> None:
    with serve(Engine("vllm", ["qwen"])) as engine:
        residency = VllmLoraResidency(engine.url, binding)
        residency.wake()
        assert residency.status().state is State.LOADED
        residency.sleep()
        assert residency.status().state is State.UNLOADED
        assert not engine.sleeping  # the engine itself stays awake for the base model


def test_vllm_sees_an_adapter_loaded_by_someone_else(binding: AdapterBinding) -> None:
    with serve(Engine("vllm", ["qwen"])) as engine:
        engine.loras["sleepcycle-ad-7f3k"] = "/elsewhere"
        residency = VllmLoraResidency(engine.url, binding)
        assert residency.status().state is State.LOADED
        residency.load()
        assert _posts(engine) == []


def test_vllm_errors_name_the_route(binding: AdapterBinding) -> None:
    with serve(Engine("ollama", ["qwen"])) as engine:  # no /v1/models on this engine
        with pytest.raises(ModelError, match=r"vllm-lora at .*: GET /v1/models answered 404"):
            VllmLoraResidency(engine.url, binding).load()
    with pytest.raises(ModelError, match=r"vllm-lora at http://127.0.0.1:9: cannot reach"):
        VllmLoraResidency("http://127.0.0.1:9", binding).status()


# Ollama


def test_ollama_uploads_creates_and_loads_the_adapter(binding: AdapterBinding) -> None:
    digest = "sha256:" + hashlib.sha256(GGUF_BYTES).hexdigest()
    with serve(Engine("ollama", ["qwen"])) as engine:
        residency = OllamaAdapterResidency(engine.url, "qwen", binding)
        assert residency.kind == "ollama-adapter" and residency.model == "sleepcycle-ad-7f3k"
        assert residency.status().state is State.UNLOADED
        residency.load()
        status = residency.status()
        assert status.state is State.LOADED and status.memory_mb == 1024
        assert engine.blobs == {digest: GGUF_BYTES}  # the file's bytes, unchanged
        create = {
            "model": "sleepcycle-ad-7f3k",
            "from": "qwen",
            "adapters": {"adapter.gguf": digest},
            "stream": False,
        }
        assert engine.created == {"sleepcycle-ad-7f3k": create}
        requests = [(m, p) for m, p, _ in engine.log if p != "/api/ps"]
        assert requests == [
            ("POST", "/api/show"),  # not there yet
            ("HEAD", f"/api/blobs/{digest}"),  # nor the file
            ("POST", f"/api/blobs/{digest}"),
            ("POST", "/api/create"),
            ("POST", "/api/generate"),
        ]
        assert _posts(engine)[-1] == (
            "/api/generate",
            {"model": "sleepcycle-ad-7f3k", "keep_alive": -1},
        )

        engine.log.clear()
        residency.unload()
        assert residency.status().state is State.UNLOADED
        residency.load()  # created already: only loaded again
        assert residency.status().state is State.LOADED
        assert _posts(engine) == [
            ("/api/generate", {"model": "sleepcycle-ad-7f3k", "keep_alive": 0}),
            ("/api/show", {"model": "sleepcycle-ad-7f3k"}),
            ("/api/generate", {"model": "sleepcycle-ad-7f3k", "keep_alive": -1}),
        ]
        assert not any(path.startswith("/api/blobs/") for _, path, _ in engine.log)
        assert engine.loaded == {"sleepcycle-ad-7f3k"}  # the base was never loaded for it


def test_ollama_does_not_upload_a_blob_it_already_has(binding: AdapterBinding) -> None:
    digest = "sha256:" + hashlib.sha256(GGUF_BYTES).hexdigest()
    with serve(Engine("ollama", ["qwen"])) as engine:
        engine.blobs[digest] = GGUF_BYTES  # an earlier agent, or a create that failed after it
        OllamaAdapterResidency(engine.url, "qwen", binding).load()
        assert [(m, p) for m, p, _ in engine.log] == [
            ("POST", "/api/show"),
            ("HEAD", f"/api/blobs/{digest}"),
            ("POST", "/api/create"),
            ("POST", "/api/generate"),
        ]
        assert engine.loaded == {"sleepcycle-ad-7f3k"}


def test_ollama_a_missing_adapter_file_names_it(binding: AdapterBinding) -> None:
    binding.gguf.unlink()
    with serve(Engine("ollama", ["qwen"])) as engine:
        residency = OllamaAdapterResidency(engine.url, "qwen", binding)
        with pytest.raises(ModelError, match="cannot read the adapter") as caught:
            residency.load()
        assert str(binding.gguf) in str(caught.value)
        assert engine.created == {} and engine.loaded == set()


def test_ollama_an_unknown_base_model_is_a_clear_error(binding: AdapterBinding) -> None:
    with serve(Engine("ollama", ["qwen"])) as engine:
        residency = OllamaAdapterResidency(engine.url, "llama3", binding)
        with pytest.raises(
            ModelError, match=r"ollama-adapter at .*: POST /api/create answered 400.*llama3"
        ):
            residency.load()
        assert engine.loaded == set()


def test_ollama_an_unreachable_engine_is_a_model_error(binding: AdapterBinding) -> None:
    with pytest.raises(ModelError, match="cannot reach /api/show"):
        OllamaAdapterResidency("http://127.0.0.1:9", "qwen", binding).load()


# adapter_residency


def test_adapter_residency_picks_the_engine(binding: AdapterBinding) -> None:
    vllm = adapter_residency("vllm", "http://127.0.0.1:8000", "qwen", binding)
    assert isinstance(vllm, VllmLoraResidency) and vllm.adapter == binding
    ollama = adapter_residency("ollama", "http://127.0.0.1:11434", "qwen", binding)
    assert isinstance(ollama, OllamaAdapterResidency)
    assert ollama.base_model == "qwen" and ollama.model == "sleepcycle-ad-7f3k"
    always = adapter_residency("always", "http://127.0.0.1:8000", "qwen", binding)
    assert isinstance(always, AlwaysLoaded) and always.model == "sleepcycle-ad-7f3k"
    assert always.status().state is State.LOADED


def test_adapter_residency_refuses_an_engine_without_adapters(binding: AdapterBinding) -> None:
    with pytest.raises(ConfigError) as caught:
        adapter_residency("llama-router", "http://127.0.0.1:8080", "qwen", binding)
    message = str(caught.value)
    assert "llama-router" in message
    assert all(kind in message for kind in ("embedded", "vllm", "ollama"))


# Through Models


def test_models_serve_the_foreground_adapter_on_vllm(home: Path, binding: AdapterBinding) -> None:
    with serve(Engine("vllm", ["base-model"], lambda body: "Hi Maya")) as engine:
        settings = {
            "engine": "openai",
            "base_url": f"{engine.url}/v1",
            "model": "base-model",
            "residency": "vllm",
            "retries": 0,
        }
        config = Config.model_validate(
            {"models": {"day": settings}, "roles": {role: {"model": "day"} for role in ROLES}}
        )
        models = Models(config, home).view(binding)
        try:
            name = models.model_name("foreground")
            assert name == "day+ad_7f3k" and models.model_name("dreamer") == "day"
            residency = models.residency(name)
            assert isinstance(residency, VllmLoraResidency)
            assert residency.url == engine.url and residency.adapter == binding
            residency.load()
            reply = models.backend("foreground").complete(
                ChatRequest(messages=({"role": "user", "content": "Hello"},), max_tokens=16)
            )
            assert reply.text == "Hi Maya"
            models.backend("dreamer").complete(
                ChatRequest(messages=({"role": "user", "content": "Dream"},), max_tokens=16)
            )
            assert [model for model, _ in engine.chats] == ["sleepcycle-ad-7f3k", "base-model"]
            chats = [b["model"] for _, p, b in engine.log if p == "/v1/chat/completions"]
            assert chats == ["sleepcycle-ad-7f3k", "base-model"]
        finally:
            models.close()
