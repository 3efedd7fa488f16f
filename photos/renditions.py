"""Web renditions of a photo: resized, EXIF-oriented sRGB WebP files, one per spec."""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass

from django.core.files.base import ContentFile
from PIL import Image

from . import storage as media
from .imaging import open_normalized
from .models import Photo, Rendition


@dataclass(frozen=True)
class RenditionSpec:
    name: str
    max_side: int
    quality: int


# The grid uses thumb/medium in a srcset; the photo page uses medium/display.
SPECS: tuple[RenditionSpec, ...] = (
    RenditionSpec("thumb", 400, 80),
    RenditionSpec("medium", 800, 82),
    RenditionSpec("display", 1600, 85),
)


def _encode_webp(image: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="WEBP", quality=quality, method=4)
    return buffer.getvalue()


def make_renditions(photo: Photo, written: list[str] | None = None) -> list[Rendition]:
    """(Re)create every rendition of `photo`; idempotent, old files are removed after commit.

    Files are read and written through the storage API only (local disk or S3 alike).

    The names of the files written are appended to `written`, so that a caller whose transaction
    fails later can remove them (a rollback does not undo storage).
    """
    written = [] if written is None else written
    largest = max(spec.max_side for spec in SPECS)
    with photo.original.open("rb") as original:
        base = open_normalized(original, max_side=largest)

    created: list[Rendition] = []
    replaced_files: list[str] = []
    for spec in sorted(SPECS, key=lambda s: -s.max_side):
        image = base.copy()
        image.thumbnail((spec.max_side, spec.max_side), Image.Resampling.LANCZOS)
        content = ContentFile(_encode_webp(image, spec.quality))
        # A new name for new content: a CDN may cache a rendition URL forever.
        name = f"{photo.pk}-{spec.name}-{uuid.uuid4().hex[:8]}.webp"
        existing = Rendition.objects.filter(photo=photo, spec=spec.name).first()
        if existing is not None:
            replaced_files.append(existing.file.name)
            existing.file.save(name, content, save=False)
            written.append(existing.file.name)
            existing.width, existing.height = image.size
            existing.save()
            created.append(existing)
        else:
            rendition = Rendition(
                photo=photo, spec=spec.name, width=image.width, height=image.height
            )
            rendition.file.save(name, content, save=False)
            written.append(rendition.file.name)
            rendition.save()
            created.append(rendition)
    media.delete_files_on_commit(
        photo.original.storage, replaced_files, reason=f"renditions of photo {photo.pk} replaced"
    )
    return created
