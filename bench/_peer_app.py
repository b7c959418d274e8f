"""The named peer of bench/api.py: the framework floor under the warden's ``GET /health``.

A bare FastAPI app with the same route and body as the warden's, and nothing else: no
middleware, no database, no auth. bench/api.py serves it with uvicorn on the same stack as
the warden (one worker, uvloop, httptools, no access log):

    python -m uvicorn --app-dir bench --factory _peer_app:create_app --loop uvloop \
        --http httptools --no-access-log --no-server-header --port 8001
"""

from __future__ import annotations

from fastapi import FastAPI

__all__ = ["create_app"]


def create_app() -> FastAPI:
    """Return the hello app: one ``GET /health`` answering ``{"status":"ok"}``."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
