"""Image validation and normalisation, in one place (no Django models here).

`inspect_image` decides whether bytes are a photo we accept and reads what we keep about it;
`open_normalized` turns an accepted file into an EXIF-oriented 8-bit sRGB RGB image for
renditions and feature extraction.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

import numpy as np
from PIL import ExifTags, Image, ImageCms, ImageFile, ImageOps, UnidentifiedImageError

# Pillow names the formats it decoded; these are the ones a photographer uploads. SVG, HTML, PDF,
# GIF animations and everything else are refused before any decoding.
ACCEPTED_FORMATS: dict[str, str] = {
    "JPEG": ".jpg",
    "MPO": ".jpg",  # multi-picture JPEG written by many cameras
    "PNG": ".png",
    "WEBP": ".webp",
    "TIFF": ".tif",
}
FORMAT_NAMES = "JPEG, PNG, WebP or TIFF"
# Pillow opens MPO files through its JPEG plugin, so MPO is not a separate opener.
_OPENERS = ["JPEG", "PNG", "WEBP", "TIFF"]

# A truncated file is an error, never a half-grey photo.
ImageFile.LOAD_TRUNCATED_IMAGES = False

_SRGB_PROFILE = ImageCms.createProfile("sRGB")


class ImageRejected(ValueError):
    """The file is not an image we accept; the message is meant for the person who uploaded it."""


@dataclass(frozen=True)
class ExifData:
    taken_at: datetime | None = None
    camera_make: str = ""
    camera_model: str = ""
    lens: str = ""
    focal_length_mm: float | None = None
    aperture: float | None = None
    exposure_time: str = ""
    iso: int | None = None

    def as_model_fields(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class ImageInfo:
    image_format: str
    extension: str
    width: int  # after EXIF orientation
    height: int
    sha256: str
    file_size: int
    exif: ExifData = field(default_factory=ExifData)


def sha256_of(stream: IO[bytes], chunk_size: int = 1024 * 1024) -> tuple[str, int]:
    """Hash a seekable stream from its start; returns (hex digest, size in bytes)."""
    stream.seek(0)
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(chunk_size):
        digest.update(chunk)
        size += len(chunk)
    stream.seek(0)
    return digest.hexdigest(), size


def _size(n_bytes: int) -> str:
    """Bytes in the README's units: MB of 10^6 bytes (KB below one MB)."""
    return f"{n_bytes / 1e6:.0f} MB" if n_bytes >= 1_000_000 else f"{n_bytes / 1e3:.0f} KB"


def _open_checked(stream: IO[bytes], max_pixels: int) -> Image.Image:
    """Open (header only) and refuse unknown formats and decompression bombs before decoding."""
    stream.seek(0)
    # Pillow itself refuses at twice Image.MAX_IMAGE_PIXELS (set from our limit at start-up, see
    # PhotosConfig.ready) and only warns below that; the check further down gives the exact limit.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(stream, formats=_OPENERS)
    except Image.DecompressionBombError as exc:
        # Pillow's own message quotes its internal threshold (twice ours): name our limit.
        raise ImageRejected(
            "The image is too large to process safely (a 'decompression bomb'); "
            f"the limit is {max_pixels / 1e6:.0f} megapixels."
        ) from exc
    except UnidentifiedImageError as exc:
        raise ImageRejected(f"This file is not a {FORMAT_NAMES} image.") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageRejected(f"The image is truncated or damaged: {exc}") from exc
    width, height = image.size
    if width < 1 or height < 1:
        raise ImageRejected("The image has no pixels.")
    if width * height > max_pixels:
        raise ImageRejected(
            f"The image has {width}×{height} = {width * height / 1e6:.0f} megapixels; "
            f"the limit is {max_pixels / 1e6:.0f} megapixels."
        )
    return image


def inspect_image(stream: IO[bytes], *, max_bytes: int, max_pixels: int) -> ImageInfo:
    """Validate an uploaded file completely and describe it.

    Checks, in order: size in bytes, format (by content, not by name), pixel count (before any
    decoding, so decompression bombs are refused, not decoded), Pillow's structural `verify()` and
    a full decode (catches truncation). Raises `ImageRejected` with a message for the uploader.
    """
    stream.seek(0, io.SEEK_END)
    size = stream.tell()
    stream.seek(0)
    if size == 0:
        raise ImageRejected("The file is empty.")
    if size > max_bytes:
        raise ImageRejected(f"The file is {size / 1e6:.1f} MB; the limit is {_size(max_bytes)}.")

    image = _open_checked(stream, max_pixels)
    image_format = image.format or ""
    try:
        image.verify()
    except Exception as exc:  # Pillow raises many types for corrupt data
        raise ImageRejected(f"The image is damaged: {exc}") from exc

    image = _open_checked(stream, max_pixels)
    try:
        image.load()
    except Exception as exc:
        raise ImageRejected(f"The image is truncated or damaged: {exc}") from exc

    exif = image.getexif()
    orientation = exif.get(ExifTags.Base.Orientation, 1)
    width, height = image.size
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    digest, _ = sha256_of(stream)
    return ImageInfo(
        image_format=image_format,
        extension=ACCEPTED_FORMATS[image_format],
        width=width,
        height=height,
        sha256=digest,
        file_size=size,
        exif=read_exif(image),
    )


def _clean_text(value: Any, limit: int) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "ignore")
    return str(value or "").replace("\x00", "").strip()[:limit]


def _as_float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return round(number, 2) if number > 0 and np.isfinite(number) else None


