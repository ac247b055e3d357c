"""Where sleepcycle keeps its data, and the settings in ``<home>/config.toml``.

The home directory is, in order: the ``home`` argument (``--home``), ``$SLEEPCYCLE_HOME``, or
the per-user data directory (``~/.local/share/sleepcycle`` on Linux). Everything sleepcycle
writes goes under it: the database, caches, exports you do not direct elsewhere.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, ClassVar, Literal

import platformdirs
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    ValidationError,
    field_validator,
    model_validator,
)

from .errors import ConfigError, InputError

__all__ = [
    "AGENT_PATTERN",
    "DEFAULT_AGENT",
    "ROLES",
    "ApiKey",
    "ApiSettings",
    "Config",
    "DaemonSettings",
    "EmbeddingSettings",
    "EngineSettings",
    "FleetSettings",
    "LimitSettings",
    "ProxySettings",
    "RecallSettings",
    "ResidencySettings",
    "ReviewSettings",
    "RoleSettings",
    "SleepSettings",
    "StoreSettings",
    "TrainSettings",
    "VerifySettings",
    "check_agent",
    "load_config",
    "resolve_agent",
    "resolve_home",
    "resolve_store_url",
]

DEFAULT_AGENT = "default"
AGENT_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
AGENT_NAME = re.compile(AGENT_PATTERN, re.ASCII)
CONFIG_FILE = "config.toml"
DATABASE_FILE = "sleepcycle.db"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StoreSettings(_Section):
    """``[store]``: where memories are kept."""

    url: str = Field(
        "",
        description="the store's URL: sqlite:///abs/path.db or another registered store's "
        "scheme://...; empty = <home>/sleepcycle.db ($SLEEPCYCLE_STORE_URL overrides it)",
    )


class FleetSettings(_Section):
    """``[fleet]``: nights for many agents on durable DBOS queues (the ``fleet`` extra)."""

    system_database: str = Field(
        "",
        description="DBOS's system database (the queue): sqlite:///abs/path or postgresql://...; "
        "empty = the store's database when it is PostgreSQL (schema dbos), else "
        "<home>/fleet.sqlite",
    )
    concurrency: int = Field(1, ge=1, le=256, description="sleeps at once in one worker")
    model_concurrency: int = Field(
        4,
        ge=1,
        le=10_000,
        description="sleeps at once across all workers: the models' limit, since every "
        "worker's sleeps call the same configured model servers",
    )
    schedule: str = Field(
        "",
        description="cron (5 fields, UTC) at which workers enqueue every agent with "
        "unconsolidated episodes, e.g. '0 3 * * *'; empty = only `fleet enqueue`",
    )
    recover_after: float = Field(
        60.0,
        gt=0,
        le=86_400,
        description="seconds after its last heartbeat that a worker on another host counts "
        "as dead and its sleeps are recovered (on this host: as soon as its process is gone)",
    )


class EmbeddingSettings(_Section):
    """The embedding model used for recall."""

    model: str = Field(
        "all-MiniLM-L6-v2",
        min_length=1,
        description="a registered embedder (plugins: entry-point group sleepcycle.embedders), "
        "or a folder with an ONNX sentence-transformers model and its tokenizer.json",
    )
    threads: int = Field(0, ge=0, description="onnxruntime threads; 0 = all cores")
    batch_size: int = Field(32, ge=1, le=1024)

    @field_validator("model")
    @classmethod
    def _registered(cls, value: str) -> str:
        from .plugins import embedder_for  # noqa: PLC0415 - entry points, read on first use

        try:
            embedder_for(value)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return value


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
    ann_from: int = Field(
        200_000,
        ge=0,
        description="rows past which an HNSW graph (usearch, saved beside the store) gives "
        "the vector candidates; 0: never",
    )


class EngineSettings(_Section):
    """A model (``[models.NAME]``): what every engine shares. Each engine registered under the
    entry-point group ``sleepcycle.engines`` (``plugins.Engine``) extends it with its own
    fields, and ``engine`` says which class a table is read as."""

    engine: str = "llama"
    residency: Literal["auto", "embedded", "llama-router", "ollama", "vllm", "always"] = Field(
        "auto", description="how the model is loaded and unloaded; auto: embedded or always"
    )
    control_url: str | None = Field(
        None, description="the engine's control routes; default: base_url without /v1"
    )
    at_sleep: Literal["unload", "sleep", "keep"] = Field(
        "unload", description="what a day model does while the agent sleeps"
    )
    sleep_level: int = Field(1, ge=1, le=2, description="vllm: sleep level")
    memory_mb: int = Field(0, ge=0, description="memory it holds when loaded, for the budget")
    priority: int = Field(0, description="higher stays loaded longer when the budget is short")

    #: ``residency = "auto"`` means this for the engine (an in-process engine: embedded).
    auto_residency: ClassVar[str] = "always"

    @property
    def residency_kind(self) -> str:
        return self.auto_residency if self.residency == "auto" else self.residency

    def served_model(self) -> str | None:
        """The model name a server knows it by (None for an engine in this process)."""
        return None

    def base_url_of(self) -> str | None:
        """The server's base URL (None for an engine in this process)."""
        return None

    def target(self) -> str:
        """Where the model is, in a few words (``sleepcycle models``)."""
        return self.base_url_of() or self.engine


