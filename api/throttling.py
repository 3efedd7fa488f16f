"""Rate limits of the API (rates in REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], from the environment).

- "anon" / "user": every API call, per client address (visitors) or per account (signed in).
- "similar_upload" (`config.throttling.SimilarUploadThrottle`): image uploads, shared with the
  gallery's /similar/ form.

A throttled request is a 429 with `Retry-After` and the API's error body. How a client's address
is found, and why never from the whole `X-Forwarded-For`: `config.throttling`.
"""

from __future__ import annotations

from rest_framework import throttling

from config.throttling import WindowCountThrottle


class AnonRateThrottle(WindowCountThrottle, throttling.AnonRateThrottle):
    """Visitors, per client address (REST framework's key, counted per window)."""


class UserRateThrottle(WindowCountThrottle, throttling.UserRateThrottle):
    """Signed-in callers, per account. (REST framework's class also counts visitors, by address,
    under a second key: the same limit as "anon" but looser, for more cache calls.)"""

    def get_cache_key(self, request, view) -> str | None:
        if not request.user.is_authenticated:
            return None
        return super().get_cache_key(request, view)


#: what every read or write of the API is limited by
DEFAULT_THROTTLES = [AnonRateThrottle, UserRateThrottle]
