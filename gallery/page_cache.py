"""Photo pages rendered once per photo and A/B variant, and filled in for each visitor.

A photo page is the same for every visitor of one variant, but for two signed values: the
impression token of its "Similar style" list (bound to the visitor) and the page view that time
on page is reported against. So the page is rendered with a placeholder for each (a keyed hash
of its name: nothing a photographer types can collide with it) and kept in the cache under the
photo and the visitor's variant (`recommender.content_version.cache_key` adds the origin the
absolute URLs were built for, the code's version and the library's); every request fills in its
own two values. The first visitor of a photo and variant pays for the render, the
others for a cache read and two string replacements (`benchmarks/load.py` measures it).

Not cached: staff (previews, admin links), the `random` variant (a new draw per page view), and
nothing at all with `STYLEFINDER_PAGE_CACHE_SECONDS=0`. An unreachable cache is a miss.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from functools import cache as once

from django.conf import settings
from django.core.cache import cache

from experiments.assignment import Assignment
from experiments.models import Strategy
from recommender import content_version


@once  # on every request's path; the secret key does not change in a process
def placeholder(name: str) -> str:
    """A stand-in for a per-request value in a cached page: letters and digits (unchanged by
    HTML escaping), the same in every process, unguessable without the secret key."""
    digest = hmac.new(settings.SECRET_KEY.encode(), f"page-cache:{name}".encode(), "sha256")
    return "sf" + digest.hexdigest()[:30]


@dataclass(frozen=True)
class CachedPage:
    html: str
    #: the shown list as (photo id, position, score) triples, for the visitor's impression token
    items: tuple[tuple[int, int, float], ...]


def cacheable(assignment: Assignment, is_staff: bool) -> bool:
    return not is_staff and assignment.strategy != Strategy.RANDOM


def key(request, kind: str, pk: int, assignment: Assignment) -> str | None:
    """The cache key of a page, or None when caching is off or the cache cannot be reached."""
    variant = (assignment.experiment_id, assignment.variant, assignment.strategy)
    return content_version.cache_key("gallery:page", request, kind, pk, *variant)


def get(page_key: str | None) -> CachedPage | None:
    return cache.get(page_key) if page_key else None


#: what marks a page as holding one visitor's own secrets (a form's CSRF token)
PRIVATE_MARKERS = ("csrfmiddlewaretoken",)


def put(page_key: str | None, page: CachedPage) -> None:
    """Keep `page` for the next visitors, unless it holds something of this visitor's own: a
    form's CSRF token must never be served to another visitor."""
    if page_key and not any(marker in page.html for marker in PRIVATE_MARKERS):
        cache.set(page_key, page, timeout=content_version.cache_seconds())


def fill(page: CachedPage, values: dict[str, str]) -> str:
    """The page for this request: each placeholder (`placeholder(name)`) replaced by its value."""
    html = page.html
    for name, value in values.items():
        html = html.replace(placeholder(name), value)
    return html
