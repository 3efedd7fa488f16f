"""A/B assignment: which variant a visitor sees, and the signed tokens that let the browser
report what it showed.

- A visitor is a random first-party cookie id (`sf_vid`, one year); a visit is a second cookie
  (`sf_visit`) that lapses after 30 minutes without a page view. Nothing personal is stored.
- Assignment is a stable hash of (experiment id, visitor id) mapped onto the variants' weights:
  sticky without storing anything, uniform to the weights.
- `STYLEFINDER_AB_VARIANT` forces one strategy for everyone; with no running experiment and no
  forced variant, everyone gets `style_knn`.
- Lists are not logged when rendered (bots and clients without JavaScript would count). The page
  carries a signed token describing the list; the browser posts it back when the list is seen.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from .models import Experiment, Strategy, Variant

VISITOR_COOKIE = "sf_vid"
VISIT_COOKIE = "sf_visit"
VISITOR_COOKIE_AGE = 365 * 24 * 3600
VISIT_COOKIE_AGE = 30 * 60
DEFAULT_STRATEGY = Strategy.STYLE_KNN.value
TOKEN_SALT = "stylefinder.impression"
TOKEN_MAX_AGE = 24 * 3600
_ID = re.compile(r"^[0-9a-f]{32}$")


def new_id() -> str:
    return uuid.uuid4().hex


def valid_id(value: str | None) -> bool:
    return bool(value and _ID.match(value))


@dataclass(frozen=True)
class Assignment:
    experiment_id: int | None
    variant: str  # the variant's name in reports
    strategy: str  # what the variant shows


def running_experiment() -> Experiment | None:
    experiment = Experiment.objects.filter(is_active=True).prefetch_related("variants").first()
    return experiment if experiment and experiment.is_running(timezone.now()) else None


def bucket(experiment_id: int, visitor_id: str) -> float:
    """A stable, uniform number in [0, 1) for (experiment, visitor)."""
    digest = hashlib.sha256(f"{experiment_id}:{visitor_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def choose_variant(variants: list[Variant], point: float) -> Variant:
    total = sum(v.weight for v in variants)
    edge = 0.0
    for variant in variants:
        edge += variant.weight / total
        if point < edge:
            return variant
    return variants[-1]


def forced_strategy() -> str | None:
    forced = settings.STYLEFINDER_AB_VARIANT.strip()
    if not forced:
        return None
    if forced not in Strategy.values:
        raise ImproperlyConfigured(
            f"STYLEFINDER_AB_VARIANT={forced!r} is not a strategy; choose one of "
            f"{', '.join(Strategy.values)}."
        )
    return forced


def assign(visitor_id: str | None) -> Assignment:
    """The variant for a visitor (forced variable, running experiment, or the default)."""
    forced = forced_strategy()
    if forced:
        return Assignment(None, forced, forced)
    experiment = running_experiment()
    variants = list(experiment.variants.all()) if experiment else []
    if not variants or not visitor_id:
        return Assignment(None, DEFAULT_STRATEGY, DEFAULT_STRATEGY)
    variant = choose_variant(variants, bucket(experiment.pk, visitor_id))
    return Assignment(experiment.pk, variant.name, variant.strategy)


def assignment_for(request) -> Assignment:
    """The request's assignment, computed once per request."""
    cached = getattr(request, "_stylefinder_assignment", None)
    if cached is None:
        cached = assign(getattr(request, "visitor_id", None))
        request._stylefinder_assignment = cached
    return cached


def impression_token(
    request, assignment: Assignment, source: str, source_photo: int | None, items
) -> str:
    """A signed description of a list about to be shown, for the browser to report back.

    `items` are (photo id, position, score) triples.
    """
    payload = {
        "t": new_id(),
        "v": getattr(request, "visitor_id", ""),
        "e": assignment.experiment_id,
        "n": assignment.variant,
        "s": assignment.strategy,
        "src": source,
        "p": source_photo,
        "i": [[int(pid), int(pos), round(float(score), 4)] for pid, pos, score in items],
    }
    return signing.dumps(payload, salt=TOKEN_SALT, compress=True)


def read_token(token: str) -> dict:
    """Verify and decode an impression token (raises signing.BadSignature / SignatureExpired)."""
    return signing.loads(token, salt=TOKEN_SALT, max_age=TOKEN_MAX_AGE)


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
