"""Django's Redis cache, degrading instead of failing while Redis cannot be reached.

Nothing in this project's cache is needed to answer a request: it holds the API's rate-limit
counters and the re-cluster debounce and lock, all of which may be lost. So while Redis is down
(restarting, out of memory, network cut) the site keeps serving:
- a read is a miss (`get` returns the default, `has_key` False, `get_many` {});
- a write is dropped (`set`, `delete`, `touch`, `clear`; `set_many` reports every key as failed);
- `add` returns False: no lock is taken, so no re-cluster starts until Redis is back;
- `count` (the rate limits' counter) returns None: the request goes through uncounted.

After a connection error the cache is skipped for `RETRY_AFTER` seconds (per process), so an
unreachable Redis costs one connect timeout per window, not one per call, and the log gets one
warning per window. `/healthz` still reports the cache as failing: it checks that a value it writes
can be read back. Errors that are not about reaching Redis (a bad key, a full memory limit on
write...) are raised as before.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

RETRY_AFTER = 5.0  # seconds without trying Redis after it failed
UNREACHABLE = (RedisConnectionError, RedisTimeoutError)
T = TypeVar("T")

# Per process and server list: cache objects are per thread, the outage is not.
_down_until: dict[str, float] = {}


class ReusedClientRedisCacheClient(RedisCacheClient):
    """Django builds a new redis-py client object for every command, and building one (its
    table of response callbacks) cost about as much as the round trip itself: a third of an API
    call's time went there. A client is thread-safe and only wraps its connection pool, so one is
    kept per pool."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class DegradingRedisCache(RedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = ReusedClientRedisCacheClient

    @property
    def _servers_key(self) -> str:
        return ",".join(self._servers)

    def _degrade(self, fallback: T, call: Callable[..., Any], *args: Any) -> Any:
        key = self._servers_key
        if time.monotonic() < _down_until.get(key, 0.0):
            return fallback
        try:
            result = call(*args)
        except UNREACHABLE as exc:
            logger.warning(
                "Redis cache unreachable (%s: %s); going on without it for %.0f s",
                type(exc).__name__,
                exc,
                RETRY_AFTER,
            )
            _down_until[key] = time.monotonic() + RETRY_AFTER
            return fallback
        if _down_until.pop(key, None) is not None:
            logger.info("Redis cache reachable again")
        return result

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._degrade(False, super().add, key, value, timeout, version)

    def get(self, key, default=None, version=None):
        return self._degrade(default, super().get, key, default, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._degrade(None, super().set, key, value, timeout, version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._degrade(False, super().touch, key, timeout, version)

    def delete(self, key, version=None):
        return self._degrade(False, super().delete, key, version)

    def count(self, key, timeout, version=None) -> int | None:
        """Add one to the integer at `key` (made with `timeout` when missing) and return it, in
        one round trip (Django's `add` then `incr` take three); None while Redis is unreachable.
        The rate limits' counter (`config.throttling.count_in_window`)."""
        key = self.make_and_validate_key(key, version=version)

        def add_one() -> int:
            with self._cache.get_client(key, write=True).pipeline(transaction=False) as pipe:
                pipe.set(key, 0, ex=int(timeout), nx=True)
                pipe.incr(key)
                return pipe.execute()[1]

        return self._degrade(None, add_one)

    def get_many(self, keys, version=None):
        return self._degrade({}, super().get_many, keys, version)

    def has_key(self, key, version=None):
        return self._degrade(False, super().has_key, key, version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._degrade(list(data), super().set_many, data, timeout, version)

    def delete_many(self, keys, version=None):
        return self._degrade(None, super().delete_many, keys, version)

    def clear(self):
        return self._degrade(False, super().clear)
