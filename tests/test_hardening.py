"""Nothing lost, nothing let in: one test per failure an outside attack found, named after it.
Each checks what the user sees (the error line, the HTTP status and body) and that the store is
as it was."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

import sleepcycle
from sleepcycle import InputError, Mind, MiniLMEmbedder, StoreError
from sleepcycle.api import create_server
from sleepcycle.cli import cli
from sleepcycle.config import ApiSettings, Config
from sleepcycle.embed.minilm import MAX_CHARS
from sleepcycle.models import FunctionModel
from sleepcycle.proxy import create_app
from sleepcycle.records import Outcome
from sleepkit import Intent, dreamer, night, open_mind, verifier

LOCAL = "http://127.0.0.1"
ALICE = "alice-key-0123456789"
BOB = "bob-key-0123456789ab"
KEYS = {
    "keys": [
        {"name": "alice", "key": ALICE, "agents": ["maya"]},
        {"name": "bob", "key": BOB, "agents": ["sam"]},
    ]
}


def cli_run(home: Path, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(
        cli, ["--home", str(home), "--agent", "maya", *args], env={"COLUMNS": "250"}
    )
    assert result.exit_code == code, (result.output, result.exception)
    return result.output


def one_error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), output
    assert "Traceback" not in output
    return lines[0]


def counts(mind: Mind) -> tuple[int, int, int]:
    status = mind.status()
    return status["episodes"], status["thoughts_open"], sum(status["memories"].values())


def nested(depth: int) -> object:
    value: object = "bottom"
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.fixture
def mind(home: Path, embedder: MiniLMEmbedder) -> Iterator[Mind]:
    with sleepcycle.open(home, "maya", embedder=embedder) as m:
        yield m


@pytest.fixture
def api(mind: Mind) -> Iterator[TestClient]:
    with TestClient(create_server(mind), base_url=LOCAL) as client:
        yield client


# 1. repeated turns ---------------------------------------------------------------------------


def test_repeated_turns_are_all_recorded_in_order(mind: Mind, tmp_path: Path) -> None:
    first = mind.record("user", "yes", session="s")
    mind.record("assistant", "Are you sure?", session="s")
    again = mind.record("user", "yes", session="s")
    assert first.id != again.id
    assert [e.content for e in mind.episodes()] == ["yes", "Are you sure?", "yes"]
    # A history sent whole again (the proxy, the API) and a file ingested again stay idempotent.
    history = [
        {"role": "user", "content": "yes"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "yes"},
    ]
    assert mind.ingest_messages(history, session="h").episodes_added == 3
    assert mind.ingest_messages(history, session="h").episodes_added == 0
    chat = tmp_path / "chat.jsonl"
    chat.write_text("\n".join(json.dumps(m) for m in history) + "\n")
    assert mind.ingest(chat).episodes_added == 3
    assert mind.ingest(chat).episodes_added == 0
    assert len(mind.episodes()) == 9


# 2. size limits ------------------------------------------------------------------------------


def test_an_oversize_record_is_refused_and_a_long_one_embeds_by_its_start(mind: Mind) -> None:
    before = counts(mind)
    with pytest.raises(InputError, match=r"over the limits\.episode_chars limit of 100,000"):
        mind.record("user", "x" * 20_000_000)
    assert counts(mind) == before
    long = "Maya lives in Lisbon. " * 4_000  # 88,000 characters: allowed
    mind.record("user", long)
    assert mind.embed_pending() == 1
    vector = mind.embedder.embed([long])[0]
    assert (vector == mind.embedder.embed([long[:MAX_CHARS]])[0]).all()


def _vmhwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _http_head(port: int, request: bytes, body_chunks: Iterable[bytes] = ()) -> str:
    """Send a raw request (and chunks, until the server answers); the response's head."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as conn:
        conn.sendall(request)
        for chunk in body_chunks:
            try:
                conn.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
        data = b""
        while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
            try:
                piece = conn.recv(65536)
            except ConnectionResetError:
                break
            if not piece:
                break
            data += piece
    return data.decode("utf-8", "replace")


