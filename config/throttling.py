"""Rate limits shared by the API and the gallery's own forms (DRF's throttles; the rates in
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], from the environment).

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


class LiveRateMixin:
    """Rates read when a request comes in (REST framework's own classes read them once, at
    import), so a changed setting takes effect without a restart."""

    scope: str

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class SimilarUploadThrottle(LiveRateMixin, throttling.SimpleRateThrottle):
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
