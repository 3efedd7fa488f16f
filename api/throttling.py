"""Rate limits of the API (rates in REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], from the environment).

- "anon" / "user": every API call, per client address (visitors) or per account (signed in).
- "similar_upload": POST /api/similar/ analyses an image, the expensive call; per client address
  for visitors, per account for signed-in users. Staff are not limited there.

A throttled request is a 429 with `Retry-After` and the API's error body. The rates are read when a
request comes in (REST framework's own classes read them once, at import). The counters live in
the cache; while Redis is unreachable the cache degrades to misses (config/cache.py), so requests
are let through rather than refused, as the gallery keeps working without Redis.
"""

from __future__ import annotations

from rest_framework import throttling
from rest_framework.settings import api_settings


class LiveRateMixin:
    scope: str

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class AnonRateThrottle(LiveRateMixin, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(LiveRateMixin, throttling.UserRateThrottle):
    pass


class SimilarUploadThrottle(LiveRateMixin, throttling.SimpleRateThrottle):
    scope = "similar_upload"

    def get_cache_key(self, request, view) -> str | None:
        user = request.user
        if user.is_authenticated and user.is_staff:
            return None
        ident = f"user-{user.pk}" if user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


#: what every read or write of the API is limited by
DEFAULT_THROTTLES = [AnonRateThrottle, UserRateThrottle]
