"""What every view of the API shares: authentication, rate limits, schema generation."""

from __future__ import annotations

from rest_framework.authentication import SessionAuthentication, TokenAuthentication

from .schema import AutoSchema
from .throttling import DEFAULT_THROTTLES


class ApiViewMixin:
    # Token first: an unauthenticated call to a staff endpoint is a 401 that says
    # `WWW-Authenticate: Token`; the session serves staff signed in to the site.
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    throttle_classes = DEFAULT_THROTTLES
    schema = AutoSchema()
