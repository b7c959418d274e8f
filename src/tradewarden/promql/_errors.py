"""The one error a query raises."""

from __future__ import annotations

__all__ = ["QueryError"]


class QueryError(Exception):
    """A query that cannot be parsed or evaluated; the message follows Prometheus's."""
