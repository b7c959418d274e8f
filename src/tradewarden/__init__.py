"""tradewarden: the operations layer for automated trading bots."""

from tradewarden._version import __version__

__all__ = ["__version__"]
