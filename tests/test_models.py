"""Model backends: the request each sends, retries, validation, the fixed grammar, the fakes."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from sleepcycle import ChatRequest, FunctionModel, ModelError, ScriptedModel
from sleepcycle.models import OpenAIBackend, ReplyError, RoleModel, parse_reply
from sleepcycle.models.grammar import schema_to_gbnf

SCHEMA = {
    "type": "object",
    "properties": {"fact": {"type": "string", "maxLength": 80}},
    "required": ["fact"],
    "additionalProperties": False,
}


class Fact(BaseModel):
    fact: str


def completion(content: str, **extra: Any) -> dict[str, Any]:
    return {
        "model": "served-model",
        "choices": [
            {"message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 11, "completion_tokens": 5},
        **extra,
    }


def backend_with(handler: Any, **options: Any) -> tuple[OpenAIBackend, list[float]]:
    slept: list[float] = []
    backend = OpenAIBackend(
        "http://engine.test/v1",
        "m",
        transport=httpx.MockTransport(handler),
        sleep=slept.append,
        **options,
    )
    return backend, slept


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (
            "json_schema",
            {
                "type": "json_schema",
                "json_schema": {"name": "reply", "schema": SCHEMA, "strict": True},
            },
        ),
        ("json_object", {"type": "json_object", "schema": SCHEMA}),
        ("none", None),
    ],
)
def test_structured_output_forms(mode: str, expected: dict[str, Any] | None) -> None:
    sent: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/chat/completions"
        sent.append(json.loads(request.content))
        return httpx.Response(200, json=completion('{"fact": "ok"}'))

    backend, _ = backend_with(handler, structured_output=mode)
    reply = backend.complete(
        ChatRequest([{"role": "user", "content": "hi"}], schema=SCHEMA, temperature=0.1, seed=5)
    )
    body = sent[0]
    assert body.get("response_format") == expected
    assert (body["model"], body["temperature"], body["seed"]) == ("m", 0.1, 5)
    assert (reply.text, reply.model, reply.tokens_in, reply.tokens_out) == (
        '{"fact": "ok"}',
        "served-model",
        11,
        5,
    )
    assert reply.ms >= 0


def test_retries_with_backoff_then_succeeds() -> None:
    answers = iter([503, 429, 200])

    def handler(request: httpx.Request) -> httpx.Response:
        status = next(answers)
        return httpx.Response(
            status, json=completion("fine") if status == 200 else {"error": "busy"}
        )

    backend, slept = backend_with(handler, retries=3, backoff=0.5)
    assert backend.complete(ChatRequest([{"role": "user", "content": "x"}])).text == "fine"
    assert slept == [0.5, 1.0]


def test_client_errors_are_not_retried() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(400, text="bad request: unknown field")

    backend, slept = backend_with(handler, retries=3)
    with pytest.raises(ModelError, match="answered 400: bad request"):
        backend.complete(ChatRequest([{"role": "user", "content": "x"}]))
    assert calls == 1 and slept == []


def test_unreachable_engine_gives_up_after_retries() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    backend, slept = backend_with(handler, retries=2)
    with pytest.raises(ModelError, match="cannot reach http://engine.test/v1"):
        backend.complete(ChatRequest([{"role": "user", "content": "x"}]))
    assert slept == [0.5, 1.0]


def test_a_reply_that_is_not_a_completion() -> None:
    backend, _ = backend_with(lambda request: httpx.Response(200, json={"nope": True}))
    with pytest.raises(ModelError, match="not a chat completion"):
        backend.complete(ChatRequest([{"role": "user", "content": "x"}]))


def test_invalid_replies_are_asked_for_again_with_the_error() -> None:
    fake = ScriptedModel(['{"fact": 3', '{"fact": "Maya lives in Lisbon."}'])
    role = RoleModel("dreamer", fake, temperature=1.0, max_tokens=100)
    seen: list[str | None] = []
    parsed = role.ask(
        role.request([{"role": "user", "content": "remember"}], SCHEMA),
        lambda text: parse_reply(text, Fact),
        retries=1,
        on_reply=lambda request, reply, error: seen.append(error),
    )
    assert parsed.fact == "Maya lives in Lisbon."
    assert seen[0] is not None and "not valid JSON" in seen[0] and seen[1] is None
    retry = fake.requests[1].messages
    assert retry[-1]["content"].startswith("That reply was invalid: the reply is not valid JSON")
    assert fake.requests[0].temperature == 1.0


def test_validation_errors_name_the_field() -> None:
    with pytest.raises(ReplyError, match="fact: Input should be a valid string"):
        parse_reply('{"fact": 3}', Fact)
    with pytest.raises(ReplyError, match="no JSON object"):
        parse_reply("I refuse", Fact)
    assert parse_reply('Sure! {"fact": "x"} Hope that helps.', Fact).fact == "x"


def test_fakes_are_scripted_and_say_when_they_run_out() -> None:
    scripted = ScriptedModel([{"a": 1}, "plain"])
    request = ChatRequest([{"role": "user", "content": "one two three"}])
    assert scripted.complete(request).text == '{"a": 1}'
    assert scripted.complete(request).text == "plain"
    with pytest.raises(ModelError, match="ran out of scripted replies after 2 calls"):
        scripted.complete(request)
    echo = FunctionModel(lambda req: {"words": req.messages[0]["content"].split()})
    reply = echo.complete(request)
    assert json.loads(reply.text) == {"words": ["one", "two", "three"]}
    assert reply.tokens_in == 3


def test_grammar_strings_cannot_hold_raw_control_characters() -> None:
    gbnf = schema_to_gbnf(SCHEMA, ["fact"])
    (char_rule,) = [line for line in gbnf.splitlines() if line.startswith("char ::=")]
    assert char_rule.startswith('char ::= [^"\\\\\\x7F\\x00-\\x1F]')