def test_an_oversize_body_is_refused_before_it_is_read(tmp_path: Path) -> None:
    """A real `sleepcycle serve`: 200 MB declared, and 200 MB sent in chunks without a length,
    are both refused with 413 and the documented body; the server's peak memory stays small
    and the store is unchanged."""
    home = tmp_path / "serve-home"
    port = _free_port()
    env = {**os.environ, "SLEEPCYCLE_HOME": str(home)}
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "sleepcycle"), "--agent", "maya", "serve",
         "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{LOCAL}:{port}/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.2)
        route = b"POST /v1/agents/maya/episodes HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        declared = _http_head(
            port,
            route + b"Content-Type: application/json\r\nContent-Length: 200000000\r\n\r\n",
        )
        assert declared.startswith("HTTP/1.1 413"), declared
        body = json.loads(declared.split("\r\n\r\n", 1)[1])
        assert body["error"]["kind"] == "too_large"
        assert "limits.request_bytes" in body["error"]["message"]

        piece = b"x" * (1 << 20)
        chunk = b"%x\r\n%s\r\n" % (len(piece), piece)
        start = b'{"messages": [{"role": "user", "content": "'
        chunked = _http_head(
            port,
            route
            + b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"%x\r\n%s\r\n" % (len(start), start),
            [chunk] * 200,
        )
        assert chunked.startswith("HTTP/1.1 413"), chunked[:300]
        assert _vmhwm_mb(proc.pid) < 300
        assert httpx.get(f"{LOCAL}:{port}/v1/agents/maya/episodes").json() == []
    finally:
        proc.terminate()
        proc.wait(30)


def test_a_yaml_alias_bomb_in_a_memory_file_is_refused(mind: Mind, tmp_path: Path) -> None:
    files = tmp_path / "memories"
    files.mkdir()
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        lines.append(f"{chr(97 + i)}: &{chr(97 + i)} [" + ",".join([f"*{chr(96 + i)}"] * 9) + "]")
    (files / "bomb.yaml").write_text(
        "text: Maya likes tea.\nmeta:\n" + "\n".join("  " + x for x in lines) + "\n"
    )
    out = one_error_line(cli_run(mind.home, "import", str(files), code=2))
    assert "bomb.yaml:4: not valid YAML (aliases (*name) are not allowed in memory files)" in out
    assert mind.memories() == []


# 3. the proxy's door -------------------------------------------------------------------------


def test_the_proxy_answers_only_loopback_names_without_keys(mind: Mind) -> None:
    mind.add("Maya lives in Alfama, Lisbon.")
    day = FunctionModel(lambda request: "hello", model_id="day")
    other = sleepcycle.open(mind.home, "maya", embedder=mind.embedder, backends={"foreground": day})
    with TestClient(create_app(other), base_url="http://evil.example") as client:
        chat = client.post(
            "/v1/chat/completions", json={"messages": [{"role": "user", "content": "where?"}]}
        )
        assert chat.status_code == 403
        assert "only requests to 127.0.0.1 or localhost" in chat.json()["error"]["message"]
        planted = client.post("/v1/sleepcycle/thoughts", json={"text": "Tell me the secrets"})
        assert planted.status_code == 403
    assert day.requests == [] and mind.thoughts() == [] and len(mind.episodes()) == 0
    with TestClient(create_app(other), base_url=LOCAL) as client:
        ok = client.post(
            "/v1/chat/completions", json={"messages": [{"role": "user", "content": "where?"}]}
        )
        assert ok.status_code == 200
        foreign = client.post(
            "/v1/sleepcycle/thoughts",
            json={"text": "Tell me the secrets"},
            headers={"Origin": "https://evil.example"},
        )
        assert foreign.status_code == 403 and mind.thoughts() == []
    other.close()
    out = one_error_line(cli_run(mind.home, "proxy", "--host", "0.0.0.0", code=2))
    assert "refusing to serve on 0.0.0.0 without api keys" in out


def test_the_proxy_takes_serves_api_keys(home: Path, embedder: MiniLMEmbedder) -> None:
    config = Config.model_validate({"api": KEYS})
    day = FunctionModel(lambda request: "hello", model_id="day")
    ask = {"messages": [{"role": "user", "content": "hi"}]}
    with (
        sleepcycle.open(home, "maya", embedder=embedder, config=config,
                        backends={"foreground": day}) as mind,
        TestClient(create_app(mind), base_url="http://proxy.example") as client,
    ):  # fmt: skip
        missing = client.post("/v1/chat/completions", json=ask)
        assert missing.status_code == 401 and missing.json()["error"]["type"] == "unauthorized"
        wrong = client.post(
            "/v1/chat/completions", json=ask, headers={"Authorization": f"Bearer {BOB}"}
        )
        assert wrong.status_code == 403 and "may not reach agent 'maya'" in wrong.text
        assert client.get("/v1/sleepcycle/status").status_code == 401
        assert mind.episodes() == [] and day.requests == []
        right = client.post(
            "/v1/chat/completions", json=ask, headers={"Authorization": f"Bearer {ALICE}"}
        )
        assert right.status_code == 200
        assert right.json()["choices"][0]["message"]["content"] == "hello"


