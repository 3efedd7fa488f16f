"""Look family ``lut``: the eight looks as 3D colour lookup tables made with pillow-lut.

A 3D LUT is how colour grades travel between photo and video tools (.cube files): every look here
is a 33-point table built from `pillow_lut.rgb_color_enhance` settings (the sliders of a basic
colour panel: exposure, contrast, warmth, saturation, vibrance, gamma) and, where a panel has no
slider for it, from a custom mapping of `pillow_lut.identity_table` (channel mixer, matte curve)
chained with `pillow_lut.transform_lut`. The table is applied with ``image.filter(lut)``
(Pillow's trilinear `Color3DLUT`), an implementation independent of `photos/looks.py`.

The recipes follow photographic conventions, and each parameter is drawn from a range on every
call:

- ``bw``: a black & white conversion through a colour filter, as with panchromatic film: the
  channel mix is luminance blended (t ~ U(0, 1)) towards a yellow, orange, red or green filter's
  weights; then contrast U(0, 0.35) and exposure U(-0.25, 0.25).
- ``sepia``: monochrome (saturation -1), then toned like a sepia print by per-channel gamma
  (red 1 - 0.3 s, green 1 - 0.03 s, blue 1 + 0.6 s, strength s ~ U(0.6, 1)): browns the midtones
  and keeps paper white and black; exposure U(-0.2, 0.2), contrast U(-0.15, 0.1).
- ``warm``: warmth U(0.3, 0.7) plus a white-balance shift of the exposure (red +d, blue -d,
  d ~ U(0, 0.12)) around a base exposure U(-0.1, 0.15); contrast U(-0.05, 0.15), saturation
  U(0, 0.2).
- ``cool``: warmth U(-0.7, -0.3), the white-balance shift the other way (blue +d, red -d,
  d ~ U(0, 0.12)), exposure U(-0.1, 0.1), contrast U(-0.05, 0.15), saturation U(-0.2, 0.05).
- ``high_key``: bright and soft: exposure U(0.5, 1.0), contrast U(-0.3, -0.1), saturation
  U(-0.3, -0.05).
- ``low_key``: dark and contrasty: contrast U(0.15, 0.4), exposure U(-0.9, -0.4), gamma
  U(1.1, 1.5), saturation U(-0.2, 0.1).
- ``faded``: desaturated (U(-0.5, -0.2)), softened (contrast U(-0.2, -0.05)) and slightly tinted
  (warmth U(-0.1, 0.25)), then a matte curve: blacks lifted to U(0.08, 0.18) and whites lowered
  to U(0.85, 0.95), each channel's black point moved by U(-0.02, 0.02) for a film tint.
- ``vivid``: saturation U(0.3, 0.7), vibrance U(0.2, 0.6), contrast U(0.1, 0.3), exposure
  U(-0.05, 0.1).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from types import ModuleType
from typing import Any

import numpy as np
from PIL import Image, ImageFilter

from benchmarks.look_families import Family, LookFn, require

PIN = "pillow-lut==1.1.0"
LUT_SIZE = 33  # the usual .cube size: smooth enough for any grade, 36k points to build

# Channel-mixer weights (R, G, B) of a black & white conversion: plain luminance (BT.601) and the
# classic contrast filters of black & white film (a red filter darkens blue skies, green lightens
# foliage). Each sums to 1 so that white stays white.
_LUMINANCE = (0.299, 0.587, 0.114)
_BW_FILTERS = {
    "yellow": (0.40, 0.52, 0.08),
    "orange": (0.55, 0.40, 0.05),
    "red": (0.75, 0.25, 0.00),
    "green": (0.20, 0.72, 0.08),
}

Channels = tuple[np.ndarray, np.ndarray, np.ndarray]


@cache
def _pillow_lut() -> ModuleType:
    return require("pillow_lut", "lut", PIN)


def _enhance(source: int | ImageFilter.Color3DLUT, **settings: Any) -> ImageFilter.Color3DLUT:
    """`rgb_color_enhance` on a new identity table (``source`` = size) or on a given table."""
    settings = {key: value for key, value in settings.items() if value is not None}
    return _pillow_lut().rgb_color_enhance(source, **settings)


def _mapping(function: Callable[[np.ndarray, np.ndarray, np.ndarray], Channels]):
    """A table from a vectorised ``(r, g, b) -> (r, g, b)`` on the identity table's points.

    What pillow-lut's generators have no setting for (a channel mixer, a matte curve) is written
    as a mapping of the identity table, in numpy rather than a per-point Python callback.
    """
    identity = _pillow_lut().identity_table(LUT_SIZE)
    points = np.asarray(identity.table, dtype=np.float32).reshape(-1, 3)
    r, g, b = function(points[:, 0], points[:, 1], points[:, 2])
    table = np.clip(np.stack([r, g, b], axis=-1), 0.0, 1.0).astype(np.float32)
    return ImageFilter.Color3DLUT(identity.size, table.reshape(-1))


def _apply(image: Image.Image, table: ImageFilter.Color3DLUT) -> Image.Image:
    return image.convert("RGB").filter(table)


def bw(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Black & white through a random colour filter, with a little contrast and exposure."""
    name = list(_BW_FILTERS)[int(rng.integers(len(_BW_FILTERS)))]
    t = rng.uniform(0.0, 1.0)
    weights = (1 - t) * np.array(_LUMINANCE) + t * np.array(_BW_FILTERS[name])

    def mix(r: np.ndarray, g: np.ndarray, b: np.ndarray) -> Channels:
        grey = weights[0] * r + weights[1] * g + weights[2] * b
        return grey, grey, grey

    # Contrast and exposure act on each channel alike, so the table stays neutral grey.
    table = _enhance(
        _mapping(mix), contrast=rng.uniform(0.0, 0.35), exposure=rng.uniform(-0.25, 0.25)
    )
    return _apply(image, table)


