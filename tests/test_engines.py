"""Real engines: the embedded llama.cpp backend, and llama-cpp-python's OpenAI-compatible server
started on 127.0.0.1 with the bundled model (the ``server`` extra)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import sleepcycle
from sleepcycle import ChatRequest, Config, LlamaBackend, MiniLMEmbedder, ModelError, OpenAIBackend
from sleepcycle.models import bundled_model_path
from sleepcycle.records import Outcome
from sleepkit import night

pytestmark = pytest.mark.slow

POEM = {
    "type": "object",
    "properties": {"poem": {"type": "string", "maxLength": 200}},
    "required": ["poem"],
    "additionalProperties": False,
}
ASK = [
    {"role": "user", "content": "Write a poem of three short lines about the sea, one per line."}
]


def test_embedded_model_replies_in_valid_json() -> None:
    backend = LlamaBackend()
    try:
        for seed in range(3):
            reply = backend.complete(ChatRequest(ASK, schema=POEM, temperature=1.0, seed=seed))
            data = json.loads(reply.text)  # raw newlines in a string would make this fail
            assert set(data) == {"poem"} and len(data["poem"]) <= 200
            assert reply.tokens_in > 0 and reply.tokens_out > 0 and reply.ms > 0
    finally:
        backend.close()
    assert not backend.loaded


@pytest.mark.parametrize(
    ("features", "setting", "expected"),
    [
        ({"AVX2": "1", "AMX_INT8": "1"}, "auto", False),  # a native build on an AMX CPU
        ({"AVX2": "1", "REPACK": "1"}, "auto", True),  # the portable build, any CPU
        ({"AVX2": "1", "AMX_INT8": "1"}, "on", True),
        ({"AVX2": "1"}, "off", False),
    ],
)
def test_the_backend_passes_use_extra_bufts_by_the_cpu_backend(
    monkeypatch: pytest.MonkeyPatch, features: dict[str, str], setting: str, expected: bool
) -> None:
    """pip's default build of llama-cpp-python is -march=native; on a CPU with AMX its AMX
    kernel crashes (SIGSEGV in ggml_backend_amx_mul_mat) on the bundled model, so the model is
    loaded without extra buffer types where the CPU backend reports AMX. Most machines cannot
    show the crash; this pins the parameters the backend gives llama.cpp."""
    import llama_cpp.llama_cpp as lib

    from sleepcycle.models import llama

    monkeypatch.setattr(llama, "cpu_features", lambda: features)
    backend = LlamaBackend(repack=setting)  # type: ignore[arg-type]
    try:
        backend.load()  # loading only: a native AMX build crashes when it computes
        assert backend._llm.model_params.use_extra_bufts is expected
    finally:
        backend.close()
    assert lib.llama_model_default_params().use_extra_bufts is True  # defaults restored


def test_the_cpu_features_are_read_from_the_llama_cpp_build() -> None:
    import platform

    import llama_cpp

    from sleepcycle.models.llama import cpu_features, use_repack

    features = cpu_features()
    info = llama_cpp.llama_print_system_info().decode()
    assert features and all(f"{name} = {value}" in info for name, value in features.items())
    if platform.machine() == "x86_64":
        assert features.get("SSE3") == "1"
    assert use_repack("auto") is (features.get("AMX_INT8") != "1")


def test_the_repack_setting_reaches_the_backend(home: Path) -> None:
    from sleepcycle.models import build_backend

    config = Config.model_validate({"models": {"default": {"repack": "off"}}})
    backend = build_backend("default", config.models["default"], home)
    assert isinstance(backend, LlamaBackend) and backend.repack == "off"
    assert Config().models["default"].repack == "auto"


def test_a_missing_gguf_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no GGUF model at"):
        LlamaBackend(tmp_path / "nope.gguf").complete(ChatRequest(ASK))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# llama-cpp-python's server, with the embedded backend's choice of extra buffer types (a native
# build on an AMX CPU crashes in its AMX kernel otherwise, as the embedded backend would).
SERVE = """
import runpy
from sleepcycle.models.llama import model_params, use_repack
with model_params(use_extra_bufts=use_repack("auto")):
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
"""


def _serve(log: Path, *extra: str) -> Iterator[str]:
    """llama-cpp-python's server on 127.0.0.1, serving the bundled GGUF as "smollm2"."""
    port = _free_port()
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                sys.executable, "-c", SERVE, "--model", str(bundled_model_path()),
                "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096",
                "--model_alias", "smollm2", *extra,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/models", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _serve(tmp_path_factory.mktemp("server") / "server.log")


