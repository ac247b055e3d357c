"""The OpenAI-compatible chat proxy that records, remembers, and routes to the sub model while
the agent sleeps. Needs the ``server`` extra."""

from .app import ChatBody, create_app
from .context import inject, memory_block

__all__ = ["ChatBody", "create_app", "inject", "memory_block"]
