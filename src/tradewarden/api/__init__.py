"""The warden's HTTP API: app factory, routers, auth dependencies."""

from tradewarden.api._app import create_app

__all__ = ["create_app"]
