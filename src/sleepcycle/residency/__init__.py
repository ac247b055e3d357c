"""Model residency adapters: embedded llama.cpp, llama.cpp's router, Ollama, vLLM, always loaded."""

from .always import AlwaysLoaded
from .base import AdapterBinding, Loadable, Residency, State, Status
from .embedded import EmbeddedResidency, rss_mb
from .http import LlamaRouterResidency, OllamaResidency, VllmResidency, engine_residency
from .lora import OllamaAdapterResidency, VllmLoraResidency, adapter_residency

__all__ = [
    "AdapterBinding",
    "AlwaysLoaded",
    "EmbeddedResidency",
    "LlamaRouterResidency",
    "Loadable",
    "OllamaAdapterResidency",
    "OllamaResidency",
    "Residency",
    "State",
    "Status",
    "VllmLoraResidency",
    "VllmResidency",
    "adapter_residency",
    "engine_residency",
    "rss_mb",
]
