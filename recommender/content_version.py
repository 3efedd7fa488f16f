"""The version of what public pages show of the library, for caches of whole pages and answers.

A page such as a photo's is the same for every visitor of one A/B variant until the library
changes: a photo is processed, edited, published, hidden or deleted (`photos.signals.
library_changed`), or an album, a run or the recommender settings are saved. Each of those
replaces the version (a random token in the shared cache), so every cached page keyed with the
old one is simply never read again and expires. The gallery (`gallery/page_cache.py`) and the
API (`api/answer_cache.py`) key their caches with `cache_key`, which adds the code's version
(`config.code_version`) and the origin the absolute URLs are built for.

With the embedded default's per-process memory cache, a change is seen at once by the process
that made it; other processes (several gunicorn workers without Redis) see it when their
entries expire (`STYLEFINDER_PAGE_CACHE_SECONDS`). With Redis every process sees it at once.
"""

from __future__ import annotations

import hashlib
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from config.code_version import code_version
from photos.signals import library_changed

KEY = "recommender:content-version"


def current() -> str:
    """The version now (made on first use; "" when the cache cannot be reached: no caching)."""
    version = cache.get(KEY)
    if version is None:
        cache.add(KEY, uuid.uuid4().hex, timeout=None)
        version = cache.get(KEY)
    return version or ""


def cache_seconds() -> int:
    """How long a cached page or answer lives (`STYLEFINDER_PAGE_CACHE_SECONDS`; 0: no caching)."""
    return int(settings.STYLEFINDER_PAGE_CACHE_SECONDS)


def cache_key(namespace: str, request, *parts) -> str | None:
    """The key of something public pages show, for `request`'s origin, this code and the library
    as it is now; None when caching is off or the cache cannot be reached."""
    if cache_seconds() <= 0:
        return None
    version = current()
    if not version:
        return None
    origin = f"{request.scheme}://{request.get_host()}"
    raw = "|".join(map(str, (*parts, origin, code_version(), version)))
    return f"{namespace}:" + hashlib.sha256(raw.encode()).hexdigest()


def bump(**kwargs) -> None:
    """The library changed: pages cached before show the old library (a signal receiver).

    Now, and again once the change is committed: a page rendered in between, from the data
    before the commit, is cached under the intermediate version and never read."""
    _new_version()
    transaction.on_commit(_new_version)


def _new_version() -> None:
    cache.set(KEY, uuid.uuid4().hex, timeout=None)


def connect() -> None:
    """Bump on every change that a public page shows (called by the app's `ready`)."""
    from .models import Album, Cluster, ClusterRun, RecommenderSettings

    library_changed.connect(bump, dispatch_uid="recommender.content_version.library")
    for model in (Album, Cluster, ClusterRun, RecommenderSettings):
        for signal in (post_save, post_delete):
            signal.connect(
                bump, sender=model, dispatch_uid=f"recommender.content_version.{model.__name__}"
            )
