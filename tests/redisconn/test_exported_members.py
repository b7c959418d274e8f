"""The public surface of tradewarden.redisconn is exactly what __all__ names."""

from __future__ import annotations

from tradewarden import redisconn


def test_all_names_the_public_api_and_nothing_private() -> None:
    assert sorted(redisconn.__all__) == [
        "ManagedRedis",
        "RedisPoolStats",
        "RedisStatus",
        "RedisUnavailableError",
    ]
    for name in redisconn.__all__:
        assert getattr(redisconn, name) is not None


def test_unavailable_error_is_retryable() -> None:
    error = redisconn.RedisUnavailableError("down")
    assert redisconn.RedisUnavailableError.permanent is False
    assert error.permanent is False
