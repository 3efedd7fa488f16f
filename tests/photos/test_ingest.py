"""ingest_photo: every accepted kind of image gets in and is processed; everything else is refused
with a clear message and leaves nothing behind."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from photos import pipeline
from photos.imaging import open_normalized
from photos.models import Photo, Rendition
from photos.services import DuplicatePhoto, PhotoRejected, ingest_photo, reprocess_photos
from tests.helpers.images import (
    adobe_rgb_icc_profile,
    gradient_image,
    image_bytes,
    image_file,
    named,
)


def stored_files(media_root: Path) -> list[Path]:
    return [p for p in media_root.rglob("*") if p.is_file()] if media_root.exists() else []


def display_pixels(photo: Photo) -> np.ndarray:
    with photo.rendition("display").file.open("rb") as fh:
        return np.asarray(Image.open(fh).convert("RGB"), dtype=np.int16)


@pytest.mark.parametrize(
    ("name", "fmt", "mode", "kwargs"),
    [
        ("a.jpg", "JPEG", "RGB", {"quality": 90}),
        ("b.png", "PNG", "RGB", {}),
        ("c.webp", "WEBP", "RGB", {"quality": 90}),
        ("d.tif", "TIFF", "RGB", {}),
        ("grey.jpg", "JPEG", "L", {}),
        ("cmyk.jpg", "JPEG", "CMYK", {}),
        ("palette.png", "PNG", "P", {}),
    ],
)
def test_accepted_formats_become_ready_with_renditions(ingest, name, fmt, mode, kwargs):
    photo = ingest(image_file(name, fmt=fmt, mode=mode, size=(120, 90), **kwargs))

    assert photo.status == Photo.Status.READY, photo.error
    assert (photo.width, photo.height) == (120, 90)
    assert photo.original_filename == name
    assert photo.image_format == fmt
    assert len(photo.sha256) == 64
    renditions = {r.spec: r for r in photo.renditions.all()}
    assert set(renditions) == {"thumb", "medium", "display"}
    with renditions["thumb"].file.open("rb") as fh:
        thumb = Image.open(fh)
        assert thumb.format == "WEBP"
        assert thumb.mode == "RGB"
        assert thumb.size == (120, 90)  # never upscaled


def test_original_is_kept_byte_for_byte_under_a_random_name(ingest):
    data = image_bytes("JPEG", size=(80, 60), seed=3)
    photo = ingest(named(data, "holiday.jpg"))

    assert photo.original.name.startswith("originals/")
    assert "holiday" not in photo.original.name
    with photo.original.open("rb") as fh:
        assert fh.read() == data
    assert photo.file_size == len(data)
    assert photo.title == "Holiday"
    assert ingest(image_file("DSC_0042-NYC.jpg", seed=4)).title == "DSC 0042 NYC"


def test_large_photo_gets_downscaled_renditions(ingest):
    photo = ingest(image_file("wide.jpg", size=(2400, 1200)))
    sizes = {r.spec: (r.width, r.height) for r in photo.renditions.all()}
    assert sizes == {"thumb": (400, 200), "medium": (800, 400), "display": (1600, 800)}


def test_exif_orientation_is_applied(ingest):
    # A landscape sensor image, tagged "rotate 90° CW to display" (orientation 6).
    image = Image.new("RGB", (200, 100), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 100, 100))  # left half red
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif, quality=95)

    photo = ingest(named(buffer.getvalue(), "rotated.jpg"))

    assert (photo.width, photo.height) == (100, 200)
    pixels = display_pixels(photo)
    assert pixels.shape[:2] == (200, 100)
    # After a clockwise turn, the sensor's left half is at the top.
    assert pixels[20, 50, 0] > 200 and pixels[20, 50, 2] < 60
    assert pixels[180, 50, 2] > 200 and pixels[180, 50, 0] < 60


def test_exif_capture_data_is_read(ingest):
    exif = Image.Exif()
    exif[0x010F] = "FUJIFILM"
    exif[0x0110] = "X-T4"
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = "2024:05:17 18:42:07"
    sub[0x829A] = 1 / 250
    sub[0x829D] = 2.8
    sub[0x8827] = 400
    sub[0x920A] = 35.0
    sub[0xA434] = "XF35mmF1.4 R"
    buffer = io.BytesIO()
    gradient_image((64, 48)).save(buffer, "JPEG", exif=exif)

    photo = ingest(named(buffer.getvalue(), "exif.jpg"))

    assert photo.camera_make == "FUJIFILM"
    assert photo.camera_model == "X-T4"
    assert photo.lens == "XF35mmF1.4 R"
    assert photo.exposure_time == "1/250"
    assert photo.aperture == pytest.approx(2.8)
    assert photo.iso == 400
    assert photo.focal_length_mm == pytest.approx(35.0)
    assert photo.taken_at is not None and photo.taken_at.year == 2024
    assert ("Exposure", "1/250 s") in photo.exif_summary


def test_sixteen_bit_greyscale_is_scaled_not_clipped(ingest):
    ramp = np.tile(np.linspace(0, 65535, 256, dtype=np.uint16), (32, 1))
    buffer = io.BytesIO()
    Image.fromarray(ramp).save(buffer, "PNG")

    photo = ingest(named(buffer.getvalue(), "sixteen.png"))

    assert photo.status == Photo.Status.READY, photo.error
    pixels = display_pixels(photo)
    assert pixels[:, :10].mean() < 20
    assert pixels[:, -10:].mean() > 235
    assert 100 < pixels[:, 120:136].mean() < 160  # mid-grey stays mid-grey


def test_transparency_is_flattened_on_white(ingest):
    image = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    image.paste((200, 0, 0, 255), (0, 0, 20, 40))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")

    photo = ingest(named(buffer.getvalue(), "alpha.png"))

    pixels = display_pixels(photo)
    assert pixels[20, 35].min() > 240  # transparent → white
    assert pixels[20, 5, 0] > 180 and pixels[20, 5, 1] < 40


def test_embedded_icc_profile_is_honoured(ingest):
    # Adobe RGB (60, 160, 60) is a more saturated green than sRGB (60, 160, 60): converting it
    # properly pushes red and blue down. Ignoring the profile would leave the values alone.
    image = Image.new("RGB", (64, 64), (60, 160, 60))
    buffer = io.BytesIO()
    image.save(buffer, "PNG", icc_profile=adobe_rgb_icc_profile())

    photo = ingest(named(buffer.getvalue(), "adobe.png"))

    r, g, b = display_pixels(photo)[32, 32]
    assert r < 25 and b < 55 and abs(g - 160) <= 4


def test_a_broken_icc_profile_falls_back_to_plain_rgb():
    image = Image.new("RGB", (16, 16), (200, 120, 40))
    broken = io.BytesIO()
    image.save(broken, "PNG", icc_profile=b"not a profile")
    broken.seek(0)
    out = np.asarray(open_normalized(broken), dtype=np.int16)
    assert np.abs(out - np.array([200, 120, 40])).max() <= 2


def test_cmyk_without_profile_converts_to_rgb():
    cmyk = Image.new("CMYK", (8, 8), (0, 255, 255, 0))  # pure red ink mix
    out = open_normalized(cmyk)
    assert out.mode == "RGB"
    r, g, b = out.getpixel((4, 4))
    assert r > 200 and g < 60 and b < 60


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that *claims* a huge size: what a decompression bomb looks like before decoding."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload))
            + kind
            + payload
            + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _truncated_jpeg() -> bytes:
    data = image_bytes("JPEG", size=(400, 300), quality=95)
    return data[: len(data) // 2]


REFUSALS = [
    ("empty.jpg", b"", "empty"),
    ("notes.jpg", b"just some text, not a picture\n" * 10, "not a JPEG, PNG, WebP or TIFF"),
    (
        "page.jpg",
        b"<!DOCTYPE html><html><body><img src=x onerror=alert(1)></body></html>",
        "not a JPEG",
    ),
    (
        "vector.jpg",
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        b'<rect width="10" height="10"/></svg>',
        "not a JPEG",
    ),
    ("gif.jpg", image_bytes("GIF", size=(20, 20)), "not a JPEG"),
    ("truncated.jpg", _truncated_jpeg(), "truncated"),
    ("bomb.png", _png_header_only(60_000, 60_000), "decompression bomb'); the limit is 100 mega"),
    ("big.png", _png_header_only(12_000, 12_000), "megapixels"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "data", "message"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_bad_files_are_refused_with_a_clear_message(media_root, name, data, message):
    with pytest.raises(PhotoRejected) as excinfo:
        ingest_photo(named(data, name))

    assert message in str(excinfo.value)
    assert str(excinfo.value).startswith(name)
    assert Photo.objects.count() == 0
    assert stored_files(media_root) == []


@pytest.mark.django_db
def test_limits_are_quoted_as_configured(settings, media_root):
    """The messages name the site's limits in the README's units (50 MB, not 52), never
    Pillow's internal threshold."""
    from photos.imaging import ImageRejected, inspect_image

    with pytest.raises(ImageRejected) as big:
        inspect_image(
            io.BytesIO(b"\0" * 50_000_001),
            max_bytes=settings.STYLEFINDER_MAX_UPLOAD_BYTES,
            max_pixels=settings.STYLEFINDER_MAX_PIXELS,
        )
    assert str(big.value) == "The file is 50.0 MB; the limit is 50 MB."
    settings.STYLEFINDER_MAX_UPLOAD_BYTES = 1_000
    with pytest.raises(PhotoRejected, match="the limit is 1 KB"):
        ingest_photo(image_file("large.png", fmt="PNG", size=(200, 200)))
    settings.STYLEFINDER_MAX_UPLOAD_BYTES = 50_000_000
    settings.STYLEFINDER_MAX_PIXELS = 20_000_000
    with pytest.raises(PhotoRejected) as bomb:
        ingest_photo(named(_png_header_only(60_000, 60_000), "bomb.png"))
    assert "decompression bomb'); the limit is 20 megapixels." in str(bomb.value)
    assert "DOS attack" not in str(bomb.value)
    assert Photo.objects.count() == 0


