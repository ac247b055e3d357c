"""Plugins: model engines and embedders, found through entry points (as simonw/llm finds its
plugins).

An engine is a name, a settings class (``[models.NAME]`` with ``engine = "<name>"``, a subclass
of ``config.EngineSettings``) and a factory that builds a ``models.Backend`` from them. An
embedder is a name and a factory of an ``embed.Embedder`` from ``[embedding]``. A package adds
one by naming it in its entry points::

    [project.entry-points."sleepcycle.engines"]
    myengine = "my_package.engine:ENGINE"     # a plugins.Engine

    [project.entry-points."sleepcycle.embedders"]
    my-embedder = "my_package.embed:EMBEDDER"  # a plugins.EmbedderPlugin

    [project.entry-points."sleepcycle.stores"]
    mydb = "my_package.store:STORE"            # a plugins.StoreKind, for mydb:// URLs

The built-ins register the same way in sleepcycle's own ``pyproject.toml``: the engines
``llama`` (embedded llama.cpp) and ``openai`` (OpenAI-compatible HTTP), the embedders
``all-MiniLM-L6-v2`` (bundled) and ``onnx`` (any sentence-transformers ONNX export, given by
its folder: ``embedding.model = "/path/to/folder"``), and the store ``sqlite``. A store is a URL
scheme and a function that opens a ``store.Store`` at such a URL (``store.url``). Entry points
are read once, on first use; :func:`reload` reads them again (after installing a plugin in a
running process, or in tests).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .entrypoints import load, reload
from .errors import ConfigError
from .store.registry import STORES, StoreKind, store_kind, stores

if TYPE_CHECKING:
    from .config import EmbeddingSettings, EngineSettings
    from .embed import Embedder
    from .models.base import Backend
    from .models.roles import AdapterBinding

__all__ = [
    "EMBEDDERS",
    "ENGINES",
    "STORES",
    "EmbedderPlugin",
    "Engine",
    "EngineBuild",
    "StoreKind",
    "embedder",
    "embedder_for",
    "embedders",
    "engine",
    "engines",
    "reload",
    "store_kind",
    "stores",
]

ENGINES = "sleepcycle.engines"
EMBEDDERS = "sleepcycle.embedders"


@dataclass(frozen=True, slots=True)
class EngineBuild:
    """What an engine's factory gets: the model's name and settings, the home (relative paths
    are under it), and the LoRA adapter to apply, if any."""

    name: str
    settings: EngineSettings
    home: Path
    adapter: AdapterBinding | None = None


@dataclass(frozen=True, slots=True)
class Engine:
    """A model engine: ``[models.NAME]`` tables with ``engine = name`` are read as
    ``settings`` and built into a backend by ``build``."""

    name: str
    settings: type[EngineSettings]
    build: Callable[[EngineBuild], Backend]


@dataclass(frozen=True, slots=True)
class EmbedderPlugin:
    """An embedder: ``build(settings, model, cache_dir)`` makes it, where ``model`` is what
    ``embedding.model`` says (its name, or a path for an embedder that takes one) and
    ``cache_dir`` a directory under the home it may write to. ``takes_path``: it is the one
    that ``embedding.model`` given as a path selects."""

    name: str
    build: Callable[[EmbeddingSettings, str, Path], Embedder]
    takes_path: bool = False


def engines() -> dict[str, Engine]:
    """Every registered engine, by name."""
    return load(ENGINES, Engine)


def embedders() -> dict[str, EmbedderPlugin]:
    """Every registered embedder, by name."""
    return load(EMBEDDERS, EmbedderPlugin)


def engine(name: str) -> Engine:
    known = engines()
    if name not in known:
        raise ConfigError(
            f"no engine {name!r}; registered: {', '.join(sorted(known))} (an engine comes from "
            f"a package's {ENGINES} entry point)"
        )
    return known[name]


def embedder(name: str) -> EmbedderPlugin:
    known = embedders()
    if name not in known:
        raise ConfigError(
            f"no embedder {name!r}; registered: {', '.join(sorted(known))} (or give a folder "
            "with an ONNX model and its tokenizer.json)"
        )
    return known[name]


def _is_path(model: str) -> bool:
    return "/" in model or "\\" in model or model.startswith(("~", "."))


def embedder_for(model: str) -> EmbedderPlugin:
    """The embedder that ``embedding.model`` names: a registered name, or a path, for the
    embedder that takes one."""
    known = embedders()
    if model in known:
        return known[model]
    if _is_path(model):
        for plugin in known.values():
            if plugin.takes_path:
                return plugin
    return embedder(model)
