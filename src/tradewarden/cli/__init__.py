"""The ``tradewarden`` command line."""

from tradewarden.cli._app import app, main

__all__ = ["app", "main"]
