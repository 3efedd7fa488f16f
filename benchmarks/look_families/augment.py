"""Look family ``albumentations``: the eight looks from albumentations' colour transforms.

Albumentations is a data-augmentation library: its colour transforms (grey conversion, sepia
matrix, Planckian white balance, brightness/contrast, gamma, HSV shifts, colour jitter) are
written for training networks, on numpy/OpenCV arrays, independently of `photos/looks.py`. Each
look chains a few of them, every one with ``p=1.0`` and its random ranges; every transform is
seeded from the caller's ``rng`` (`set_random_seed`, one seed each so their draws are
independent), so the same generator state gives the same image.

- ``bw``: `ToGray` with a conversion method drawn from weighted_average, from_lab, desaturation,
  average; `RandomBrightnessContrast` (brightness -0.1..0.1, contrast 0..0.3); `RandomGamma`
  (gamma 0.8..1.25).
- ``sepia``: `ToSepia` (the classic sepia matrix); `RandomBrightnessContrast` (brightness
  -0.1..0.1, contrast -0.15..0.15); `RandomGamma` (0.85..1.2).
- ``warm``: `PlanckianJitter` (black body) at a colour temperature drawn U(3800, 5200) K (red
  gain 1.15-1.45, blue 0.5-0.85); `HueSaturationValue` (saturation +0..15, value -5..+10);
  `RandomBrightnessContrast` (±0.05 each).
- ``cool``: `PlanckianJitter` at U(8000, 12000) K (blue gain 1.2-1.4, red 0.8-0.95);
  `HueSaturationValue` (saturation -15..0, value -5..+5); `RandomBrightnessContrast` (±0.05).
- ``high_key``: `RandomBrightnessContrast` (brightness +0.1..0.25, contrast -0.3..-0.15);
  `RandomGamma` (0.65..0.9, brightening); `HueSaturationValue` (saturation -30..-10).
- ``low_key``: `RandomGamma` (1.4..2.0, darkening); `RandomBrightnessContrast` (brightness
  -0.2..-0.08, contrast +0.05..0.25); `HueSaturationValue` (saturation -30..0).
- ``faded``: `RandomBrightnessContrast` (contrast -0.4..-0.2 scales towards black, brightness
  +0.08..0.18 lifts it back: lifted blacks, lowered whites); `HueSaturationValue` (saturation
  -60..-30); `RGBShift` (red 0..+10, green -3..+5, blue -5..+8: a film tint).
- ``vivid``: `ColorJitter` (saturation 1.4..1.9, contrast 1.05..1.25, brightness 0.95..1.08, no
  hue shift).

`PlanckianJitter` can only sample ranges that contain 6000 K (and then lands near 6000 K most of
the time), so the warm and cool looks draw the temperature themselves and call its `apply`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import cache
from types import ModuleType
from typing import Any

import numpy as np
from PIL import Image

from benchmarks.look_families import Family, LookFn, require

# Albumentations asks PyPI for a newer release when it is imported: never from a benchmark.
os.environ["NO_ALBUMENTATIONS_UPDATE"] = "1"

PIN = "albumentations==2.0.8"
GRAY_METHODS = ("weighted_average", "from_lab", "desaturation", "average")


@cache
def _albumentations() -> ModuleType:
    return require("albumentations", "albumentations", PIN)


def _run(image: Image.Image, transforms: Sequence[Any], rng: np.random.Generator) -> Image.Image:
    """Apply ``transforms`` in order, each seeded with its own draw from ``rng``.

    `A.Compose(seed=...)` would give every transform the same seed, so their first draws would
    be equal (brightness and gamma would move together): one seed per transform instead.
    """
    pixels = np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))
    seeds = rng.integers(0, 2**32, size=len(transforms))
    for transform, seed in zip(transforms, seeds, strict=True):
        transform.set_random_seed(int(seed))
        pixels = transform(image=pixels)["image"]
    return Image.fromarray(np.asarray(pixels, dtype=np.uint8), "RGB")


def _planckian(image: Image.Image, kelvin: float) -> Image.Image:
    """Black-body white balance at ``kelvin`` (see the module docstring for why not sampled)."""
    jitter = _albumentations().PlanckianJitter(mode="blackbody", p=1.0)
    pixels = np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))
    return Image.fromarray(jitter.apply(pixels, temperature=int(kelvin)), "RGB")


def bw(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Grey by a random conversion method, then a little contrast and gamma."""
    A = _albumentations()
    method = GRAY_METHODS[int(rng.integers(len(GRAY_METHODS)))]
    transforms = [
        A.ToGray(num_output_channels=3, method=method, p=1.0),
        A.RandomBrightnessContrast(brightness_limit=(-0.1, 0.1), contrast_limit=(0.0, 0.3), p=1.0),
        A.RandomGamma(gamma_limit=(80, 125), p=1.0),
    ]
    return _run(image, transforms, rng)


