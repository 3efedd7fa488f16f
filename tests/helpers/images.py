"""Small images made by the tests themselves (no downloads, no fixtures on disk)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


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