def sepia(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Monochrome, then toned brown in the midtones by per-channel gamma, like a sepia print."""
    s = rng.uniform(0.6, 1.0)
    table = _enhance(
        LUT_SIZE,
        saturation=-1.0,
        exposure=rng.uniform(-0.2, 0.2),
        contrast=rng.uniform(-0.15, 0.1),
        gamma=(1 - 0.25 * s, 1 - 0.03 * s, 1 + 0.45 * s),
    )
    return _apply(image, table)


def warm(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Warmer white balance: pillow-lut's warmth plus red up / blue down in the exposure."""
    exposure = rng.uniform(-0.1, 0.15)
    shift = rng.uniform(0.0, 0.12)
    table = _enhance(
        LUT_SIZE,
        warmth=rng.uniform(0.3, 0.7),
        exposure=(exposure + shift, exposure, exposure - shift),
        contrast=rng.uniform(-0.05, 0.15),
        saturation=rng.uniform(0.0, 0.2),
    )
    return _apply(image, table)


def cool(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Cooler white balance: negative warmth plus blue up / red down, slightly desaturated."""
    exposure = rng.uniform(-0.1, 0.1)
    shift = rng.uniform(0.0, 0.12)
    table = _enhance(
        LUT_SIZE,
        warmth=rng.uniform(-0.7, -0.3),
        exposure=(exposure - shift, exposure, exposure + shift),
        contrast=rng.uniform(-0.05, 0.15),
        saturation=rng.uniform(-0.2, 0.05),
    )
    return _apply(image, table)


def high_key(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Bright, soft and airy: strong positive exposure, lowered contrast and saturation."""
    table = _enhance(
        LUT_SIZE,
        exposure=rng.uniform(0.5, 1.0),
        contrast=rng.uniform(-0.3, -0.1),
        saturation=rng.uniform(-0.3, -0.05),
    )
    return _apply(image, table)


def low_key(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Dark and dramatic: more contrast, negative exposure and a darkening gamma."""
    table = _enhance(
        LUT_SIZE,
        contrast=rng.uniform(0.15, 0.4),
        exposure=rng.uniform(-0.9, -0.4),
        gamma=rng.uniform(1.1, 1.5),
        saturation=rng.uniform(-0.35, -0.1),
    )
    return _apply(image, table)


def faded(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Faded film: desaturated, softer, a slight tint, then a matte curve (lifted blacks)."""
    grade = _enhance(
        LUT_SIZE,
        saturation=rng.uniform(-0.5, -0.2),
        contrast=rng.uniform(-0.2, -0.05),
        warmth=rng.uniform(-0.1, 0.25),
    )
    black = rng.uniform(0.08, 0.18) + rng.uniform(-0.02, 0.02, size=3)
    white = rng.uniform(0.85, 0.95)

    def matte(r: np.ndarray, g: np.ndarray, b: np.ndarray) -> Channels:
        # Levels on the output: 0 -> that channel's black point, 1 -> the white point.
        return (
            black[0] + (white - black[0]) * r,
            black[1] + (white - black[1]) * g,
            black[2] + (white - black[2]) * b,
        )

    # transform_lut(grade, matte): every point of the grade passed through the matte curve.
    table = _pillow_lut().transform_lut(grade, _mapping(matte))
    return _apply(image, table)


def vivid(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Punchy colour: saturation and vibrance up, more contrast."""
    table = _enhance(
        LUT_SIZE,
        saturation=rng.uniform(0.3, 0.7),
        vibrance=rng.uniform(0.2, 0.6),
        contrast=rng.uniform(0.1, 0.3),
        exposure=rng.uniform(0.05, 0.2),
    )
    return _apply(image, table)


LOOKS: dict[str, LookFn] = {
    "bw": bw,
    "sepia": sepia,
    "warm": warm,
    "cool": cool,
    "high_key": high_key,
    "low_key": low_key,
    "faded": faded,
    "vivid": vivid,
}

FAMILY = Family(
    name="lut",
    description="3D LUTs from pillow-lut's colour settings and custom tables (Color3DLUT)",
    looks=LOOKS,
    library=PIN,
)
