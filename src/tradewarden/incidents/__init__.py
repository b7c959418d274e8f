"""Incidents: opened from alerts by policy or by hand, an append-only timeline, reports."""

from tradewarden.incidents._config import IncidentsConfig

__all__ = ["IncidentsConfig"]