def _engine_settings(name: str, raw: Any) -> Any:
    """``raw`` (a ``[models.NAME]`` table) as its engine's settings class."""
    if not isinstance(raw, dict):
        return raw
    from .plugins import engine  # noqa: PLC0415 - the registry reads entry points on first use

    try:
        settings = engine(str(raw.get("engine", "llama"))).settings
    except ConfigError as exc:
        raise ValueError(f"models.{name}.engine: {exc}") from None
    try:
        return settings.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in (name, *first["loc"]))
        if first["type"] == "extra_forbidden":
            raise ValueError(
                f"unknown setting models.{where} for a {raw.get('engine', 'llama')} engine; see "
                "docs/config.md for the settings"
            ) from None
        detail = first["msg"].removeprefix("Value error, ")
        raise ValueError(f"models.{where}: {detail}") from None


def default_model() -> EngineSettings:
    """The default ``[models.default]``: the embedded engine with the bundled model."""
    from .plugins import engine  # noqa: PLC0415

    return engine("llama").settings()


class RoleSettings(_Section):
    """What a role (``[roles.NAME]``) runs on, and how hot."""

    model: str = Field("default", min_length=1, description="a name under [models]")
    temperature: float = Field(0.7, ge=0.0, le=2.0)
    max_tokens: int = Field(512, ge=16, le=32_768)


ROLES = ("foreground", "sub", "dreamer", "verifier", "reshaper")
_ROLE_DEFAULTS: dict[str, dict[str, Any]] = {
    "foreground": {"temperature": 0.7, "max_tokens": 512},
    "sub": {"temperature": 0.7, "max_tokens": 256},
    "dreamer": {"temperature": 1.0, "max_tokens": 700},  # runs hot
    "verifier": {"temperature": 0.0, "max_tokens": 200},  # runs cold
    "reshaper": {"temperature": 0.3, "max_tokens": 320},
}


class SleepSettings(_Section):
    """The sleep cycle."""

    max_episodes: int = Field(300, ge=1, description="episodes one sleep consolidates")
    cluster_size: int = Field(8, ge=1, le=64, description="episodes per topic cluster")
    cluster_similarity: float = Field(0.35, ge=-1.0, le=1.0, description="joins a cluster")
    related_memories: int = Field(6, ge=0, le=32, description="memories shown per cluster")
    max_operations: int = Field(5, ge=1, le=20, description="operations dreamt per cluster")
    reshape_rounds: int = Field(1, ge=0, le=10, description="rewrites before a rejection")
    dreamer: Literal["auto", "model", "draft", "both"] = Field(
        "auto",
        description="who proposes: the dreamer model, code drafts from what speakers say about "
        "themselves (draft), or both; auto: draft on the bundled model, model on any other",
    )
    draft_every: int = Field(
        3, ge=1, le=100, description="at most one drafted memory per this many episodes"
    )
    duplicate_similarity: float = Field(0.92, ge=0.0, le=1.0, description="cosine of a duplicate")
    evidence_similarity: float = Field(
        0.25, ge=-1.0, le=1.0, description="least cosine between a memory and its evidence"
    )
    evidence_similarity_high: float = Field(
        0.5,
        ge=-1.0,
        le=1.0,
        description="below this cosine a memory must also share evidence_overlap of its words",
    )
    evidence_overlap: float = Field(
        0.25, ge=0.0, le=1.0, description="share of a memory's content words its evidence holds"
    )
    persona_updates: int = Field(3, ge=0, le=20, description="persona changes proposed per sleep")
    persona_drift: float = Field(
        0.25, ge=0.0, le=1.0, description="share of persona lines one sleep may change"
    )
    reply_retries: int = Field(1, ge=0, le=5, description="asks again after an invalid reply")


