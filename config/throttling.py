"""Rate limits shared by the API and the gallery's own forms (REST framework throttles counting
per fixed window, `WindowCountThrottle`; the rates in REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
from the environment).

A client is its connecting address (`REMOTE_ADDR`), or, with `STYLEFINDER_NUM_PROXIES` = N > 0,
the address N hops from the right of `X-Forwarded-For` (what the nearest trusted proxy saw).
Never the whole header: a client can send any `X-Forwarded-For` it likes.

The counters live in the cache; while Redis is unreachable the cache degrades to misses
(config/cache.py), so requests are let through rather than refused, as the gallery keeps working
without Redis.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.http import HttpResponse
from django.shortcuts import render
from rest_framework import throttling
from rest_framework.settings import api_settings


def client_address(request) -> str:
    """The client's address as the rate limits see it; also django-axes' (login throttling)."""
    return throttling.BaseThrottle().get_ident(request)


def login_locked_out(request, original_response=None, credentials=None) -> HttpResponse:
    """django-axes' answer to a sign-in from a locked-out address: the admin's look, 429, and
    when to come back."""
    minutes = max(1, round(settings.AXES_COOLOFF_TIME.total_seconds() / 60))
    context = {
        **admin.site.each_context(request),
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "minutes": minutes,
    }
    response = render(request, "admin/locked_out.html", context, status=429)
    response["Retry-After"] = str(minutes * 60)
    return response


def count_in_window(cache, key: str, seconds: int) -> int | None:
    """This request's number in the window `key` names (1 for its first), counted atomically in
    the cache; None when the cache cannot count (Redis unreachable: the request goes through)."""
    if hasattr(cache, "count"):  # Redis (`config.cache.DegradingRedisCache`): one round trip
        return cache.count(key, seconds + 1)
    cache.add(key, 0, timeout=seconds + 1)  # the window's first request opens it
    try:
        return cache.incr(key)
    except ValueError:  # gone between the two calls: not counted
        return None


class WindowCountThrottle(throttling.SimpleRateThrottle):
    """A rate limit that counts each client's requests in the current fixed window (one integer
    in the cache, incremented atomically).

    REST framework's own throttles keep the time of every request of the last window in a list
    that each request reads, unpickles, trims, pickles and writes back: the work grows with the
    rate (a client at 600/min moves two lists of 600 floats per call; under load that was a
    third of an API call's time) and two concurrent calls can lose a count. The price of a fixed
    window: across a window's boundary a client can spend up to twice its rate.

    The rate is read per request (each request makes its own throttle instances; REST
    framework's `THROTTLE_RATES` is read once, at import), so a changed setting takes effect
    without a restart.
    """

    scope: str
    wait_seconds: float | None = None

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        now = self.timer()
        opened = now - now % self.duration
        self.wait_seconds = opened + self.duration - now
        count = count_in_window(self.cache, f"{key}:{int(opened)}", self.duration)
        return count is None or count <= self.num_requests

    def wait(self) -> float | None:
        return self.wait_seconds


class SimilarUploadThrottle(WindowCountThrottle):
    """ "similar_upload": an image analysed for similar photos (POST /api/similar/, POST
    /api/widget/, the /similar/ form), the expensive call. Per client address for visitors, per
    account when signed in; staff are not limited. The API and the form share one allowance."""

    scope = "similar_upload"

    def get_cache_key(self, request, view) -> str | None:
        user = request.user
        if user.is_authenticated and user.is_staff:
            return None
        ident = f"user-{user.pk}" if user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
