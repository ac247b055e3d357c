"""The web page of ``sleepcycle serve``: Jinja2 templates rendered on the server, htmx
(vendored in ``static/``) for the actions that change memory. No build step, no CDN."""

from .errors import error_page
from .routes import mount, router

__all__ = ["error_page", "mount", "router"]
