"""Web renditions of a photo: resized, EXIF-oriented sRGB WebP files, one per spec."""

from __future__ import annotations

import io
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.db import transaction
from PIL import Image

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
        name = f"{photo.pk}-{spec.name}.webp"
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
    storage = photo.original.storage
    transaction.on_commit(lambda: [storage.delete(name) for name in replaced_files])
    return created
