"""Learning in weights: training LoRA adapters from memories, and which one is served."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from ..records import Activation, Adapter
from ..residency import AdapterBinding
from ..train import ADAPTER_GGUF, ADAPTER_PEFT
from .base import MindBase

if TYPE_CHECKING:
    from ..models import Models
    from ..train.session import TrainResult
    from . import Mind

__all__ = ["Weights"]


class Weights(MindBase):
    def _mind(self) -> Mind:
        return cast("Mind", self)

    def train(
        self,
        *,
        progress: Callable[[str], None] | None = None,
        stop: threading.Event | None = None,
    ) -> TrainResult:
        """Train a LoRA adapter on the foreground model from verified memories and the
        persona; keep and activate it only if the probes show it learned without forgetting.
        Needs the ``train`` extra."""
        from ..train.session import train  # noqa: PLC0415 - heavy, and the train extra

        result = train(self._mind(), progress=progress, stop=stop)
        self.refresh_adapter()
        return result

    def adapters(self) -> list[Adapter]:
        """This agent's adapters, newest first."""
        return self.store.adapters.find(self.agent)

    def adapter(self, ref: str) -> Adapter:
        """An adapter by id, id prefix or version (``3`` or ``v3``)."""
        return self.store.adapters.get(self.agent, self.store.adapters.resolve(self.agent, ref))

    def active_adapter(self) -> Adapter | None:
        current = self.store.adapters.current(self.agent)
        if current is None or current.adapter_id is None:
            return None
        return self.store.adapters.get(self.agent, current.adapter_id)

    def adapter_binding(self) -> AdapterBinding | None:
        """Where the active adapter's files are (None: the base model alone)."""
        active = self.active_adapter()
        if active is None:
            return None
        root = self.home / active.path
        return AdapterBinding(active.id, active.version, root / ADAPTER_GGUF, root / ADAPTER_PEFT)

    def adapter_models(self) -> Models | None:
        """Models serving the adapter active in the store now (another process may have
        trained or activated one), or None when ``self.models`` already serve it. They share
        this mind's loaded backends; nothing changes in place."""
        binding = self.adapter_binding()
        if binding == self.models.adapter:
            return None
        return self.models.view(binding)

    def refresh_adapter(self) -> bool:
        """Serve the adapter active in the store from now on; whether it changed. The
        previous adapter's embedded model is closed."""
        models = self.adapter_models()
        if models is None:
            return False
        self.models.drop(self.models.model_name("foreground"))
        self.models = models
        return True

    def activations(self) -> list[Activation]:
        """Every change of the active adapter, newest first."""
        return self.store.adapters.activations(self.agent)

    def activate_adapter(self, ref: str | None, *, reason: str | None = None) -> Adapter | None:
        """Serve ``ref`` (None: the base model alone) from the next time the model loads."""
        from ..train.session import activate  # noqa: PLC0415

        adapter = self.adapter(ref) if ref is not None else None
        activate(self._mind(), adapter.id if adapter else None, by=str(self.author), reason=reason)
        self.refresh_adapter()
        return adapter

    def rollback_adapter(self) -> Adapter | None:
        """Go back to what was served before the latest activation; the adapter served now."""
        from ..train.session import rollback  # noqa: PLC0415

        rollback(self._mind(), by=str(self.author))
        self.refresh_adapter()
        return self.active_adapter()