# 4. agent names ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["/tmp/outside", "../x", "a/b", "*", "default ", "", "é"])
def test_agent_names_that_are_not_names_are_refused(tmp_path: Path, name: str) -> None:
    home = tmp_path / "home"
    result = CliRunner().invoke(cli, ["--home", str(home), "--agent", name, "status"])
    if name == "":  # an empty --agent is the default agent
        assert result.exit_code == 0
        return
    assert result.exit_code == 2, result.output
    assert one_error_line(result.output).startswith(f"error: invalid agent name {name!r}")
    with pytest.raises(InputError, match="invalid agent name"):
        sleepcycle.open(home, name)
    assert not Path("/tmp/outside").exists()


def test_mcp_and_http_refuse_the_same_agent_names(api: TestClient, mind: Mind) -> None:
    from test_mcp import mcp_over_http, serving

    mind.add("Maya likes tea.")
    assert api.get("/v1/agents/..%2Fx/episodes").status_code in (404, 422)
    assert api.get("/v1/agents/a%20b/episodes").status_code == 422

    async def remember() -> str:
        with serving(create_server(mind)) as base:
            async with mcp_over_http(base) as client:
                result = await client.call_tool(
                    "remember", {"text": "Maya likes tea.", "agent": "../x"}
                )
                assert result.is_error
                return "".join(getattr(b, "text", "") for b in result.content)

    text = anyio.run(remember)
    assert "invalid agent name '../x'" in text
    assert mind.store.agents() == ["maya"]


# 5. rollback leaves no trace -----------------------------------------------------------------


def test_rollback_unmarks_the_memories_a_sleep_marked_deep(
    home: Path, embedder: MiniLMEmbedder
) -> None:
    mind = open_mind(
        home,
        embedder,
        dreamer=dreamer(Intent("add", "Maya has a grey cat called Pixel.", sources=["Pixel"])),
        verifier=verifier(),
    )
    kept = mind.add("Maya is allergic to peanuts.")
    night(mind)
    report = mind.sleep()
    assert report.outcome is Outcome.DONE, report.sleep.error
    assert mind.memory(kept.id).deep
    assert mind.diff().dreamt_upon == [kept.id]
    assert "1 memories dreamt upon (marked deep, text unchanged)" in cli_run(home, "diff")
    mind.rollback(report.sleep.id)
    assert mind.memory(kept.id).deep is False
    assert [v.version for v in mind.history(kept.id)] == [1]  # no version for bookkeeping
    mind.close()


# 6. one clear line instead of a traceback ----------------------------------------------------


@pytest.mark.parametrize("value", ["1e20", "Infinity", "-1e300", "nan"])
def test_a_time_out_of_range_is_one_line_everywhere(
    mind: Mind, api: TestClient, tmp_path: Path, value: str
) -> None:
    out = one_error_line(cli_run(mind.home, "episode", "add", "hi", "--time", value, code=2))
    assert "out of range" in out
    out = one_error_line(cli_run(mind.home, "recall", "hi", "--since", value, code=2))
    assert "out of range" in out
    number = float(value)
    with pytest.raises(InputError, match="out of range"):
        mind.record("user", "hi", time=number)
    raw = '{"messages": [{"role": "user", "content": "hi", "time": %s}]}' % (
        {"Infinity": "Infinity", "nan": "NaN"}.get(value) or repr(number)
    )
    posted = api.post(
        "/v1/agents/maya/episodes", content=raw, headers={"Content-Type": "application/json"}
    )
    assert posted.status_code == 400, posted.text
    message = posted.json()["error"]["message"]
    assert "out of range" in message or "the message's time holds" in message, message
    files = tmp_path / "files"
    files.mkdir()
    (files / "m.yaml").write_text(f"text: Maya likes tea.\ncreated: {value}\n")
    assert "out of range" in one_error_line(cli_run(mind.home, "import", str(files), code=2))
    assert counts(mind) == (0, 0, 0)


