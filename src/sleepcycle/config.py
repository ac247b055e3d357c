"""Where sleepcycle keeps its data, and the settings in ``<home>/config.toml``.

The home directory is, in order: the ``home`` argument (``--home``), ``$SLEEPCYCLE_HOME``, or
the per-user data directory (``~/.local/share/sleepcycle`` on Linux). Everything sleepcycle
writes goes under it: the database, caches, exports you do not direct elsewhere.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ConfigError

__all__ = [
    "DEFAULT_AGENT",
    "Config",
    "EmbeddingSettings",
    "RecallSettings",
    "load_config",
    "resolve_agent",
    "resolve_home",
]

DEFAULT_AGENT = "default"
CONFIG_FILE = "config.toml"
DATABASE_FILE = "sleepcycle.db"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EmbeddingSettings(_Section):
    """The embedding model used for recall."""

    model: Literal["all-MiniLM-L6-v2"] = "all-MiniLM-L6-v2"
    threads: int = Field(0, ge=0, description="onnxruntime threads; 0 = all cores")
    batch_size: int = Field(32, ge=1, le=1024)


class RecallSettings(_Section):
    """Hybrid recall: BM25 and vectors, min-max normalised and combined."""

    k: int = Field(10, ge=1, le=1000, description="results returned by default")
    candidates: int = Field(50, ge=1, le=5000, description="taken from each ranking to fuse")
    text_weight: float = Field(
        0.7, ge=0.0, le=1.0, description="weight of BM25 against vectors in hybrid recall"
    )
    embed_on_query: int = Field(
        256, ge=0, description="pending items embedded before a recall; more are left to `embed`"
    )
    exact_limit: int = Field(
        20_000, ge=0, description="rows searched exactly; past it, sign-bit prefilter + rerank"
    )
    rerank: int = Field(1_000, ge=10, description="candidates rescored exactly past exact_limit")


class Config(_Section):
    """Everything in ``config.toml``; every setting has a default."""

    user: str = Field("user", min_length=1, description="name recorded on manual changes")
    embedding: EmbeddingSettings = EmbeddingSettings()
    recall: RecallSettings = RecallSettings()


def resolve_home(home: Path | str | None = None) -> Path:
    """The home directory: argument, then ``$SLEEPCYCLE_HOME``, then the user data dir."""
    if home is not None and str(home):
        return Path(home).expanduser()
    env = os.environ.get("SLEEPCYCLE_HOME")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir("sleepcycle", appauthor=False))


def resolve_agent(agent: str | None = None) -> str:
    """The agent id: argument, then ``$SLEEPCYCLE_AGENT``, then ``default``."""
    value = agent or os.environ.get("SLEEPCYCLE_AGENT") or DEFAULT_AGENT
    if not value.strip() or len(value) > 200 or any(c in value for c in "\n\r\t"):
        raise ConfigError(f"invalid agent id {value!r}; use a short name such as 'default'")
    return value


def load_config(home: Path) -> Config:
    """Read ``<home>/config.toml``; defaults when it does not exist."""
    path = home / CONFIG_FILE
    if not path.exists():
        return Config()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}; fix the TOML syntax") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read it ({exc})") from None
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        if first["type"] == "extra_forbidden":
            message = f"unknown setting {where}; see docs/config.md for the settings"
        else:
            message = f"{where}: {first['msg']}"
        raise ConfigError(f"{path}: {message}") from None
