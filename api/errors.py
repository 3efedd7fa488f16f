"""One error body for every API failure.

Every 4xx/5xx answer of the API is a JSON object of the same shape::

    {"detail": "One sentence for a person.", "code": "machine_code"}

A 400 adds "errors": the message(s) of each field that failed (code "invalid"), the
request-wide ones under "non_field_errors"; it is {} when the body could not be read at all
(code "parse_error")::

    {"detail": "k: k must be at most 50.", "code": "invalid",
     "errors": {"k": ["k must be at most 50."]}}

A few errors carry one more field, documented with their endpoint (a duplicate upload's 409 names
the photo that is already there: "existing"). Headers stay those of HTTP: 401 has
`WWW-Authenticate`, 429 has `Retry-After`, 405 has `Allow`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.signals import got_request_exception
from django.http import Http404, HttpRequest, HttpResponsePermanentRedirect, JsonResponse
from django.urls import Resolver404, resolve
from django.utils.log import log_response
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import set_rollback

logger = logging.getLogger("django.request")

#: the code of every 400 that lists field errors
INVALID = "invalid"
SERVER_ERROR = "server_error"


class Conflict(exceptions.APIException):
    """409: the request clashes with what is stored. `extra` fields join the error body."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the resource."
    default_code = "conflict"

    def __init__(self, detail=None, code=None, **extra):
        super().__init__(detail, code)
        self.extra = extra


class PayloadTooLarge(exceptions.APIException):
    """413: the body is larger than the server reads (Django's DATA_UPLOAD_MAX_MEMORY_SIZE)."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


class ServiceUnavailable(exceptions.APIException):
    """503: a service the request needs (e.g. the media storage) is down; try again later."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The service is temporarily unavailable; try again later."
    default_code = "service_unavailable"

    def __init__(self, detail=None, code=None, wait: float | None = None):
        super().__init__(detail, code)
        self.wait = wait  # seconds: the answer's Retry-After


# --- the body -------------------------------------------------------------------------------------