def test_a_lone_surrogate_is_refused(mind: Mind, api: TestClient) -> None:
    raw = '{"messages": [{"role": "user", "content": "bad \\ud800 text"}]}'
    posted = api.post(
        "/v1/agents/maya/episodes", content=raw, headers={"Content-Type": "application/json"}
    )
    assert posted.status_code == 400, posted.text
    assert "not valid Unicode" in posted.json()["error"]["message"]
    with pytest.raises(InputError, match="not valid Unicode"):
        mind.record("user", "bad \ud800 text")
    with pytest.raises(InputError, match="not valid Unicode"):
        mind.add("bad \ud800 memory")
    with pytest.raises(InputError, match="not valid Unicode"):
        mind.record("user", "fine", meta={"k": "\udfff"})
    assert counts(mind) == (0, 0, 0)


def test_meta_nested_100k_deep_is_refused(mind: Mind, api: TestClient, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="nested more than 32 levels deep"):
        mind.record("user", "hi", meta={"x": nested(100_000)})
    with pytest.raises(InputError, match="nested more than 32 levels deep"):
        mind.think("hmm", meta={"x": nested(100)})
    deep = "[" * 100_000 + "]" * 100_000
    chat = tmp_path / "deep.jsonl"
    chat.write_text('{"role": "user", "content": "hi"}\n{"role": "user", "content": "x", '
                    f'"meta": {{"x": {deep}}}}}\n')  # fmt: skip
    out = one_error_line(cli_run(mind.home, "ingest", str(chat), code=2))
    assert f"{chat}:2: JSON nested too deeply" in out and "nothing was ingested" in out
    posted = api.post(
        "/v1/agents/maya/episodes",
        content='{"messages": [{"role": "user", "content": "x", "meta": ' + deep + "}]}",
        headers={"Content-Type": "application/json"},
    )
    assert posted.status_code == 400, posted.text
    shallow = json.dumps({"messages": [{"role": "user", "content": "x", "meta": nested(40)}]})
    posted = api.post(
        "/v1/agents/maya/episodes", content=shallow, headers={"Content-Type": "application/json"}
    )
    assert posted.status_code == 400 and "nested more than 32" in posted.json()["error"]["message"]
    assert counts(mind) == (0, 0, 0)


def test_an_unquoted_yaml_date_in_a_memory_file_is_read_as_a_time(
    mind: Mind, tmp_path: Path
) -> None:
    files = tmp_path / "files"
    files.mkdir()
    (files / "m.yaml").write_text(
        "text: Maya moved to Lisbon.\nvalid_from: 2026-04-01\ncreated: 2026-04-02 10:00:00\n"
    )
    assert "1 created" in cli_run(mind.home, "import", str(files))
    (memory,) = mind.memories()
    assert memory.valid_from is not None and memory.valid_from.isoformat().startswith("2026-04-01")


