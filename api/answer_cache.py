"""Answers of the API that are the same for every anonymous caller of one A/B variant, cached
until the library or the code changes (`recommender.content_version.cache_key`), for
`STYLEFINDER_PAGE_CACHE_SECONDS`.

`GET /api/photos/{id}/similar/` is one: its list depends on the photo, `k`, `mode`, the
variant's strategy and the host its URLs are built for. Staff and token callers (who may see
unpublished photos) and the `random` strategy (a new draw per call) are never cached; an
unreachable cache is a miss.
"""

from __future__ import annotations

from django.core.cache import cache

from experiments.models import Strategy
from recommender import content_version


def answer_key(request, name: str, *parts, strategy: str | None = None) -> str | None:
    """The cache key of an answer, or None when it must not be cached."""
    if request.user.is_authenticated or strategy == Strategy.RANDOM:
        return None
    return content_version.cache_key("api:answer", request, name, *parts, strategy)


def cached_answer(key: str | None):
    return cache.get(key) if key else None


def keep_answer(key: str | None, data) -> None:
    if key:
        cache.set(key, data, timeout=content_version.cache_seconds())