def sepia(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The sepia matrix, then brightness, contrast and gamma varied."""
    A = _albumentations()
    transforms = [
        A.ToSepia(p=1.0),
        A.RandomBrightnessContrast(
            brightness_limit=(-0.1, 0.1), contrast_limit=(-0.15, 0.15), p=1.0
        ),
        A.RandomGamma(gamma_limit=(85, 120), p=1.0),
    ]
    return _run(image, transforms, rng)


def warm(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A low colour temperature (tungsten to golden hour) white balance."""
    A = _albumentations()
    warmed = _planckian(image, rng.uniform(3800, 5200))
    transforms = [
        A.HueSaturationValue(
            hue_shift_limit=(0, 0), sat_shift_limit=(0, 15), val_shift_limit=(-5, 10), p=1.0
        ),
        A.RandomBrightnessContrast(brightness_limit=0.05, contrast_limit=0.05, p=1.0),
    ]
    return _run(warmed, transforms, rng)


def cool(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A high colour temperature (shade, overcast) white balance, a little desaturated."""
    A = _albumentations()
    cooled = _planckian(image, rng.uniform(8000, 12000))
    transforms = [
        A.HueSaturationValue(
            hue_shift_limit=(0, 0), sat_shift_limit=(-15, 0), val_shift_limit=(-5, 5), p=1.0
        ),
        A.RandomBrightnessContrast(brightness_limit=0.05, contrast_limit=0.05, p=1.0),
    ]
    return _run(cooled, transforms, rng)


def high_key(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Brighter, flatter and paler."""
    A = _albumentations()
    transforms = [
        A.RandomBrightnessContrast(
            brightness_limit=(0.1, 0.25), contrast_limit=(-0.3, -0.15), p=1.0
        ),
        A.RandomGamma(gamma_limit=(65, 90), p=1.0),
        A.HueSaturationValue(
            hue_shift_limit=(0, 0), sat_shift_limit=(-30, -10), val_shift_limit=(0, 0), p=1.0
        ),
    ]
    return _run(image, transforms, rng)


def low_key(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Darker midtones and shadows, a little more contrast."""
    A = _albumentations()
    transforms = [
        A.RandomGamma(gamma_limit=(140, 200), p=1.0),
        A.RandomBrightnessContrast(
            brightness_limit=(-0.2, -0.08), contrast_limit=(0.05, 0.25), p=1.0
        ),
        A.HueSaturationValue(
            hue_shift_limit=(0, 0), sat_shift_limit=(-30, 0), val_shift_limit=(0, 0), p=1.0
        ),
    ]
    return _run(image, transforms, rng)


def faded(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Lifted blacks and lowered whites, washed-out colour and a slight film tint."""
    A = _albumentations()
    transforms = [
        A.RandomBrightnessContrast(
            brightness_limit=(0.08, 0.18), contrast_limit=(-0.4, -0.2), p=1.0
        ),
        A.HueSaturationValue(
            hue_shift_limit=(0, 0), sat_shift_limit=(-60, -30), val_shift_limit=(0, 0), p=1.0
        ),
        A.RGBShift(r_shift_limit=(0, 10), g_shift_limit=(-3, 5), b_shift_limit=(-5, 8), p=1.0),
    ]
    return _run(image, transforms, rng)


def vivid(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Saturated and contrasty colour (torchvision-style colour jitter, no hue change)."""
    A = _albumentations()
    transforms = [
        A.ColorJitter(
            brightness=(0.95, 1.08),
            contrast=(1.05, 1.25),
            saturation=(1.4, 1.9),
            hue=(0.0, 0.0),
            p=1.0,
        ),
    ]
    return _run(image, transforms, rng)


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
    name="albumentations",
    description="albumentations' colour transforms (augmentation library, numpy/OpenCV)",
    looks=LOOKS,
    library=PIN,
)
