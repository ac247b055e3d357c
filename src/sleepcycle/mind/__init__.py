"""``Mind``: one agent's memory, the main entry point of the Python API.

    import sleepcycle

    with sleepcycle.open(agent="maya") as mind:
        mind.record("user", "I moved to Lisbon last week.")
        mind.think("Ask how the new job is going", kind="parked")
        mind.add("Maya lives in Lisbon.", kind="fact")
        for hit in mind.recall("where does Maya live?").hits:
            print(hit.score, hit.text)

Writes go through the store's single writer, one transaction per call. Recording a turn never
waits on the embedding model: vectors are computed in batches by ``embed_pending`` (which
``recall`` calls for a small backlog, and the CLI's ``ingest`` calls after writing).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..config import Config, load_config, resolve_agent, resolve_home, resolve_store_url
from ..embed import Embedder
from ..models import Backend, Models
from ..plugins import embedder_for
from ..records import Author, ThoughtStatus
from ..store import Store, shown_url
from .awake import Awake
from .memories import Memories
from .nights import Nights
from .search import Search
from .weights import Weights

__all__ = ["Mind", "open"]


def open(
    home: Path | str | None = None,
    agent: str | None = None,
    *,
    embedder: Embedder | None = None,
    config: Config | None = None,
    backends: Mapping[str, Backend] | None = None,
    store: str | None = None,
) -> Mind:
    """Open (creating if needed) the store under ``home`` for ``agent``.

    ``backends`` puts a backend in place of a role's configured model (``{"dreamer": ...}``),
    for example the library's fakes in tests. ``store`` is the store's URL
    (``postgresql://user@host/db``), ahead of ``$SLEEPCYCLE_STORE_URL`` and ``store.url``."""
    root = resolve_home(home)
    settings = config or load_config(root)
    opened = Store.open(
        resolve_store_url(root, settings, store),
        exact_limit=settings.recall.exact_limit,
        rerank=settings.recall.rerank,
        ann_from=settings.recall.ann_from,
    )
    model = embedder or embedder_for(settings.embedding.model).build(
        settings.embedding, settings.embedding.model, root / "cache"
    )
    models = Models(settings, root, backends=backends)
    return Mind(opened, resolve_agent(agent), settings, root, model, models)


class Mind(Awake, Memories, Search, Nights, Weights):
    """One agent's episodes, thoughts, memories, persona and sleeps."""

    def __init__(
        self,
        store: Store,
        agent: str,
        config: Config,
        home: Path,
        embedder: Embedder,
        models: Models | None = None,
    ):
        self.store = store
        self.agent = agent
        self.config = config
        self.home = home
        self.embedder = embedder
        self.models = models or Models(config, home)
        self.author = Author.user(config.user)
        self.models = self.models.view(self.adapter_binding())
        if store.setting("embedding_model") != embedder.model_id:
            with store.write() as tx:
                tx.embeddings.requeue_for(embedder.model_id)
                tx.set_setting("embedding_model", embedder.model_id)

    def __enter__(self) -> Mind:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.models.close()
        self.store.close()

    def for_agent(self, agent: str) -> Mind:
        """The same store and models, scoped to another agent."""
        return Mind(
            self.store, resolve_agent(agent), self.config, self.home, self.embedder, self.models
        )

    # overview ------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Counts for this agent: episodes, thoughts, memories, pending vectors, and an
        unfinished sleep waiting to be resumed."""
        first, last = self.store.episodes.time_range(self.agent)
        persona = self.persona()
        gap = self.interrupted()
        return {
            "agent": self.agent,
            "home": str(self.home),
            "store": shown_url(self.store.url),
            "episodes": self.store.episodes.count(self.agent),
            "unconsolidated": self.store.episodes.count(self.agent, unconsolidated=True),
            "first_episode": first.isoformat() if first else None,
            "last_episode": last.isoformat() if last else None,
            "thoughts_open": self.store.thoughts.count(self.agent, status=ThoughtStatus.OPEN),
            "memories": self.store.memories.counts(self.agent),
            "pending_embeddings": self.pending_embeddings(),
            "persona_version": persona.version if persona else None,
            "interrupted": gap.summary if gap else None,
        }
