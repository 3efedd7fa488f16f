"""A/B assignment: which variant a visitor sees.

- Assignment is a stable hash of (experiment id, visitor id) mapped onto the variants' weights:
  sticky without storing anything, uniform to the weights.
- `STYLEFINDER_AB_VARIANT` forces one strategy for everyone; with no running experiment and no
  forced variant, everyone gets `style_knn`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from .models import Experiment, Strategy, Variant

DEFAULT_STRATEGY = Strategy.STYLE_KNN.value


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