class TrainSettings(_Section):
    """Learning in weights: a LoRA adapter on the foreground model, trained from memories
    (``sleepcycle train``, or a stage of every sleep when ``after_sleep``)."""

    after_sleep: bool = Field(False, description="train after every sleep that changed memory")
    base: str | None = Field(
        None,
        description="the weights to train: a GGUF file or a Hugging Face model directory; "
        "unset: the foreground model's GGUF",
    )
    pairs_per_memory: int = Field(4, ge=1, le=12, description="training questions per memory")
    probes_per_memory: int = Field(1, ge=1, le=4, description="held-out probe questions")
    max_memories: int = Field(200, ge=1, description="most recent active memories trained on")
    replay: float = Field(
        2.5, ge=0.0, le=4.0, description="general examples mixed in per memory example"
    )
    keep_weight: float = Field(
        1.0,
        ge=0.0,
        le=100.0,
        description="weight of the distillation loss that holds the base model's answers "
        "on the general examples",
    )
    epochs: int = Field(5, ge=1, le=50)
    learning_rate: float = Field(5e-4, gt=0.0, le=1.0)
    rank: int = Field(16, ge=1, le=256, description="LoRA rank")
    alpha: int = Field(32, ge=1, le=512, description="LoRA alpha")
    batch_size: int = Field(8, ge=1, le=256)
    threads: int = Field(0, ge=0, description="CPU threads for training; 0 = all cores")
    seed: int = 7
    min_gain: float = Field(
        0.1, ge=0.0, le=1.0, description="least rise in probe accuracy that keeps an adapter"
    )
    retention_tolerance: float = Field(
        0.1, ge=0.0, le=1.0, description="largest drop in retention accuracy that keeps it"
    )


class VerifySettings(_Section):
    """How the verifier model judges a proposal that passed the code checks."""

    judge: Literal["auto", "reply", "choice"] = Field(
        "auto",
        description="reply: the verifier writes a 0/1 score with reasons; choice: it answers "
        "Yes or No and is scored by its own token probabilities (llama engine only); auto: "
        "choice on the bundled model, reply on any other",
    )
    adapter: str = Field(
        "bundled",
        min_length=1,
        description="choice: the LoRA adapter applied to the verifier's model; bundled: the "
        "judge trained for the bundled model (tools/build_judge.py); none; or a GGUF path",
    )
    reject_above: float = Field(
        0.99,
        ge=0.0,
        le=1.0,
        description="choice: a proposal is rejected when the judge's probability of No is "
        "above this",
    )
    settled_similarity: float = Field(
        0.5,
        ge=-1.0,
        le=1.01,
        description="choice: a proposal at least this similar to its cited lines, which also "
        "hold settled_overlap of its words, is settled by the code checks and not judged "
        "(above 1: judge every proposal)",
    )
    settled_overlap: float = Field(
        0.3, ge=0.0, le=1.01, description="choice: see settled_similarity"
    )


class ResidencySettings(_Section):
    """Which models stay loaded: loading the night's models unloads lower-priority ones."""

    budget_mb: int = Field(0, ge=0, description="memory all loaded models may hold; 0 = no limit")
    warm_up: bool = Field(True, description="a one-token request to the foreground on wake")


ReviewMode = Literal["apply", "propose"]
# Which [review] setting governs each operation a sleep can propose.
_REVIEWED = {
    "add": "add",
    "insight": "add",
    "edit": "edit",
    "supersede": "edit",
    "link": "edit",
    "amend": "amend",
    "retract": "retract",
    "merge": "merge",
}