def _exposure_text(value: Any) -> str:
    """EXIF exposure time (seconds, a rational) as photographers write it: 1/250, 0.6, 2."""
    try:
        seconds = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return ""
    if not np.isfinite(seconds) or seconds <= 0:
        return ""
    if seconds < 0.5:
        return f"1/{round(1 / seconds)}"
    return f"{seconds:g}"


def _parse_exif_datetime(value: Any) -> datetime | None:
    text = _clean_text(value, 32)
    for fmt in ("%Y:%m:%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y:%m:%d %H:%M"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def read_exif(image: Image.Image) -> ExifData:
    """Capture time, camera, lens and exposure from EXIF; missing or garbled tags are left out."""
    try:
        exif = image.getexif()
        sub = exif.get_ifd(ExifTags.IFD.Exif)
    except Exception:  # malformed EXIF never rejects a photo
        return ExifData()
    tags = ExifTags.Base
    iso_raw = sub.get(tags.ISOSpeedRatings)
    if isinstance(iso_raw, (tuple, list)):
        iso_raw = iso_raw[0] if iso_raw else None
    iso = _as_float(iso_raw)
    taken_at = _parse_exif_datetime(sub.get(tags.DateTimeOriginal) or exif.get(tags.DateTime))
    if taken_at is not None:
        from django.utils import timezone

        taken_at = timezone.make_aware(taken_at, timezone.get_default_timezone())
    return ExifData(
        taken_at=taken_at,
        camera_make=_clean_text(exif.get(tags.Make), 100),
        camera_model=_clean_text(exif.get(tags.Model), 100),
        lens=_clean_text(sub.get(tags.LensModel), 150),
        focal_length_mm=_as_float(sub.get(tags.FocalLength)),
        aperture=_as_float(sub.get(tags.FNumber)),
        exposure_time=_exposure_text(sub.get(tags.ExposureTime)),
        iso=int(iso) if iso and iso < 10_000_000 else None,
    )


def open_query_image(
    stream: IO[bytes], *, max_bytes: int, max_pixels: int, max_side: int
) -> Image.Image:
    """Validate and decode an image that is only analysed, never stored (a visitor's query).

    The same checks as `inspect_image` (size, format by content, pixel limit before decoding,
    truncation), but JPEGs are decoded at reduced size straight away: a query must not cost a
    full-resolution decode.
    """
    stream.seek(0, io.SEEK_END)
    size = stream.tell()
    if size == 0:
        raise ImageRejected("The file is empty.")
    if size > max_bytes:
        raise ImageRejected(f"The file is {size / 1e6:.1f} MB; the limit is {_size(max_bytes)}.")
    image = _open_checked(stream, max_pixels)
    exif = read_exif(image)
    try:
        normalized = open_normalized(image, max_side=max_side)
    except Exception as exc:  # Pillow raises many types for corrupt data
        raise ImageRejected(f"The image is truncated or damaged: {exc}") from exc
    normalized.info[QUERY_EXIF] = exif
    return normalized


QUERY_EXIF = "stylefinder.exif"  # `open_query_image` keeps the upload's EXIF here


def exif_facts(image: Image.Image) -> tuple | None:
    """(taken_at, camera, lens) of a query image from `open_query_image`, or None without EXIF:
    what the "scene" mode compares besides the content."""
    exif = image.info.get(QUERY_EXIF)
    if not isinstance(exif, ExifData):
        return None
    camera = f"{exif.camera_make} {exif.camera_model}".strip()
    if exif.taken_at is None and not camera and not exif.lens:
        return None
    return (exif.taken_at, camera, exif.lens)


def _to_8bit_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode → 8-bit RGB; 16-bit data is scaled, transparency flattened on white."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        array = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if image.mode.startswith("I;16") or array.max() > 255 else 255.0
        if image.mode == "F" and array.max() <= 1.0:
            peak = 1.0
        array = np.clip(array / peak * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(array, "L").convert("RGB")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode != "RGB":
        return image.convert("RGB")
    return image


def _to_srgb(image: Image.Image) -> Image.Image:
    """Honour an embedded ICC profile (Adobe RGB, Display P3, CMYK…) by converting to sRGB."""
    icc = image.info.get("icc_profile")
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            if image.mode not in ("RGB", "CMYK", "L"):
                image = image.convert("RGB")
            converted = ImageCms.profileToProfile(image, source, _SRGB_PROFILE, outputMode="RGB")
            if converted is not None:
                return converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile: fall back to the plain conversion below
    return _to_8bit_rgb(image)


_REDUCIBLE = {"RGB", "RGBA", "L", "LA", "I", "F", "I;16", "CMYK"}


def _reduced(image: Image.Image, max_side: int) -> Image.Image:
    """Formats without draft mode (PNG, WebP, TIFF) decode in full; shrink by an integer factor
    right away (box average, to no less than twice `max_side`), so that the conversions after
    it copy a small image, not every pixel of a large one."""
    factor = max(image.size) // (2 * max_side)
    if factor < 2 or image.mode not in _REDUCIBLE:
        return image
    return image.reduce(factor)


def open_normalized(source: IO[bytes] | Image.Image, max_side: int | None = None) -> Image.Image:
    """Decode to an EXIF-oriented, 8-bit sRGB RGB image, optionally no larger than `max_side`.

    With `max_side`, JPEGs are decoded in draft mode (DCT scaling), which makes a 1024 px thumbnail
    of a 24 MP photo cost milliseconds instead of a full decode.
    """
    image = source if isinstance(source, Image.Image) else Image.open(source)
    if max_side and image.format in ("JPEG", "MPO"):
        image.draft("RGB", (max_side, max_side))
    elif max_side:
        image = _reduced(image, max_side)
    image = ImageOps.exif_transpose(image)
    image = _to_srgb(image)
    if max_side and max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return image
