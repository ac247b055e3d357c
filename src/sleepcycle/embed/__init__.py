"""Embedding models: the bundled all-MiniLM-L6-v2 and a documented fake for unit tests."""

from .base import Embedder
from .fake import HashingEmbedder
from .minilm import MiniLMEmbedder

__all__ = ["Embedder", "HashingEmbedder", "MiniLMEmbedder"]
