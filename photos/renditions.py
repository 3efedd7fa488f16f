"""Web renditions of a photo: resized, EXIF-oriented sRGB WebP files, one per spec, and the
`Picture` an `<img>` of them is drawn from (rendered by the `{% picture %}` tag,
`photos/templatetags/photos_tags.py`)."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Iterable
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


def _fit(image: Image.Image, max_side: int) -> Image.Image:
    """`image` shrunk to fit `max_side` (never enlarged; the same image when it fits)."""
    if max(image.size) <= max_side:
        return image
    smaller = image.copy()
    smaller.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return smaller


def render_all(base: Image.Image) -> list[tuple[RenditionSpec, Image.Image, bytes]]:
    """Every spec's rendition of the decoded, normalised `base`, largest first.

    Each size is resized from the next larger one rather than from `base` (fewer pixels to
    filter, no copy of a size that fits), then the sizes are encoded in parallel threads (Pillow
    releases the GIL while it encodes, so the specs use every core)."""
    specs = sorted(SPECS, key=lambda s: -s.max_side)
    images: list[Image.Image] = []
    for spec in specs:
        images.append(_fit(images[-1] if images else base, spec.max_side))
    with ThreadPoolExecutor(max_workers=len(specs), thread_name_prefix="rendition") as pool:
        encoded = list(pool.map(_encode_webp, images, [spec.quality for spec in specs]))
    return list(zip(specs, images, encoded, strict=True))


def store_renditions(photo: Photo, written: list[str]) -> Callable[[], list[Rendition]]:
    """Make and store every spec's file of `photo`; returns what saves their rows.

    The decoding, resizing, encoding and storing touch no database row, so a caller can do them
    before its transaction and hold the database's write lock (one writer at a time on SQLite)
    only while the returned function saves the rows. Idempotent: rows of an earlier processing
    are updated and their old files removed after the commit. Files are read and written through
    the storage API only (local disk or S3 alike).

    The names of the files written are appended to `written`, so that a caller whose transaction
    fails later can remove them (a rollback does not undo storage).
    """
    largest = max(spec.max_side for spec in SPECS)
    with photo.original.open("rb") as original:
        base = open_normalized(original, max_side=largest)
    field = Rendition._meta.get_field("file")
    stored: list[tuple[RenditionSpec, Image.Image, str]] = []
    for spec, image, data in render_all(base):
        # A new name for new content: a CDN may cache a rendition URL forever.
        name = field.generate_filename(None, f"{photo.pk}-{spec.name}-{uuid.uuid4().hex[:8]}.webp")
        name = field.storage.save(name, ContentFile(data), max_length=field.max_length)
        written.append(name)
        stored.append((spec, image, name))

    def save_rows() -> list[Rendition]:
        existing = {r.spec: r for r in Rendition.objects.filter(photo=photo)}
        saved: list[Rendition] = []
        replaced_files: list[str] = []
        for spec, image, name in stored:
            rendition = existing.get(spec.name) or Rendition(photo=photo, spec=spec.name)
            if rendition.file.name:
                replaced_files.append(rendition.file.name)
            rendition.file.name = name
            rendition.width, rendition.height = image.size
            rendition.save()
            saved.append(rendition)
        media.delete_files_on_commit(
            field.storage,
            replaced_files,
            reason=f"renditions of photo {photo.pk} replaced",
        )
        return saved

    return save_rows
