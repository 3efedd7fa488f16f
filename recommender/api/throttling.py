"""Rate limits of the API (rates in REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], from the environment).

- "anon" / "user": every API call, per client address (visitors) or per account (signed in).
- "similar_upload": POST /api/similar/ analyses an image, the expensive call; per client address
  for visitors, per account for signed-in users. Staff are not limited there.

A throttled request is a 429 with `Retry-After` and the API's error body. The rates are read when a
request comes in (REST framework's own classes read them once, at import). The counters live in
the cache; when the cache is down, requests are let through (logged) rather than refused: the
site keeps working without Redis, as the gallery does.
"""

from __future__ import annotations

import logging

from rest_framework import throttling
from rest_framework.settings import api_settings

logger = logging.getLogger(__name__)


class LiveRateMixin:
    scope: str

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view) -> bool:
        try:
            return super().allow_request(request, view)
        except Exception as exc:  # the cache backend is unreachable (e.g. Redis down)
            logger.warning("Rate limit %r not applied, cache unavailable: %r", self.scope, exc)
            return True


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