class ReviewSettings(_Section):
    """Per operation a sleep commits: ``apply`` it, or ``propose`` it for a person to review.

    By default what adds or refines memory is applied (the sleep's checks and verifier stand
    behind it, and rollback undoes a night), while retracting a memory and changing the persona
    wait for a person."""

    add: ReviewMode = "apply"
    edit: ReviewMode = "apply"
    amend: ReviewMode = "apply"
    retract: ReviewMode = "propose"
    merge: ReviewMode = "apply"
    persona: ReviewMode = "propose"

    def mode(self, op: str) -> ReviewMode:
        """``apply`` or ``propose`` for a sleep operation (parking and resolving thoughts
        always apply: they change no memory)."""
        category = _REVIEWED.get(op)
        mode: ReviewMode = getattr(self, category) if category else "apply"
        return mode


class ProxySettings(_Section):
    """The OpenAI-compatible chat proxy (``sleepcycle proxy``, ``sleepcycle daemon``)."""

    host: str = Field("127.0.0.1", description="address to listen on")
    port: int = Field(8787, ge=1, le=65535)
    memories: int = Field(6, ge=0, le=50, description="memories recalled for each request")
    context_tokens: int = Field(
        600, ge=0, description="tokens of persona and memories added to the system prompt"
    )
    session_header: str = Field(
        "X-Sleepcycle-Session", description="request header naming the session"
    )


class ApiKey(_Section):
    """One API key and the agents it may reach (``["*"]``: all)."""

    name: str = Field(min_length=1, description="who holds it, for logs")
    key: str | None = Field(None, min_length=16, description="the key itself")
    key_env: str | None = Field(None, description="or: the environment variable holding it")
    agents: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_source(self) -> ApiKey:
        if (self.key is None) == (self.key_env is None):
            raise ValueError(f"api key {self.name!r} needs exactly one of key and key_env")
        return self

    @field_validator("agents")
    @classmethod
    def _agent_names(cls, value: list[str]) -> list[str]:
        for name in value:
            if name != "*" and not AGENT_NAME.fullmatch(name):
                raise ValueError(
                    f"{name!r} is not an agent name (1 to 64 letters, digits, '.', '_', '-') "
                    "nor '*'"
                )
        return value

    def secret(self) -> str | None:
        return self.key if self.key is not None else os.environ.get(self.key_env or "")


class ApiSettings(_Section):
    """The HTTP API and web page (``sleepcycle serve``)."""

    host: str = Field("127.0.0.1", description="address to listen on")
    port: int = Field(8788, ge=1, le=65535)
    keys: list[ApiKey] = Field(
        default_factory=list, description="API keys; without any, only loopback is served"
    )


class DaemonSettings(_Section):
    """When ``sleepcycle daemon`` puts the agent to sleep."""

    schedule: str = Field("", description="cron expression, e.g. '0 3 * * *'; empty: off")
    idle_minutes: float = Field(0, ge=0, description="sleep after this long without chat; 0: off")
    pressure: int = Field(
        0, ge=0, description="sleep when new episodes plus open thoughts reach this; 0: off"
    )
    check_seconds: float = Field(30, gt=0, description="how often the triggers are checked")

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        if value.strip():
            from datetime import datetime  # noqa: PLC0415

            import cronsim  # noqa: PLC0415

            try:
                cronsim.CronSim(value, datetime.now())
            except cronsim.CronSimError as exc:
                raise ValueError(f"not a cron expression ({exc})") from None
        return value.strip()


class LimitSettings(_Section):
    """The largest input taken, per kind of input (see ``sleepcycle.limits``); past a limit the
    input is refused whole with an error naming the setting, and nothing is stored."""

    episode_chars: int = Field(
        100_000, ge=1_000, description="characters in one episode (a chat turn, a tool result)"
    )
    meta_bytes: int = Field(65_536, ge=1_024, description="an item's metadata, as JSON")
    meta_depth: int = Field(32, ge=2, le=1_000, description="nesting of metadata and messages")
    request_bytes: int = Field(
        8 * 1024 * 1024, ge=65_536, description="an HTTP request body (API, MCP, proxy)"
    )
    file_bytes: int = Field(
        256 * 1024 * 1024, ge=65_536, description="a file to ingest or a memory file to import"
    )


