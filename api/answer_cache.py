"""Answers of the API that are the same for every anonymous caller of one A/B variant, cached
until the library changes (`recommender.content_version`) or the code does
(`config.code_version`), for `STYLEFINDER_PAGE_CACHE_SECONDS`.

`GET /api/photos/{id}/similar/` is one: its list depends on the photo, `k`, `mode`, the
variant's strategy and the host its URLs are built for. Staff and token callers (who may see
unpublished photos) and the `random` strategy (a new draw per call) are never cached; an
unreachable cache is a miss.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache

from config.code_version import code_version
from experiments.models import Strategy
from recommender import content_version


def answer_key(request, name: str, *parts, strategy: str | None = None) -> str | None:
    """The cache key of an answer, or None when it must not be cached."""
    if int(settings.STYLEFINDER_PAGE_CACHE_SECONDS) <= 0 or request.user.is_authenticated:
        return None
    if strategy == Strategy.RANDOM:
        return None
    version = content_version.current()
    if not version:
        return None
    origin = f"{request.scheme}://{request.get_host()}"
    raw = "|".join(map(str, (name, *parts, strategy, origin, code_version(), version)))
    return "api:answer:" + hashlib.sha256(raw.encode()).hexdigest()


def cached_answer(key: str | None):
    return cache.get(key) if key else None


def keep_answer(key: str | None, data) -> None:
    if key:
        cache.set(key, data, timeout=int(settings.STYLEFINDER_PAGE_CACHE_SECONDS))
