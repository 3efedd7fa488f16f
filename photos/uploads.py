"""Query images (a visitor's "find photos like this one" upload): validated like ingest, never
stored."""

from __future__ import annotations

from typing import IO

from django.conf import settings
from PIL import Image

from photos import imaging

QUERY_SIDE = 512


def open_query_image(file: IO[bytes]) -> Image.Image:
    """Validate an upload with the rules of ingest and decode a small normalised copy.

    Raises `photos.imaging.ImageRejected` with a message for the visitor.
    """
    return imaging.open_query_image(
        file,
        max_bytes=settings.STYLEFINDER_MAX_UPLOAD_BYTES,
        max_pixels=min(settings.STYLEFINDER_MAX_PIXELS, settings.STYLEFINDER_MAX_QUERY_PIXELS),
        max_side=QUERY_SIDE,
    )
