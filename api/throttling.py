"""Rate limits of the API (rates in REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], from the environment).

- "anon" / "user": every API call, per client address (visitors) or per account (signed in).
- "similar_upload" (`config.throttling.SimilarUploadThrottle`): image uploads, shared with the
  gallery's /similar/ form.

A throttled request is a 429 with `Retry-After` and the API's error body. How a client's address
is found, and why never from the whole `X-Forwarded-For`: `config.throttling`.
"""

from __future__ import annotations

from rest_framework import throttling

from config.throttling import LiveRateMixin


class AnonRateThrottle(LiveRateMixin, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(LiveRateMixin, throttling.UserRateThrottle):
    pass


#: what every read or write of the API is limited by
DEFAULT_THROTTLES = [AnonRateThrottle, UserRateThrottle]
