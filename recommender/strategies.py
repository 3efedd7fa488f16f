"""What a variant shows: one function picks the list for (photo, variant).

The page, the API and (later) the widget all call `recommend_for_photo` / `recommend_for_image`.
The A/B issue adds more strategies here; until then `style_knn` is the only one.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from PIL import Image

from photos.models import Photo

from .selectors import Recommendation, similar_to_image, similar_to_photo

DEFAULT_VARIANT = "style_knn"

PHOTO_STRATEGIES: dict[str, Callable[[Photo, int], list[Recommendation]]] = {
    "style_knn": similar_to_photo,
}
IMAGE_STRATEGIES: dict[str, Callable[[Image.Image, int], list[Recommendation]]] = {
    "style_knn": similar_to_image,
}


def current_variant(request=None) -> str:
    """The variant for this visitor: forced by STYLEFINDER_AB_VARIANT, else the default."""
    forced = settings.STYLEFINDER_AB_VARIANT.strip()
    if forced:
        if forced not in PHOTO_STRATEGIES:
            raise ImproperlyConfigured(
                f"STYLEFINDER_AB_VARIANT={forced!r} is not a strategy; "
                f"choose one of {', '.join(sorted(PHOTO_STRATEGIES))}."
            )
        return forced
    return DEFAULT_VARIANT


def recommend_for_photo(photo: Photo, variant: str, k: int) -> list[Recommendation]:
    return PHOTO_STRATEGIES[variant](photo, k)


def recommend_for_image(image: Image.Image, variant: str, k: int) -> list[Recommendation]:
    return IMAGE_STRATEGIES[variant](image, k)
