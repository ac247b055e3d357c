"""Model residency adapters: embedded llama.cpp, llama.cpp's router, Ollama, vLLM, always loaded."""

from .always import AlwaysLoaded
from .base import Residency, State, Status
from .embedded import EmbeddedResidency, rss_mb
from .http import LlamaRouterResidency, OllamaResidency, VllmResidency

__all__ = [
    "AlwaysLoaded",
    "EmbeddedResidency",
    "LlamaRouterResidency",
    "OllamaResidency",
    "Residency",
    "State",
    "Status",
    "VllmResidency",
    "rss_mb",
]
