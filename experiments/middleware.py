"""Middleware of the experiments app."""

from __future__ import annotations

from django.conf import settings

from .visitors import (
    VISIT_COOKIE,
    VISIT_COOKIE_AGE,
    VISITOR_COOKIE,
    VISITOR_COOKIE_AGE,
    new_id,
    valid_id,
)


class VisitorMiddleware:
    """Gives every request `visitor_id` and `visit_id` and keeps both cookies fresh."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        visitor = request.COOKIES.get(VISITOR_COOKIE)
        visit = request.COOKIES.get(VISIT_COOKIE)
        request.visitor_id = visitor if valid_id(visitor) else new_id()
        request.visit_id = visit if valid_id(visit) else new_id()
        response = self.get_response(request)
        secure = not settings.DEBUG
        if visitor != request.visitor_id:
            response.set_cookie(
                VISITOR_COOKIE,
                request.visitor_id,
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
