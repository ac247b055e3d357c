"""The HTTP API and web page of ``sleepcycle serve`` (needs the ``server`` extra)."""

from .app import create_server

__all__ = ["create_server"]
