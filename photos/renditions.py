"""Web renditions of a photo: resized, EXIF-oriented sRGB WebP files, one per spec, and the
`Picture` an `<img>` of them is drawn from (rendered by the `{% picture %}` tag,
`photos/templatetags/photos_tags.py`)."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
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


SPEC_NAMES: tuple[str, ...] = tuple(spec.name for spec in sorted(SPECS, key=lambda s: s.max_side))


@dataclass(frozen=True)
class Picture:
    """Everything an `<img>` of a photo needs: one `src`, a `srcset`, intrinsic size and `alt`."""

    src: str
    srcset: str
    width: int
    height: int
    alt: str = ""

    @property
    def ratio(self) -> float:
        return self.width / self.height if self.height else 1.0

    @classmethod
    def of_rendition(cls, rendition: Rendition, alt: str | None = None) -> Picture:
        """One rendition file (no `srcset`); `alt` defaults to the photo's."""
        return cls(
            src=rendition.file.url,
            srcset="",
            width=rendition.width,
            height=rendition.height,
            alt=rendition.photo.alt_text if alt is None else alt,
        )


def picture(photo: Photo, specs: Iterable[str] | None = None) -> Picture | None:
    """A `Picture` from the renditions `specs` (default: all) that exist, or None.

    Uses the photo's prefetched renditions when they were loaded (`with_renditions()`).
    Small originals are never upscaled, so two specs can have the same width: the `srcset` lists
    each width once, smallest first. The `src` (for browsers without `srcset`) and the intrinsic
    size are the largest rendition's.
    """
    names = SPEC_NAMES if specs is None else tuple(specs)
    renditions = [r for r in (photo.rendition(name) for name in names) if r is not None]
    if not renditions:
        return None
    by_width: dict[int, Rendition] = {}
    for rendition in renditions:
        by_width.setdefault(rendition.width, rendition)
    candidates = sorted(by_width.values(), key=lambda r: r.width)
    largest = candidates[-1]
    return Picture(
        src=largest.file.url,
        srcset=", ".join(f"{r.file.url} {r.width}w" for r in candidates),
        width=largest.width,
        height=largest.height,
        alt=photo.alt_text,
    )


#: libwebp's effort, 0 (fastest) to 6 (smallest). On the shared 1024-px photos method 2 makes
#: the three renditions in 33 ms a photo against 58 ms with method 4, for files 2 % larger
#: (147 against 144 KB) and 0.4 dB less PSNR (`benchmarks/renditions.py`); 0 and 1 are no
#: faster and 10–16 % larger. A bulk import spends much of its time here.
WEBP_METHOD = 2


def _encode_webp(image: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="WEBP", quality=quality, method=WEBP_METHOD)
    return buffer.getvalue()


def render(base: Image.Image, spec: RenditionSpec) -> tuple[Image.Image, bytes]:
    """One rendition of the decoded, normalised `base`: resized (never up) and encoded."""
    image = base.copy()
    image.thumbnail((spec.max_side, spec.max_side), Image.Resampling.LANCZOS)
    return image, _encode_webp(image, spec.quality)


def render_all(base: Image.Image) -> list[tuple[RenditionSpec, Image.Image, bytes]]:
    """Every spec's rendition of `base`, largest first, resized and encoded in parallel threads
    (Pillow releases the GIL while it resizes and encodes, so the specs use every core)."""
    specs = sorted(SPECS, key=lambda s: -s.max_side)
    with ThreadPoolExecutor(max_workers=len(specs), thread_name_prefix="rendition") as pool:
        rendered = list(pool.map(lambda spec: render(base, spec), specs))
    return [(spec, image, data) for spec, (image, data) in zip(specs, rendered, strict=True)]


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
    for spec, image, data in render_all(base):
        content = ContentFile(data)
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
