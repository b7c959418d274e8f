"""One managed async Redis client for the warden, with ioredis-style pool statistics.

``ManagedRedis`` owns a ``redis.asyncio.Redis`` client, keeps a status
(``connecting`` / ``ready`` / ``reconnecting`` / ``end``), reconnects in the background
with capped exponential backoff and holds commands in an offline queue while Redis is down.
"""

from tradewarden.redisconn._client import ManagedRedis
from tradewarden.redisconn._errors import RedisUnavailableError
from tradewarden.redisconn._stats import RedisPoolStats, RedisStatus

__all__ = ["ManagedRedis", "RedisPoolStats", "RedisStatus", "RedisUnavailableError"]
