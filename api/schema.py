"""OpenAPI: every operation documents the errors it can answer, in the one error shape.

`AutoSchema` adds to each operation the error responses that follow from how its view is set up,
so they never drift from the code: 400 when it takes query parameters or a body, 401 when a
token can be sent, 403 when it needs staff (or may check CSRF), 404 when its path names an object
or it is paginated (a page past the end), 415 when it has a body, 429 when it is throttled.
An operation's own `@extend_schema(responses=…)` entries win (e.g. upload's 409).
"""

from __future__ import annotations

from drf_spectacular import openapi
from drf_spectacular.utils import OpenApiResponse
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny

from .errors import ERROR_DESCRIPTIONS, ErrorSerializer, ValidationErrorSerializer

#: query parameters that never cause a 400 (a page that does not exist is a 404)
LENIENT_PARAMETERS = {"page"}

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class AutoSchema(openapi.AutoSchema):
    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        responses = operation["responses"]
        for code in sorted(self.error_codes(operation)):
            key = str(code)
            if key in responses:
                continue
            serializer = ValidationErrorSerializer if code == 400 else ErrorSerializer
            response = self._get_response_for_code(
                OpenApiResponse(serializer, description=ERROR_DESCRIPTIONS[code]), key
            )
            headers = self.error_headers(code)
            if headers:
                response["headers"] = {**headers, **response.get("headers", {})}
            responses[key] = response
        return operation

    def error_codes(self, operation: dict) -> set[int]:
        view, method = self.view, self.method.upper()
        codes: set[int] = set()
        parameters = operation.get("parameters", [])
        body = "requestBody" in operation
        if body or any(
            p["in"] == "query" and p["name"] not in LENIENT_PARAMETERS for p in parameters
        ):
            codes.add(400)
        authenticators = view.get_authenticators()
        challenge = bool(authenticators) and bool(authenticators[0].authenticate_header(None))
        if challenge:
            codes.add(401)
        needs_permission = any(not isinstance(p, AllowAny) for p in view.get_permissions())
        csrf = method in UNSAFE_METHODS and any(
            isinstance(a, SessionAuthentication) for a in authenticators
        )
        if needs_permission or csrf or (authenticators and not challenge):
            codes.add(403)
        if any(p["in"] == "path" for p in parameters) or (
            method == "GET" and self._is_list_view() and self._get_paginator() is not None
        ):
            codes.add(404)
        if body:
            codes.add(415)
        if view.get_throttles():
            codes.add(429)
        return codes

    def error_headers(self, code: int) -> dict:
        if code == 401:
            return {
                "WWW-Authenticate": {
                    "schema": {"type": "string"},
                    "description": "How to authenticate: `Token`.",
                }
            }
        if code == 429:
            return {
                "Retry-After": {
                    "schema": {"type": "integer"},
                    "description": "Seconds to wait before trying again.",
                }
            }
        return {}
