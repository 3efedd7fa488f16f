"""Middleware of the experiments app."""

from __future__ import annotations

from django.conf import settings

from .visitors import (
    VISIT_COOKIE,
    VISIT_COOKIE_AGE,
    VISITOR_COOKIE,
    VISITOR_COOKIE_AGE,
    new_id,
    signed,
    unsigned,
    valid_id,
)


class VisitorMiddleware:
    """Gives every request `visitor_id` (from the signed `sf_vid` cookie) and `visit_id`, and
    keeps both cookies fresh."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        cookie = request.COOKIES.get(VISITOR_COOKIE)
        visit = request.COOKIES.get(VISIT_COOKIE)
        # An id this gallery did not sign is no visitor: a new one is issued in its place.
        request.visitor_id = unsigned(cookie) or new_id()
        request.visit_id = visit if valid_id(visit) else new_id()
        response = self.get_response(request)
        secure = not settings.DEBUG
        value = signed(request.visitor_id)
        if cookie != value:
            response.set_cookie(
                VISITOR_COOKIE,
                value,
                max_age=VISITOR_COOKIE_AGE,
                samesite="Lax",
                secure=secure,
                httponly=True,
            )
        # Sliding: every response extends the visit by 30 minutes.
        response.set_cookie(
            VISIT_COOKIE,
            request.visit_id,
            max_age=VISIT_COOKIE_AGE,
            samesite="Lax",
            secure=secure,
            httponly=True,
        )
        return response
