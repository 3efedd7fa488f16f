"""Template context of the experiments app."""

from __future__ import annotations

from django.utils.functional import SimpleLazyObject

from .events import page_view_token


def page_view(request) -> dict:
    """`page_view_token`: the signed page view id events.js sends with time on page (made only
    when a template uses it)."""
    visitor = getattr(request, "visitor_id", "")
    return {"page_view_token": SimpleLazyObject(lambda: page_view_token(visitor))}
