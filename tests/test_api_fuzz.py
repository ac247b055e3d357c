"""A fuzz run of the HTTP API's OpenAPI description: generated requests, valid and not, to
every operation; none may get a server error (5xx) or a stack trace.

``SLEEPCYCLE_FUZZ_EXAMPLES`` sets the examples per operation (default 25)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from sleepcycle import MiniLMEmbedder
from sleepcycle.api import create_server
from sleepkit import NIGHT, Intent, dreamer, open_mind

EXAMPLES = int(os.environ.get("SLEEPCYCLE_FUZZ_EXAMPLES", "25"))


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory, embedder: MiniLMEmbedder) -> Iterator[Any]:
    """A store with episodes, memories, a night and a review item, behind the API; the
    models are the library's fakes, so a fuzzed ``POST .../sleeps`` sleeps in milliseconds."""
    home = tmp_path_factory.mktemp("fuzz") / "home"
    mind = open_mind(
        home,
        embedder,
        review={"add": "propose"},
        dreamer=dreamer(Intent("add", "Maya lives in Alfama, Lisbon.", sources=["Alfama"])),
    )
    mind.add("Maya has a grey cat called Pixel.")
    mind.ingest_messages(NIGHT)
    mind.think("Ask how the move went")
    mind.sleep()
    app = create_server(mind)
    yield schemathesis.openapi.from_asgi("/v1/openapi.json", app, headers={"Host": "127.0.0.1"})
    mind.close()


def check(case: schemathesis.Case) -> None:
    # Without api keys the server answers only loopback names.
    response = case.call_and_validate(base_url="http://127.0.0.1", checks=[not_a_server_error])
    assert "Traceback" not in response.text
    if response.status_code >= 400:
        error = response.json()["error"]
        assert error["kind"] and error["message"], response.text


def test_no_request_gets_a_server_error(api_schema: Any) -> None:
    """Every operation in turn (``schemathesis.pytest.from_fixture`` does not run on pytest
    9.2, so the operations are walked here); all failures are reported together."""
    failures: dict[str, str] = {}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 25
    for operation in operations:
        fuzz = settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )(given(case=operation.as_strategy())(check))
        try:
            fuzz()
        except Exception as exc:  # every operation runs; the failures are listed at the end
            failures[operation.label] = f"{type(exc).__name__}: {str(exc)[:2000]}"
    assert not failures, "\n\n".join(f"{k}: {v}" for k, v in failures.items())