@pytest.mark.django_db
def test_byte_limit_is_configurable(settings, media_root):
    settings.STYLEFINDER_MAX_UPLOAD_BYTES = 1000
    with pytest.raises(PhotoRejected, match="limit is"):
        ingest_photo(image_file("large.png", fmt="PNG", size=(200, 200)))
    assert Photo.objects.count() == 0


@pytest.mark.django_db
def test_pixel_limit_is_configurable(settings):
    settings.STYLEFINDER_MAX_PIXELS = 100 * 100
    with pytest.raises(PhotoRejected, match="megapixels"):
        ingest_photo(image_file("a.jpg", size=(101, 100)))
    ingest_photo(image_file("b.jpg", size=(100, 100)))
    assert Photo.objects.count() == 1


def test_duplicates_are_reported_not_stored_twice(ingest, media_root):
    data = image_bytes("JPEG", seed=7)
    first = ingest(named(data, "one.jpg"))
    files_before = stored_files(media_root)

    with pytest.raises(DuplicatePhoto) as excinfo:
        ingest_photo(named(data, "same-again.jpg"))

    assert excinfo.value.existing == first
    assert "photo #" in str(excinfo.value)
    assert Photo.objects.count() == 1
    assert stored_files(media_root) == files_before


def test_a_failing_processing_step_marks_the_photo_failed_and_can_be_retried(
    ingest, django_capture_on_commit_callbacks, media_root
):
    calls: list[int] = []

    def flaky_step(photo: Photo) -> None:
        calls.append(photo.pk)
        if len(calls) == 1:
            raise RuntimeError("feature extractor crashed")

    pipeline.register_step(flaky_step)
    try:
        photo = ingest(image_file("flaky.jpg"))
        assert photo.status == Photo.Status.FAILED
        assert "feature extractor crashed" in photo.error
        # The original survives a failure; the failed step's work was rolled back, files too.
        assert photo.original.storage.exists(photo.original.name)
        assert Rendition.objects.filter(photo=photo).count() == 0
        assert not list((media_root / "renditions").glob("*"))

        with django_capture_on_commit_callbacks(execute=True):
            reprocess_photos([photo])
        photo.refresh_from_db()
        assert photo.status == Photo.Status.READY
        assert photo.error == ""
        assert Rendition.objects.filter(photo=photo).count() == 3
    finally:
        pipeline._steps.remove(flaky_step)


def test_reprocessing_replaces_rendition_files(ingest, django_capture_on_commit_callbacks):
    photo = ingest(image_file("again.jpg", size=(500, 400)))
    old_names = {r.file.name for r in photo.renditions.all()}

    with django_capture_on_commit_callbacks(execute=True):
        reprocess_photos([photo])

    new = list(photo.renditions.all())
    assert len(new) == 3
    storage = photo.original.storage
    assert all(storage.exists(r.file.name) for r in new)
    assert not any(storage.exists(name) for name in old_names - {r.file.name for r in new})


def test_deleting_a_photo_removes_its_files(ingest, django_capture_on_commit_callbacks, media_root):
    photo = ingest(image_file("gone.jpg"))
    assert stored_files(media_root)

    with django_capture_on_commit_callbacks(execute=True):
        photo.delete()

    assert stored_files(media_root) == []
