from guard.state._fixtures import private_redis, shared_redis_prefix

__all__ = ["private_redis", "shared_redis_prefix"]
