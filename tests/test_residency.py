"""Residency: adapters over real HTTP against engines that implement the documented routes,
the embedded model's load and unload, and the swaps a sleep makes (journaled, budgeted)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import sleepcycle
from fake_engines import Engine, serve
from sleepcycle import Config, MiniLMEmbedder, ModelError
from sleepcycle.models import LlamaBackend
from sleepcycle.records import Outcome
from sleepcycle.residency import (
    EmbeddedResidency,
    LlamaRouterResidency,
    OllamaResidency,
    State,
    VllmResidency,
)
from sleepkit import NIGHT, Intent


def test_ollama_keep_alive_loads_and_unloads() -> None:
    with serve(Engine("ollama", ["qwen"])) as engine:
        residency = OllamaResidency(engine.url, "qwen")
        assert residency.status().state is State.UNLOADED
        residency.load()
        status = residency.status()
        assert status.state is State.LOADED and status.memory_mb == 1024
        residency.unload()
        assert residency.status().state is State.UNLOADED
        posts = [(path, body) for method, path, body in engine.log if method == "POST"]
        assert posts == [
            ("/api/generate", {"model": "qwen", "keep_alive": -1}),
            ("/api/generate", {"model": "qwen", "keep_alive": 0}),
        ]


@pytest.mark.parametrize("level", [1, 2])
def test_vllm_sleep_mode(level: int) -> None:
    with serve(Engine("vllm", ["qwen"])) as engine:
        residency = VllmResidency(engine.url, "qwen", level=level)
        assert residency.status().state is State.LOADED
        residency.unload()
        assert residency.status().state is State.SLEEPING
        residency.load()
        assert residency.status().state is State.LOADED
        posts = [(path, body) for method, path, body in engine.log if method == "POST"]
        expected: list[tuple[str, Any]] = [(f"/sleep?level={level}", None), ("/wake_up", None)]
        if level == 2:  # without reloading the weights a level-2 wake answers garbage
            expected.append(("/collective_rpc", {"method": "reload_weights"}))
        assert posts == expected


def test_llama_router_models_load_and_unload() -> None:
    with serve(Engine("llama-router", ["qwen", "smol"])) as engine:
        residency = LlamaRouterResidency(engine.url, "smol")
        assert residency.status().state is State.UNLOADED
        residency.load()
        assert residency.status().state is State.LOADED and engine.loaded == {"smol"}
        residency.unload()
        assert residency.status().state is State.UNLOADED
        with pytest.raises(ModelError, match="no model 'nope' in GET /models"):
            LlamaRouterResidency(engine.url, "nope").status()
        with pytest.raises(ModelError, match="answered 400"):
            LlamaRouterResidency(engine.url, "nope").load()


def test_an_unreachable_engine_is_a_clear_error() -> None:
    with pytest.raises(ModelError, match="ollama at http://127.0.0.1:9: cannot reach /api/ps"):
        OllamaResidency("http://127.0.0.1:9", "qwen").status()


@pytest.mark.slow
def test_embedded_model_load_and_unload_free_memory() -> None:
    residency = EmbeddedResidency(LlamaBackend())
    assert residency.status().state is State.UNLOADED
    residency.load()
    assert residency.status().state is State.LOADED
    assert residency.last_change_mb is not None and residency.last_change_mb > 50
    residency.unload()
    assert residency.status().state is State.UNLOADED
    assert residency.last_change_mb is not None and residency.last_change_mb < -50


def _answers(body: dict[str, Any]) -> str:
    """A night on the fake engine: the dreamer proposes one fact, everything else agrees."""
    prompt = body["messages"][-1]["content"]
    if "Reply with at most" in prompt:  # the dreamer
        return json.dumps({"operations": [Intent(
            "add", "Maya has a grey cat called Pixel.", sources=["Pixel, my grey cat"]
        ).render(prompt)]})  # fmt: skip
    if prompt.startswith("You check one change"):
        return json.dumps({"score": 1, "reasons": "supported", "feedback": ""})
    if prompt.startswith("You are this AI assistant"):
        return json.dumps({"updates": []})
    return "Hello"


def _swap_config(url: str, **extra: Any) -> Config:
    engine = {"engine": "openai", "base_url": f"{url}/v1", "residency": "ollama", "retries": 0}
    return Config.model_validate(
        {
            "models": {
                "day": {**engine, "model": "day-model", "memory_mb": 4000, "priority": 1},
                "night": {**engine, "model": "night-model", "memory_mb": 6000},
                "small": {**engine, "model": "sub-model", "memory_mb": 1000, "priority": 2},
            },
            "roles": {
                "foreground": {"model": "day"},
                "sub": {"model": "small"},
                "dreamer": {"model": "night"},
                "verifier": {"model": "night"},
                "reshaper": {"model": "night"},
            },
            "sleep": {"cluster_size": 64, "cluster_similarity": -1.0, "reshape_rounds": 0},
            **extra,
        }
    )


def _swaps(mind: sleepcycle.Mind) -> list[str]:
    _, entries = mind.journal()
    return [e.text.split(" (")[0] + (" FAILED" if e.refs.get("ok") is False else "")
            for e in entries if e.stage == "swap"]  # fmt: skip


def test_a_sleep_swaps_day_and_night_models(home: Path, embedder: MiniLMEmbedder) -> None:
    with serve(Engine("ollama", ["day-model", "night-model", "sub-model"], _answers)) as engine:
        engine.loaded.update({"day-model", "sub-model"})  # the day: chatting
        with sleepcycle.open(
            home, "maya", embedder=embedder, config=_swap_config(engine.url)
        ) as mind:
            mind.ingest_messages(NIGHT)
            report = mind.sleep()
            assert report.outcome is Outcome.DONE, report.sleep.error
            assert [m.text for m in mind.memories()] == ["Maya has a grey cat called Pixel."]
            swaps = _swaps(mind)
            assert swaps == [
                "unloaded day",  # falling asleep: the foreground makes room
                "loaded night",  # the dreamer, verifier and reshaper
                "loaded day",  # before REM: the persona stage speaks as the foreground
                "unloaded night",  # waking
                "warmed up the foreground",
            ]
            assert engine.loaded == {"day-model", "sub-model"}  # the sub model kept serving
            controls = [
                (p, b["model"], b["keep_alive"]) for m, p, b in engine.log if p == "/api/generate"
            ]
            assert controls == [
                ("/api/generate", "day-model", 0),
                ("/api/generate", "night-model", -1),
                ("/api/generate", "day-model", -1),
                ("/api/generate", "night-model", 0),
            ]
            night_calls = [loaded for model, loaded in engine.chats if model == "night-model"]
            assert night_calls and all("day-model" not in loaded for loaded in night_calls)
            assert all("sub-model" in loaded for loaded in night_calls)


def test_a_budget_too_small_fails_the_sleep_and_restores_the_day(
    home: Path, embedder: MiniLMEmbedder
) -> None:
    with serve(Engine("ollama", ["day-model", "night-model", "sub-model"], _answers)) as engine:
        engine.loaded.update({"day-model", "sub-model"})
        config = _swap_config(engine.url, residency={"budget_mb": 6500})
        with sleepcycle.open(home, "maya", embedder=embedder, config=config) as mind:
            mind.ingest_messages(NIGHT)
            report = mind.sleep()
            assert report.outcome is Outcome.FAILED
            assert report.sleep.error is not None
            assert (
                "cannot load night (6000 MB) within residency.budget_mb = 6500"
                in report.sleep.error
            )
            assert "1000 MB stay loaded (small)" in report.sleep.error
            assert mind.memories() == [] and len(mind.episodes(unconsolidated=True)) == 7
            assert engine.loaded == {"day-model", "sub-model"}  # the foreground is back
            assert _swaps(mind) == ["unloaded day", "loaded day", "warmed up the foreground"]


def test_a_budget_unloads_lower_priority_models_first(home: Path, embedder: MiniLMEmbedder) -> None:
    with serve(Engine("ollama", ["day-model", "night-model", "sub-model"], _answers)) as engine:
        engine.loaded.update({"day-model", "sub-model"})
        config = _swap_config(engine.url, residency={"budget_mb": 7000})
        config.models["day"] = config.models["day"].model_copy(update={"at_sleep": "keep"})
        with sleepcycle.open(home, "maya", embedder=embedder, config=config) as mind:
            mind.ingest_messages(NIGHT)
            report = mind.sleep()
            assert report.outcome is Outcome.DONE, report.sleep.error
            swaps = _swaps(mind)
            # The day model was kept at sleep, so loading the night had to evict it (priority 1 <
            # the sub model's 2, which the night keeps anyway).
            assert swaps[:2] == ["unloaded day", "loaded night"]
            assert engine.loaded == {"day-model", "sub-model"}