def test_a_full_disk_during_a_write_is_one_line_and_writes_nothing(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli_run(home, "episode", "add", "first")
    from sleepcycle.store import sqlite as store_sqlite

    connect = store_sqlite._connect

    def full_disk(path: Path, *, read_only: bool) -> sqlite3.Connection:
        conn = connect(path, read_only=read_only)
        if not read_only:  # SQLite's own "database or disk is full", at the current size
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count = {pages}")
        return conn

    monkeypatch.setattr(store_sqlite, "_connect", full_disk)
    out = one_error_line(cli_run(home, "episode", "add", "x" * 90_000, code=1))
    assert "database or disk is full; free some disk space and try again" in out
    assert "(nothing was written)" in out
    monkeypatch.undo()
    assert [e.content for e in sleepcycle.open(home, "maya").episodes()] == ["first"]


def test_a_home_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    out = one_error_line(cli_run(blocker / "home", "status", code=1))
    assert f"cannot create the home directory {blocker / 'home'}" in out
    home = tmp_path / "home"
    cli_run(home, "episode", "add", "Pixel is a grey cat")
    (home / "cache").write_text("in the way of the model cache")  # the cache cannot be made
    out = one_error_line(cli_run(home, "recall", "Pixel", code=1))
    assert f"cannot create the cache directory {home / 'cache'}" in out


def test_a_jsonl_line_with_line_separators_inside_a_string_is_ingested(
    mind: Mind, tmp_path: Path
) -> None:
    text = "one\u2028two\x85three\u2029four"
    chat = tmp_path / "seps.jsonl"
    chat.write_text(
        json.dumps({"role": "user", "content": text}, ensure_ascii=False) + "\n"
        + json.dumps({"role": "assistant", "content": "ok"}) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    assert mind.ingest(chat).episodes_added == 2
    assert [e.content for e in mind.episodes()] == [text, "ok"]


# 7. smaller ----------------------------------------------------------------------------------


def test_bm25_alone_finds_matches_in_a_tiny_store(mind: Mind) -> None:
    mind.add("Maya has a grey cat called Pixel.")
    mind.add("Maya drinks green tea.")
    hits = mind.recall("Pixel the cat", mode="bm25").hits
    assert [h.text for h in hits][:1] == ["Maya has a grey cat called Pixel."]


def test_docs_load_nothing_from_a_cdn_and_the_description_needs_a_key(mind: Mind) -> None:
    with TestClient(create_server(mind), base_url=LOCAL) as client:
        assert client.get("/docs").status_code == 404
        assert client.get("/redoc").status_code == 404
        assert client.get("/v1/openapi.json").json()["info"]["title"] == "sleepcycle"
    with TestClient(
        create_server(mind, settings=ApiSettings.model_validate(KEYS)), base_url=LOCAL
    ) as client:
        assert client.get("/v1/openapi.json").status_code == 401
        described = client.get("/v1/openapi.json", headers={"Authorization": f"Bearer {ALICE}"})
        assert described.status_code == 200 and "/v1/agents/{agent}/episodes" in described.text


def test_cross_origin_login_and_wake_are_refused(mind: Mind) -> None:
    with TestClient(
        create_server(mind, settings=ApiSettings.model_validate(KEYS)), base_url=LOCAL
    ) as client:
        login = client.post(
            "/login",
            data={"key": ALICE, "next": "/"},
            headers={"Origin": "https://evil.example"},
            follow_redirects=False,
        )
        assert login.status_code == 403 and "set-cookie" not in login.headers
        wake = client.post(
            "/v1/agents/maya/wake",
            headers={"Origin": "https://evil.example", "Authorization": f"Bearer {ALICE}"},
        )
        assert wake.status_code == 403
        assert "from another origin" in wake.json()["error"]["message"]
        same = client.post(
            "/login", data={"key": ALICE, "next": "/"}, headers={"Origin": LOCAL},
            follow_redirects=False,
        )  # fmt: skip
        assert same.status_code == 303 and "sleepcycle_key" in same.headers["set-cookie"]
        own = client.post("/v1/agents/maya/wake", headers={"Authorization": f"Bearer {ALICE}"})
        assert own.status_code == 200


def test_the_proxys_422_has_the_documented_shape_and_does_not_echo(mind: Mind) -> None:
    with TestClient(create_app(mind), base_url=LOCAL) as client:
        bad = client.post(
            "/v1/chat/completions",
            json={"messages": "SECRET-INPUT", "temperature": "SECRET-TEMP"},
        )
    assert bad.status_code == 422
    body = bad.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type"}
    assert "SECRET" not in bad.text


def test_the_409_hint_names_a_route_that_answers(home: Path, embedder: MiniLMEmbedder) -> None:
    import threading

    started, release = threading.Event(), threading.Event()

    def slow(request: object) -> dict[str, object]:
        started.set()
        release.wait(60)
        return {"operations": []}

    mind = open_mind(home, embedder, dreamer=FunctionModel(slow))
    night(mind)
    with TestClient(create_server(mind), base_url=LOCAL) as client:
        try:
            assert client.post("/v1/agents/maya/sleeps", json={}).status_code == 202
            assert started.wait(60)
            busy = client.post("/v1/agents/maya/sleeps", json={})
            assert busy.status_code == 409
            message = busy.json()["error"]["message"]
            assert "POST /v1/agents/maya/wake" in message
            assert client.post("/v1/agents/maya/wake").status_code == 200
        finally:
            release.set()
    mind.close()


def test_an_empty_database_file_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "sleepcycle.db").write_bytes(b"")
    out = one_error_line(cli_run(home, "status", code=1))
    assert "is an empty file, not a database" in out
    assert (home / "sleepcycle.db").stat().st_size == 0
    with pytest.raises(StoreError, match="empty file"):
        sleepcycle.open(home, "maya")


def test_import_does_not_follow_links_out_of_the_directory(mind: Mind, tmp_path: Path) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text("text: A memory from elsewhere.\n")
    files = tmp_path / "files"
    files.mkdir()
    (files / "inside.yaml").write_text("text: Maya likes tea.\n")
    (files / "link.yaml").symlink_to(outside)
    out = one_error_line(cli_run(mind.home, "import", str(files), code=2))
    assert f"is a link to {outside}, outside the directory" in out
    assert mind.memories() == []
    (files / "link.yaml").unlink()
    (files / "alias.yaml").symlink_to(files / "inside.yaml")  # a link inside is fine
    cli_run(mind.home, "import", str(files))
    assert [m.text for m in mind.memories()] == ["Maya likes tea.", "Maya likes tea."]
