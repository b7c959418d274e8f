"""The shared aiohttp session of the ``http`` monitor kind.

HTTP monitors go through aiohttp, not httpx: on this project's benchmark machine a loopback
check costs about 80 µs of CPU through aiohttp (its C parser, a pool that is a dict of
deques) and about 1.8 ms through httpx 0.28, whose pool walks every connection twice per
request (encode/httpx#3215; bench/http_clients.py measures both). That decides how many
monitors one core holds. The other kinds keep httpx (few requests, richer API).
"""

from __future__ import annotations

import aiohttp

from tradewarden._version import __version__

__all__ = ["new_web_session"]


def new_web_session(max_connections: int) -> aiohttp.ClientSession:
    """Return a session for HTTP checks: pooled, no cookies, no proxy from the environment.

    Call it inside the running event loop, and close the session at stop.
    """
    connector = aiohttp.TCPConnector(limit=max_connections, limit_per_host=0)
    return aiohttp.ClientSession(
        connector=connector,
        # Checks are independent: a cookie one target set must not reach the next check.
        cookie_jar=aiohttp.DummyCookieJar(),
        headers={"User-Agent": f"tradewarden/{__version__}"},
        trust_env=False,
        raise_for_status=False,
    )