def flatten_errors(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error details as {"field": [messages]} ("parent.child", "items.0.name")."""
    if isinstance(detail, Mapping):
        out: dict[str, list[str]] = {}
        for key, value in detail.items():
            out.update(flatten_errors(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(detail, list | tuple):
        if all(not isinstance(item, Mapping | list | tuple) for item in detail):
            messages = [str(item) for item in detail]
            return {prefix or api_settings.NON_FIELD_ERRORS_KEY: messages} if messages else {}
        out = {}
        for index, item in enumerate(detail):
            out.update(flatten_errors(item, f"{prefix}.{index}" if prefix else str(index)))
        return out
    return {prefix or api_settings.NON_FIELD_ERRORS_KEY: [str(detail)]}


def summary(errors: dict[str, list[str]]) -> str:
    """One sentence from field errors: the first message, named by its field."""
    messages = [(field, message) for field, items in errors.items() for message in items]
    if not messages:
        return "The request is not valid."
    field, message = messages[0]
    text = message if field == api_settings.NON_FIELD_ERRORS_KEY else f"{field}: {message}"
    if len(messages) > 1:
        more = len(messages) - 1
        text += f" (and {more} more error{'s' if more > 1 else ''})"
    return text


def _code_of(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    return codes if isinstance(codes, str) else exc.default_code


def error_body(exc: exceptions.APIException) -> dict:
    if isinstance(exc, exceptions.ValidationError) or isinstance(exc.detail, dict | list):
        errors = flatten_errors(exc.detail)
        code = INVALID if isinstance(exc, exceptions.ValidationError) else exc.default_code
        body = {"detail": summary(errors), "code": code, "errors": errors}
    else:
        body = {"detail": str(exc.detail), "code": _code_of(exc)}
        if exc.status_code == status.HTTP_400_BAD_REQUEST:
            body["errors"] = {}  # a 400 always has "errors"; none per field (e.g. unparsable body)
    body.update(getattr(exc, "extra", None) or {})
    return body


def exception_handler(exc, context):
    """REST framework's EXCEPTION_HANDLER: every failure as `error_body` (see the module)."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    elif isinstance(exc, RequestDataTooBig):  # Django refuses to read the body: the client's fault
        limit_kb = settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 1024
        exc = PayloadTooLarge(
            f"The request body is too large: form fields and JSON may hold at most {limit_kb} KB "
            "(files are limited separately)."
        )
    elif isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        what = "fields" if isinstance(exc, TooManyFieldsSent) else "files"
        limit = (
            settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
            if what == "fields"
            else settings.DATA_UPLOAD_MAX_NUMBER_FILES
        )
        exc = exceptions.ParseError(f"The request has too many {what} (at most {limit}).")

    if isinstance(exc, exceptions.APIException):
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(max(1, math.ceil(exc.wait)))
        set_rollback()
        return Response(error_body(exc), status=exc.status_code, headers=headers)

    if settings.DEBUG:
        return None  # Django's technical 500 page, with the traceback
    # An unexpected failure: logged with its traceback, reported to whoever listens for request
    # exceptions (the test client re-raises it), and answered in the API's shape.
    request = context.get("request")
    set_rollback()
    got_request_exception.send(sender=None, request=request)
    response = Response(
        {"detail": "A server error occurred.", "code": SERVER_ERROR},
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )
    log_response(
        "%s: %s",
        "Internal Server Error",
        getattr(request, "path", ""),
        response=response,
        request=getattr(request, "_request", request),
        exception=exc,
    )
    return response


# --- unknown URLs under /api/ -------------------------------------------------------------------


def not_found(request: HttpRequest, unmatched: str = ""):
    """Any /api/ URL without an endpoint: a JSON 404 in the error shape (the gallery keeps its HTML
    404). A URL that only lacks its trailing slash is redirected as `APPEND_SLASH` would."""
    path = request.path_info
    if settings.APPEND_SLASH and not path.endswith("/"):
        try:
            match = resolve(path + "/", getattr(request, "urlconf", None))
        except Resolver404:
            match = None
        if match is not None and match.func is not not_found:
            target = request.get_full_path(force_append_slash=True)
            response = HttpResponsePermanentRedirect(target)
            if request.method not in ("GET", "HEAD"):
                response.status_code = 308  # keep the method and body
            return response
    return JsonResponse(
        {"detail": f"There is no API endpoint at {request.path}.", "code": "not_found"},
        status=status.HTTP_404_NOT_FOUND,
    )


# --- in the schema --------------------------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    """The body of every error response."""

    detail = serializers.CharField(help_text="What went wrong, in one sentence for a person.")
    code = serializers.CharField(
        help_text=(
            "A stable machine code: invalid, parse_error, not_authenticated, "
            "authentication_failed, permission_denied, not_found, method_not_allowed, "
            "not_acceptable, unsupported_media_type, duplicate, throttled, server_error, …"
        )
    )


class ValidationErrorSerializer(ErrorSerializer):
    """A 400: the request's fields that failed, each with its messages."""

    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text=(
            "Messages per field (a query parameter or a body field); errors about the request "
            'as a whole are under "non_field_errors". Empty when the body could not be read '
            '(code "parse_error").'
        ),
    )


class DuplicateErrorSerializer(ErrorSerializer):
    """A 409 for an upload whose content is already in the library."""

    existing = serializers.IntegerField(help_text="The id of the photo already stored.")


ERROR_DESCRIPTIONS = {
    400: "Invalid request: `errors` names the fields that failed ({} for an unreadable body).",
    401: "Not authenticated, or the credentials are not valid (`WWW-Authenticate` tells how).",
    403: "Authenticated, but not allowed (this endpoint is for staff).",
    404: "Not found (or not visible to you).",
    406: "None of the media types in `Accept` can be produced.",
    409: "Conflict with what is stored.",
    415: "The request body's media type is not accepted here.",
    429: "Too many requests: wait the number of seconds in `Retry-After`.",
}