@pytest.fixture(scope="module")
def tool_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The same server with a chat format that turns replies into tool calls."""
    log = tmp_path_factory.mktemp("tool-server") / "server.log"
    yield from _serve(log, "--chat_format", "chatml-function-calling")


def test_server_json_object_form_gives_valid_json(server: str) -> None:
    backend = OpenAIBackend(server, "smollm2", structured_output="json_object", retries=0)
    try:
        reply = backend.complete(ChatRequest(ASK, schema=POEM, temperature=0.7, max_tokens=120))
        assert set(json.loads(reply.text)) == {"poem"}
        assert reply.tokens_in > 0 and reply.tokens_out > 0
    finally:
        backend.close()


def test_server_refuses_the_nested_json_schema_form(server: str) -> None:
    """llama-cpp-python's server answers 500 to response_format json_schema, which is why the
    form is a per-model setting; the error says what the server said."""
    backend = OpenAIBackend(server, "smollm2", structured_output="json_schema", retries=0)
    try:
        with pytest.raises(ModelError, match="answered 500"):
            backend.complete(ChatRequest(ASK, schema=POEM, max_tokens=60))
    finally:
        backend.close()


def test_a_full_sleep_through_the_server(server: str, home: Path, embedder: MiniLMEmbedder) -> None:
    config = Config.model_validate(
        {
            "models": {
                "served": {
                    "engine": "openai",
                    "base_url": server,
                    "model": "smollm2",
                    "structured_output": "json_object",
                    "retries": 1,
                }
            },
            "roles": {
                role: {"model": "served"}
                for role in ("foreground", "dreamer", "verifier", "reshaper")
            },
            "sleep": {"reshape_rounds": 0, "max_operations": 2, "cluster_size": 16},
        }
    )
    with sleepcycle.open(home, "maya", embedder=embedder, config=config) as mind:
        night(mind)
        report = mind.sleep()
        assert report.outcome is Outcome.DONE, report.sleep.error
        tokens = report.summary["tokens"]
        assert tokens["dreamer"]["calls"] >= 1 and tokens["dreamer"]["tokens_out"] > 0
        assert mind.episodes(unconsolidated=True) == []
        assert mind.sleep().outcome is Outcome.NOTHING_TO_DO


def test_the_proxy_answers_through_the_served_sub_model_during_a_sleep(
    server: str, home: Path, embedder: MiniLMEmbedder
) -> None:
    """A real sleep runs on a thread (its dreamer a slow fake); meanwhile the proxy's answer
    comes from the sub model served by llama.cpp's server."""
    import threading

    from fastapi.testclient import TestClient

    from sleepcycle.models import FunctionModel
    from sleepcycle.proxy import create_app

    dreaming, release = threading.Event(), threading.Event()

    def slow_dreamer(request: ChatRequest) -> dict[str, object]:
        dreaming.set()
        release.wait(60)
        return {"operations": []}

    config = Config.model_validate(
        {
            "models": {
                "served": {
                    "engine": "openai",
                    "base_url": server,
                    "model": "smollm2",
                    "structured_output": "json_object",
                }
            },
            "roles": {"sub": {"model": "served", "max_tokens": 24}},
        }
    )
    with sleepcycle.open(
        home, "maya", embedder=embedder, config=config,
        backends={"dreamer": FunctionModel(slow_dreamer), "foreground": FunctionModel(lambda r: "day")},
    ) as mind:  # fmt: skip
        night(mind)
        outcome: list[object] = []
        sleeper = threading.Thread(target=lambda: outcome.append(mind.sleep().outcome))
        sleeper.start()
        try:
            assert dreaming.wait(60)
            with TestClient(create_app(mind), base_url="http://127.0.0.1") as client:
                reply = client.post(
                    "/v1/chat/completions",
                    json={"messages": [{"role": "user", "content": "Say hello."}]},
                )
            assert reply.status_code == 200, reply.text
            assert reply.headers["X-Sleepcycle-Model"] == "sub"
            assert reply.headers["X-Sleepcycle-Model-Id"] == "smollm2"
            assert reply.json()["choices"][0]["message"]["content"].strip()
        finally:
            release.set()
            sleeper.join(120)
        assert outcome == [Outcome.DONE]


WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city now.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
FORCED = {"type": "function", "function": {"name": "get_weather"}}
WEATHER_ASK = [{"role": "user", "content": "What is the weather in Lisbon?"}]


def _proxy_client(mind: sleepcycle.Mind) -> tuple[object, object]:
    import openai
    from fastapi.testclient import TestClient

    from sleepcycle.proxy import create_app

    http = TestClient(create_app(mind), base_url="http://127.0.0.1")
    client = openai.OpenAI(
        base_url="http://127.0.0.1/v1", api_key="unused", http_client=http, max_retries=0
    )
    return http, client


def _assert_weather_call(calls: list[dict[str, object]] | None) -> None:
    assert calls, "no tool call came back"
    function = calls[0]["function"]
    assert isinstance(function, dict) and function["name"] == "get_weather"
    assert isinstance(json.loads(str(function["arguments"])), dict)


def test_tool_calls_through_the_proxy_from_llama_cpp_server(
    tool_server: str, home: Path, embedder: MiniLMEmbedder
) -> None:
    """An agent on the openai SDK calls a tool through the proxy, whose foreground is
    llama-cpp-python's server with chatml-function-calling: the call comes back, sync and
    streamed, and is recorded."""
    config = Config.model_validate(
        {
            "models": {"served": {"engine": "openai", "base_url": tool_server, "model": "smollm2"}},
            "roles": {"foreground": {"model": "served"}},
        }
    )
    with sleepcycle.open(home, "maya", embedder=embedder, config=config) as mind:
        http, client = _proxy_client(mind)
        with http:  # type: ignore[attr-defined]
            reply = client.chat.completions.create(  # type: ignore[attr-defined]
                model="any", messages=WEATHER_ASK, tools=[WEATHER], tool_choice=FORCED,
                max_tokens=60,
            )  # fmt: skip
            message = reply.choices[0].message.model_dump()
            _assert_weather_call(message["tool_calls"])
            stream = client.chat.completions.create(  # type: ignore[attr-defined]
                model="any", messages=WEATHER_ASK, tools=[WEATHER], tool_choice=FORCED,
                max_tokens=60, stream=True,
            )  # fmt: skip
            names, arguments = [], []
            for chunk in stream:
                for delta in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
                    names.append(delta.function.name or "")
                    arguments.append(delta.function.arguments or "")
            assert "get_weather" in "".join(names)
            assert isinstance(json.loads("".join(arguments)), dict)
        recorded = [e for e in mind.episodes() if e.role.value == "assistant"]
        assert len(recorded) == 2
        assert all(e.meta["tool_calls"][0]["function"]["name"] == "get_weather" for e in recorded)


def test_tool_calls_from_the_embedded_engine_with_a_tool_format(
    home: Path, embedder: MiniLMEmbedder
) -> None:
    config = Config.model_validate(
        {
            "models": {"tools": {"chat_format": "chatml-function-calling"}},
            "roles": {"foreground": {"model": "tools", "max_tokens": 60}},
        }
    )
    with sleepcycle.open(home, "maya", embedder=embedder, config=config) as mind:
        http, _ = _proxy_client(mind)
        with http:  # type: ignore[attr-defined]
            body = {"messages": WEATHER_ASK, "tools": [WEATHER], "tool_choice": FORCED}
            reply = http.post("/v1/chat/completions", json=body)  # type: ignore[attr-defined]
            assert reply.status_code == 200, reply.text
            _assert_weather_call(reply.json()["choices"][0]["message"].get("tool_calls"))
            plain = http.post(  # type: ignore[attr-defined]
                "/v1/chat/completions", json={"messages": WEATHER_ASK, "max_tokens": 8}
            )
            assert plain.status_code == 200 and plain.json()["choices"][0]["message"]["content"]