class Config(_Section):
    """Everything in ``config.toml``; every setting has a default."""

    user: str = Field("user", min_length=1, description="name recorded on manual changes")
    store: StoreSettings = StoreSettings()
    fleet: FleetSettings = FleetSettings()
    embedding: EmbeddingSettings = EmbeddingSettings()
    recall: RecallSettings = RecallSettings()
    models: dict[str, SerializeAsAny[EngineSettings]] = Field(
        default_factory=lambda: {"default": default_model()}
    )
    roles: dict[str, RoleSettings] = Field(
        default_factory=lambda: {r: RoleSettings(**d) for r, d in _ROLE_DEFAULTS.items()}
    )
    sleep: SleepSettings = SleepSettings()
    verify: VerifySettings = VerifySettings()
    train: TrainSettings = TrainSettings()
    residency: ResidencySettings = ResidencySettings()
    review: ReviewSettings = ReviewSettings()
    proxy: ProxySettings = ProxySettings()
    daemon: DaemonSettings = DaemonSettings()
    api: ApiSettings = ApiSettings()
    limits: LimitSettings = LimitSettings()

    @field_validator("roles", mode="before")
    @classmethod
    def _role_defaults(cls, value: Any) -> Any:
        """A role named in the file keeps the defaults of the settings it leaves out."""
        if not isinstance(value, dict):
            return value
        unknown = sorted(set(value) - set(ROLES))
        if unknown:
            raise ValueError(f"unknown role {unknown[0]!r}; roles are {', '.join(ROLES)}")
        merged: dict[str, Any] = {}
        for role, defaults in _ROLE_DEFAULTS.items():
            given = value.get(role, {})
            merged[role] = {**defaults, **given} if isinstance(given, dict) else given
        return merged

    @field_validator("models", mode="before")
    @classmethod
    def _engines(cls, value: Any) -> Any:
        """Each ``[models.NAME]`` read as the settings of the engine it names."""
        if not isinstance(value, dict):
            return value
        return {name: _engine_settings(str(name), raw) for name, raw in value.items()}

    @model_validator(mode="after")
    def _roles_name_models(self) -> Config:
        if "default" not in self.models and any(r.model == "default" for r in self.roles.values()):
            self.models["default"] = default_model()
        for role, settings in self.roles.items():
            if settings.model not in self.models:
                known = ", ".join(sorted(self.models))
                raise ValueError(
                    f"roles.{role} names model {settings.model!r}, which is not under [models] "
                    f"(known: {known})"
                )
        return self


def resolve_home(home: Path | str | None = None) -> Path:
    """The home directory: argument, then ``$SLEEPCYCLE_HOME``, then the user data dir."""
    if home is not None and str(home):
        return Path(home).expanduser()
    env = os.environ.get("SLEEPCYCLE_HOME")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir("sleepcycle", appauthor=False))


def resolve_store_url(home: Path, config: Config, url: str | None = None) -> str:
    """The store's URL: argument, then ``$SLEEPCYCLE_STORE_URL``, then ``store.url``, then the
    SQLite file under the home. A plain relative path is a SQLite file under the home."""
    for given in (url, os.environ.get("SLEEPCYCLE_STORE_URL"), config.store.url):
        if given:
            if "://" not in given and not Path(given).expanduser().is_absolute():
                return f"sqlite://{(home / given).resolve()}"
            return given
    return f"sqlite://{(home / DATABASE_FILE).resolve()}"


def check_agent(name: str) -> str:
    """``name`` if it is a valid agent name, else InputError. The one rule for agent names,
    wherever they come from (CLI, Python, HTTP, MCP, config): 1 to 64 ASCII letters, digits,
    ``.``, ``_`` and ``-``, starting with a letter or digit. Names appear in URLs and in paths
    under the home (adapters), so nothing else is allowed."""
    if not AGENT_NAME.fullmatch(name):
        raise InputError(
            f"invalid agent name {name!r}: use 1 to 64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (such as 'default' or 'maya-2')"
        )
    return name


def resolve_agent(agent: str | None = None) -> str:
    """The agent id: argument, then ``$SLEEPCYCLE_AGENT``, then ``default``; checked by
    :func:`check_agent`."""
    if agent is None or agent == "":
        agent = os.environ.get("SLEEPCYCLE_AGENT") or DEFAULT_AGENT
    return check_agent(agent)


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
            detail = first["msg"].removeprefix("Value error, ")
            nested = detail.startswith(("models.", "unknown setting"))  # says where itself
            message = f"{where}: {detail}" if where and not nested else detail
        raise ConfigError(f"{path}: {message}") from None
