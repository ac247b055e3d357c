"""The proxy passes everything through: tools, tool calls, streamed tool-call deltas, errors,
the Responses API; streams end honestly. The client is the official ``openai`` SDK; the
upstream a fake that answers in OpenAI's documented shapes (``FakeUpstream``)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import uvicorn
from fastapi.testclient import TestClient

import sleepcycle
from sleepcycle import Mind, MiniLMEmbedder
from sleepcycle.models import FakeUpstream, FunctionModel, OpenAIBackend
from sleepcycle.proxy import create_app
from sleepcycle.records import Role

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
CALL = {"function": {"name": "get_weather", "arguments": json.dumps({"city": "Lisbon"})}}


def weather_agent(body: dict[str, Any]) -> dict[str, Any]:
    """Calls the tool first; answers from its result once it has one (without tools, says
    what it knows)."""
    if not body.get("tools"):
        return {"content": "Sunny all week."}
    results = [m for m in body["messages"] if m.get("role") == "tool"]
    if results:
        return {"content": f"It is {json.loads(results[-1]['content'])['sky']} in Lisbon."}
    return {"content": None, "tool_calls": [CALL]}


def open_proxy(home: Path, embedder: MiniLMEmbedder, upstream: FakeUpstream) -> Mind:
    backend = OpenAIBackend(
        "http://upstream.test/v1", "up-model", transport=upstream.transport, retries=0
    )
    mind = sleepcycle.open(home, "maya", embedder=embedder, backends={"foreground": backend})
    mind.add("Maya lives in Alfama, Lisbon.")
    return mind


@pytest.fixture
def upstream() -> FakeUpstream:
    return FakeUpstream(weather_agent)


@pytest.fixture
def proxy(
    home: Path, embedder: MiniLMEmbedder, upstream: FakeUpstream
) -> Iterator[tuple[Mind, openai.OpenAI]]:
    with open_proxy(home, embedder, upstream) as mind:
        http = TestClient(create_app(mind), base_url="http://127.0.0.1")
        with http:
            yield (
                mind,
                openai.OpenAI(
                    base_url="http://127.0.0.1/v1",
                    api_key="unused",
                    http_client=http,
                    max_retries=0,
                ),
            )


ASK = [
    {"role": "system", "content": "You help Maya."},
    {"role": "user", "content": "What's the weather where I live?"},
]


def test_tools_and_every_field_reach_the_upstream_and_the_tool_calls_come_back(
    proxy: tuple[Mind, openai.OpenAI], upstream: FakeUpstream
) -> None:
    mind, client = proxy
    first = client.chat.completions.create(
        model="gpt-agent",
        messages=ASK,  # type: ignore[arg-type]
        tools=[WEATHER],  # type: ignore[list-item]
        tool_choice="auto",
        stop=["\n\n"],
        seed=11,
        temperature=0.3,
        response_format={"type": "text"},
        extra_body={"top_k": 20},
    )
    (sent,) = upstream.requests
    assert sent["model"] == "up-model"  # mapped; the rest as the agent sent it
    assert sent["tools"] == [WEATHER] and sent["tool_choice"] == "auto"
    assert sent["stop"] == ["\n\n"] and sent["seed"] == 11 and sent["temperature"] == 0.3
    assert sent["response_format"] == {"type": "text"} and sent["top_k"] == 20
    assert "max_tokens" not in sent  # nothing added that the agent did not ask for
    assert "Maya lives in Alfama, Lisbon." in sent["messages"][0]["content"]
    assert sent["messages"][1:] == ASK[1:]

    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls or []
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    assert json.loads(call.function.arguments) == {"city": "Lisbon"}  # type: ignore[union-attr]
    assert first.usage is not None and first.usage.total_tokens > 0

    # The agent runs the tool and sends the whole history back, as agents do.
    history = [
        *ASK,
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": json.dumps({"sky": "sunny"})},
    ]
    second = client.chat.completions.create(model="gpt-agent", messages=history, tools=[WEATHER])  # type: ignore[arg-type,list-item]
    assert second.choices[0].message.content == "It is sunny in Lisbon."
    assert upstream.requests[1]["messages"][2]["tool_calls"][0]["id"] == call.id

    episodes = mind.episodes()
    assert [e.role for e in episodes] == [Role.USER, Role.ASSISTANT, Role.TOOL, Role.ASSISTANT]
    asked = episodes[1]
    assert asked.meta["tool_calls"][0]["function"]["name"] == "get_weather"
    assert asked.meta["tool_calls"][0]["id"] == call.id
    assert episodes[2].meta["tool_call_id"] == call.id
    assert episodes[3].content == "It is sunny in Lisbon."


def test_streamed_tool_call_deltas_reach_the_client_and_the_call_is_recorded(
    proxy: tuple[Mind, openai.OpenAI], upstream: FakeUpstream
) -> None:
    mind, client = proxy
    stream = client.chat.completions.create(
        model="gpt-agent",
        messages=ASK,  # type: ignore[arg-type]
        tools=[WEATHER],  # type: ignore[list-item]
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    pieces = [
        d.function.arguments
        for c in chunks
        for d in (c.choices[0].delta.tool_calls or [] if c.choices else [])
        if d.function and d.function.arguments
    ]
    assert len(pieces) > 2  # the arguments came in pieces, as the upstream sent them
    assert json.loads("".join(pieces)) == {"city": "Lisbon"}
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "tool_calls"
    assert chunks[-1].usage is not None and not chunks[-1].choices  # the usage chunk too
    assert upstream.requests[0]["stream"] is True
    assert upstream.requests[0]["stream_options"] == {"include_usage": True}
    (reply,) = [e for e in mind.episodes() if e.role is Role.ASSISTANT]
    assert json.loads(reply.meta["tool_calls"][0]["function"]["arguments"]) == {"city": "Lisbon"}
    assert "truncated" not in reply.meta


def test_an_upstream_error_keeps_its_status_and_body(home: Path, embedder: MiniLMEmbedder) -> None:
    refusal = {"error": {"message": "tools[0]: bad schema", "type": "invalid_request_error",
                         "param": "tools", "code": None}}  # fmt: skip
    upstream = FakeUpstream(weather_agent, error=(400, refusal))
    with open_proxy(home, embedder, upstream) as mind:
        with TestClient(create_app(mind), base_url="http://127.0.0.1") as http:
            client = openai.OpenAI(
                base_url="http://127.0.0.1/v1", api_key="x", http_client=http, max_retries=0
            )
            with pytest.raises(openai.BadRequestError) as caught:
                client.chat.completions.create(model="m", messages=ASK, tools=[WEATHER])  # type: ignore[arg-type,list-item]
            assert caught.value.status_code == 400
            assert caught.value.body == refusal["error"]
            for stream in (False, True):
                answer = http.post("/v1/chat/completions", json={"messages": ASK, "stream": stream})
                assert (answer.status_code, answer.json()) == (400, refusal)
        assert [e.role for e in mind.episodes()] == [Role.USER]  # no reply recorded


def test_a_stream_the_upstream_drops_ends_in_an_error_and_is_recorded_truncated(
    home: Path, embedder: MiniLMEmbedder
) -> None:
    upstream = FakeUpstream(lambda body: {"content": "one two three four five six seven"},
                            cut_after=5)  # fmt: skip
    with open_proxy(home, embedder, upstream) as mind:
        with TestClient(create_app(mind), base_url="http://127.0.0.1") as http:
            with http.stream(
                "POST", "/v1/chat/completions", json={"messages": ASK, "stream": True}
            ) as response:
                lines = [line for line in response.iter_lines() if line]
            client = openai.OpenAI(
                base_url="http://127.0.0.1/v1", api_key="x", http_client=http, max_retries=0
            )
            with pytest.raises(openai.APIError, match="broke off"):
                list(client.chat.completions.create(model="m", messages=ASK, stream=True))  # type: ignore[arg-type]
        assert "data: [DONE]" not in lines
        chunks = [json.loads(line[6:]) for line in lines]
        assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])
        assert chunks[-1]["error"]["type"] == "stream_cut"
        replies = [e for e in mind.episodes() if e.role is Role.ASSISTANT]
        assert replies and replies[0].content == "one two three four"
        assert replies[0].meta["truncated"] == "upstream"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_client_that_goes_away_mid_stream_leaves_the_partial_reply_recorded(
    home: Path, embedder: MiniLMEmbedder
) -> None:
    words = " ".join(f"w{n}" for n in range(60))
    upstream = FakeUpstream(lambda body: {"content": words}, delay=0.05)
    with open_proxy(home, embedder, upstream) as mind:
        port = _free_port()
        server = uvicorn.Server(
            uvicorn.Config(create_app(mind), host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 20
            while not server.started and time.monotonic() < deadline:
                time.sleep(0.05)
            with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
                with http.stream(
                    "POST", "/v1/chat/completions", json={"messages": ASK, "stream": True}
                ) as response:
                    seen = 0
                    for line in response.iter_lines():
                        seen += bool(line)
                        if seen == 4:
                            break  # the client hangs up
            deadline = time.monotonic() + 20
            replies: list[Any] = []
            while not replies and time.monotonic() < deadline:
                time.sleep(0.1)
                replies = [e for e in mind.episodes() if e.role is Role.ASSISTANT]
        finally:
            server.should_exit = True
            thread.join(timeout=20)
        (reply,) = replies
        assert reply.meta["truncated"] == "client"
        assert reply.content.startswith("w0 w1") and reply.content != words


def test_a_model_that_cannot_take_tools_is_refused_not_stripped(
    home: Path, embedder: MiniLMEmbedder
) -> None:
    plain = FunctionModel(lambda request: "plain text", model_id="plain")
    with sleepcycle.open(home, "maya", embedder=embedder, backends={"foreground": plain}) as mind:
        with TestClient(create_app(mind), base_url="http://127.0.0.1") as http:
            answer = http.post("/v1/chat/completions", json={"messages": ASK, "tools": [WEATHER]})
            assert answer.status_code == 400
            assert "cannot take tools" in answer.json()["error"]["message"]
            assert mind.episodes() == []  # a request to fix leaves the store as it was
            ok = http.post("/v1/chat/completions", json={"messages": ASK, "user": "maya"})
            assert ok.json()["choices"][0]["message"]["content"] == "plain text"


def test_the_embedded_engine_refuses_tools_without_a_tool_format() -> None:
    from sleepcycle.models import LlamaBackend
    from sleepcycle.models.relay import RelayRefused

    with pytest.raises(RelayRefused, match="chatml-function-calling"):
        LlamaBackend().relay({"messages": ASK, "tools": [WEATHER]})
    with pytest.raises(RelayRefused, match="modalities"):
        LlamaBackend(chat_format="chatml-function-calling").relay(
            {"messages": ASK, "modalities": ["audio"]}
        )


RESPONSES_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city now.",
    "parameters": WEATHER["function"]["parameters"],  # type: ignore[index]
    "strict": True,
}


def test_the_responses_api_round_trip_with_a_function_call(
    proxy: tuple[Mind, openai.OpenAI], upstream: FakeUpstream
) -> None:
    mind, client = proxy
    first = client.responses.create(
        model="gpt-agent",
        instructions="You help Maya.",
        input="What's the weather where I live?",
        tools=[RESPONSES_TOOL],  # type: ignore[list-item]
        max_output_tokens=200,
    )
    sent = upstream.requests[0]
    assert sent["messages"][0]["role"] == "system"
    assert sent["messages"][0]["content"].startswith("You help Maya.")
    assert "Maya lives in Alfama, Lisbon." in sent["messages"][0]["content"]
    assert sent["tools"][0]["function"]["name"] == "get_weather"
    assert sent["max_tokens"] == 200
    (call,) = [item for item in first.output if item.type == "function_call"]
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Lisbon"}

    second = client.responses.create(
        model="gpt-agent",
        instructions="You help Maya.",
        input=[
            {"role": "user", "content": "What's the weather where I live?"},
            {
                "type": "function_call",
                "call_id": call.call_id,
                "name": call.name,
                "arguments": call.arguments,
            },
            {
                "type": "function_call_output",
                "call_id": call.call_id,
                "output": json.dumps({"sky": "cloudy"}),
            },
        ],  # type: ignore[list-item]
        tools=[RESPONSES_TOOL],  # type: ignore[list-item]
    )
    assert second.output_text == "It is cloudy in Lisbon."
    assert second.status == "completed" and second.usage is not None
    assert upstream.requests[1]["messages"][2]["tool_calls"][0]["id"] == call.call_id
    assert upstream.requests[1]["messages"][3] == {
        "role": "tool", "tool_call_id": call.call_id, "content": json.dumps({"sky": "cloudy"}),
    }  # fmt: skip
    roles = [e.role for e in mind.episodes()]
    assert roles == [Role.USER, Role.ASSISTANT, Role.TOOL, Role.ASSISTANT]

    with client.responses.stream(
        model="gpt-agent",
        input="And tomorrow?",
        tools=[RESPONSES_TOOL],  # type: ignore[list-item]
    ) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert "response.function_call_arguments.delta" in kinds
    (streamed,) = [item for item in final.output if item.type == "function_call"]
    assert json.loads(streamed.arguments) == {"city": "Lisbon"}

    with client.responses.stream(model="gpt-agent", input="And next week?") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == "Sunny all week." == final.output_text


def test_the_responses_api_refuses_what_it_cannot_translate(
    proxy: tuple[Mind, openai.OpenAI],
) -> None:
    _, client = proxy
    with pytest.raises(openai.BadRequestError, match="previous_response_id"):
        client.responses.create(model="m", input="hi", previous_response_id="resp_1")
    with pytest.raises(openai.BadRequestError, match="runs only on OpenAI"):
        client.responses.create(model="m", input="hi", tools=[{"type": "web_search"}])  # type: ignore[list-item]


def run_agent(client: openai.OpenAI) -> tuple[list[tuple[str, str]], str]:
    """A tool-calling agent loop as the SDK's users write it: (calls made, final answer)."""
    messages: list[Any] = list(ASK)
    calls: list[tuple[str, str]] = []
    for _ in range(4):
        reply = client.chat.completions.create(model="m", messages=messages, tools=[WEATHER])  # type: ignore[list-item]
        message = reply.choices[0].message
        if not message.tool_calls:
            return calls, message.content or ""
        messages.append(message.model_dump(exclude_none=True))
        for call in message.tool_calls:
            calls.append((call.function.name, call.function.arguments))  # type: ignore[union-attr]
            result = {"sky": "sunny"} if "Lisbon" in call.function.arguments else {}  # type: ignore[union-attr]
            messages.append(
                {"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)}
            )
    raise AssertionError("the agent never answered")


def test_an_agent_works_the_same_through_the_proxy_as_without_it(
    proxy: tuple[Mind, openai.OpenAI], upstream: FakeUpstream
) -> None:
    mind, through = proxy
    direct = openai.OpenAI(
        base_url="http://upstream.test/v1", api_key="x", max_retries=0,
        http_client=httpx.Client(transport=upstream.transport),
    )  # fmt: skip
    assert run_agent(through) == run_agent(direct)
    assert run_agent(through)[1] == "It is sunny in Lisbon."
    # Every turn recorded once (the second run repeats the same conversation in the session).
    roles = [e.role for e in mind.episodes()]
    assert roles == [Role.USER, Role.ASSISTANT, Role.TOOL, Role.ASSISTANT]
