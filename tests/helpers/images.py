"""Small images made by the tests themselves (no downloads, no fixtures on disk)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageEnhance


def gradient_image(
    size: tuple[int, int] = (64, 48), mode: str = "RGB", seed: int = 0
) -> Image.Image:
    """A smooth colour gradient plus a little noise, so every seed gives different bytes."""
    width, height = size
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 1, width)[None, :, None]
    y = np.linspace(0, 1, height)[:, None, None]
    base = np.concatenate([x * np.ones_like(y), y * np.ones_like(x), (x + y) / 2], axis=2)
    pixels = np.clip(base * 255 + rng.normal(0, 8, (height, width, 3)), 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels, "RGB")
    return image if mode == "RGB" else image.convert(mode)


def image_bytes(
    fmt: str = "JPEG",
    size: tuple[int, int] = (64, 48),
    mode: str = "RGB",
    seed: int = 0,
    **save_kwargs,
) -> bytes:
    buffer = io.BytesIO()
    gradient_image(size, mode, seed).save(buffer, format=fmt, **save_kwargs)
    return buffer.getvalue()


def named(data: bytes, name: str) -> io.BytesIO:
    """A named in-memory file of `data`, as an upload or an opened file would be."""
    file = io.BytesIO(data)
    file.name = name
    return file


def image_file(name: str = "photo.jpg", **kwargs) -> io.BytesIO:
    """A named in-memory file, as an upload or an opened file would be."""
    data = io.BytesIO(image_bytes(**kwargs))
    data.name = name
    return data


def jpeg_bytes(image: Image.Image, quality: int = 92) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def jpeg_file(image: Image.Image, name: str, quality: int = 92) -> io.BytesIO:
    """`image` as a named in-memory JPEG file, as an upload would be."""
    return named(jpeg_bytes(image, quality), name)


def styled(
    seed: int, style: str, size: tuple[int, int] = (240, 160), shift: int | None = None
) -> Image.Image:
    """Distinct scenes in clearly different styles: dark B&W ("noir"), bright warm colour
    ("warm") or cool, soft, pale colour ("frost").

    The scene is a gradient rolled sideways by `shift` pixels (by a seeded random amount when
    None), so that seeds differ in more than noise.
    """
    image = gradient_image(size, seed=seed)
    if shift is None:
        shift = int(np.random.default_rng(seed).integers(0, size[0]))
    pixels = np.roll(np.asarray(image, dtype=np.float32), shift, axis=1)
    image = Image.fromarray(pixels.astype(np.uint8))
    if style == "noir":
        return ImageEnhance.Brightness(image.convert("L").convert("RGB")).enhance(0.45)
    if style == "frost":
        pale = np.asarray(image, dtype=np.float32) * 0.35 + 150
        return Image.fromarray(np.clip(pale * [0.85, 0.97, 1.12], 0, 255).astype(np.uint8))
    warm = np.asarray(ImageEnhance.Brightness(image).enhance(1.3), dtype=np.float32)
    return Image.fromarray(np.clip(warm * [1.15, 1.0, 0.7], 0, 255).astype(np.uint8))


def landscape(seed: int, style: str, size: tuple[int, int] = (1200, 800)) -> Image.Image:
    """A small landscape (sky, sun, rolling ground) in one of two clearly different styles:
    dark black & white ("noir") or bright, warm colour."""
    width, height = size
    rng = np.random.default_rng(seed)
    top = rng.uniform(60, 140, 3)
    bottom = rng.uniform(150, 230, 3)
    t = np.linspace(0, 1, height)[:, None, None]
    pixels = np.broadcast_to(top * (1 - t) + bottom * t, (height, width, 3)).copy()
    yy, xx = np.mgrid[0:height, 0:width]
    sun_x, sun_y = width * rng.uniform(0.2, 0.8), height * rng.uniform(0.25, 0.45)
    pixels[(xx - sun_x) ** 2 + (yy - sun_y) ** 2 < (height * 0.07) ** 2] = (250, 240, 215)
    waves = rng.uniform(1.5, 4)
    horizon = height * (0.6 + 0.06 * np.sin(xx / width * np.pi * waves + seed))
    pixels[yy > horizon] = rng.uniform(30, 110, 3)
    pixels += rng.normal(0, 5, pixels.shape)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    if style == "noir":
        grey = image.convert("L").convert("RGB")
        return ImageEnhance.Contrast(ImageEnhance.Brightness(grey).enhance(0.45)).enhance(1.2)
    bright = np.asarray(ImageEnhance.Brightness(image).enhance(1.25), dtype=np.float32)
    return Image.fromarray(np.clip(bright * [1.15, 1.0, 0.7], 0, 255).astype(np.uint8))


def adobe_rgb_icc_profile() -> bytes:
    """A minimal ICC v2 matrix/TRC profile with Adobe RGB (1998) primaries (D50-adapted).

    No profile files ship on the test machines, so the tests write the one they need: a wider
    gamut than sRGB, so that honouring it visibly changes the pixels.
    """
    import struct

    def s15(value: float) -> bytes:
        return struct.pack(">i", round(value * 65536))

    def xyz(x: float, y: float, z: float) -> bytes:
        return b"XYZ " + b"\0" * 4 + s15(x) + s15(y) + s15(z)

    def curve(gamma: float) -> bytes:
        return b"curv" + b"\0" * 4 + struct.pack(">IH", 1, round(gamma * 256)) + b"\0\0"

    def desc(text: str) -> bytes:
        ascii_text = text.encode("ascii") + b"\0"
        body = b"desc" + b"\0" * 4 + struct.pack(">I", len(ascii_text)) + ascii_text
        body += struct.pack(">II", 0, 0) + struct.pack(">HB", 0, 0) + b"\0" * 67
        return body + b"\0" * (-len(body) % 4)

    def text(value: str) -> bytes:
        body = b"text" + b"\0" * 4 + value.encode("ascii") + b"\0"
        return body + b"\0" * (-len(body) % 4)

    gamma = 563 / 256
    tags = [
        (b"desc", desc("Test Adobe RGB (1998)")),
        (b"cprt", text("Public domain test profile")),
        (b"wtpt", xyz(0.9642, 1.0, 0.8249)),
        (b"rXYZ", xyz(0.6097, 0.3111, 0.0195)),
        (b"gXYZ", xyz(0.2053, 0.6257, 0.0609)),
        (b"bXYZ", xyz(0.1492, 0.0632, 0.7446)),
        (b"rTRC", curve(gamma)),
        (b"gTRC", curve(gamma)),
        (b"bTRC", curve(gamma)),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for signature, payload in tags:
        table += signature + struct.pack(">II", offset + len(data), len(payload))
        data += payload
    size = offset + len(data)
    header = (
        struct.pack(">I", size)
        + b"lcms"
        + struct.pack(">I", 0x02100000)
        + b"mntrRGB XYZ "
        + struct.pack(">6H", 2024, 1, 1, 0, 0, 0)
        + b"acsp"
        + b"\0" * 24  # platform, flags, manufacturer, model, attributes
        + struct.pack(">I", 0)  # rendering intent: perceptual
        + s15(0.9642)
        + s15(1.0)
        + s15(0.8249)
        + b"lcms"
        + b"\0" * 44
    )
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + data
