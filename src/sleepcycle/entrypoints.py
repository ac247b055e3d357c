"""Entry points, read once per group: how plugins (engines, embedders, stores) are found.

Below everything else (it imports only ``errors``), so the store can find its implementations
without importing the model layer.
"""

from __future__ import annotations

import importlib.metadata
import threading
from typing import Any, TypeVar

from .errors import ConfigError

__all__ = ["load", "reload"]

T = TypeVar("T")
_lock = threading.Lock()
_loaded: dict[str, dict[str, Any]] = {}


def load(group: str, kind: type[T]) -> dict[str, T]:
    """Every entry point of ``group`` by name, each checked to be a ``kind``."""
    with _lock:
        if group not in _loaded:
            found: dict[str, Any] = {}
            for point in importlib.metadata.entry_points(group=group):
                try:
                    value = point.load()
                except Exception as exc:  # a broken plugin must not take sleepcycle down
                    raise ConfigError(
                        f"the {group} entry point {point.name!r} ({point.value}) cannot be "
                        f"loaded: {exc}; fix or uninstall the package that provides it"
                    ) from None
                if not isinstance(value, kind):
                    raise ConfigError(
                        f"the {group} entry point {point.name!r} ({point.value}) is a "
                        f"{type(value).__name__}, not a sleepcycle.plugins.{kind.__name__}"
                    )
                found.setdefault(point.name, value)
            if not found:
                raise ConfigError(
                    f"no {group} entry points are installed, not even sleepcycle's own; "
                    "reinstall sleepcycle (pip install sleepcycle; pip install -e . in a checkout)"
                )
            _loaded[group] = found
        return dict(_loaded[group])


def reload() -> None:
    """Read the entry points again on next use."""
    with _lock:
        _loaded.clear()
