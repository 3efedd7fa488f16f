"""Look family ``pillow``: eight looks built only from Pillow's own image operations.

The looks a photo app without any colour science makes: chains of `ImageEnhance` (Color,
Contrast, Brightness, Sharpness: each blends with a degenerate image, a factor 1 changes
nothing), `ImageOps` (grayscale, colorize, autocontrast, posterize, solarize) and
`ImageFilter.GaussianBlur`, combined with `Image.blend`. Pillow's 8-bit integer arithmetic and
its ITU-R 601 grey are another implementation than `photos/looks.py` and than the float recipes
of ``recipes``. Every factor is drawn from a range with the caller's ``rng`` on every call:

- ``mono``: `grayscale`, Contrast U(1.1, 1.6), Brightness U(0.9, 1.1).
- ``toned``: `grayscale`, Contrast U(0.95, 1.3), then `colorize` from a dark to a light tone,
  brown (a sepia/selenium print) or blue (a cyanotype) with equal odds, each colour channel
  drawn from a range; black point U(0, 25), white point U(230, 255).
- ``washed``: Contrast U(0.5, 0.75), Brightness U(1.1, 1.3), Color U(0.4, 0.7).
- ``punchy``: `autocontrast` (cutoff U(0.5, 2) % each end), Color U(1.4, 1.9), Sharpness
  U(1.5, 3).
- ``dark_moody``: Brightness U(0.6, 0.8), Contrast U(1.2, 1.5), Color U(0.5, 0.8).
- ``dreamy``: a GaussianBlur (radius U(0.6, 1.5) % of the long side, at least 1.5 px) blended
  over the original at U(0.4, 0.7), Brightness U(1.15, 1.3), Contrast U(0.7, 0.85).
- ``retro_poster``: Color U(1.2, 1.6), then `posterize` to 3, 4 or 5 bits per channel.
- ``solar``: `solarize` above a threshold U(128, 200) blended over the original at
  U(0.5, 0.9): a partial Sabattier effect (the highlights turn back towards grey).
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

from benchmarks.look_families import Family, LookFn

PIN = "Pillow==12.0.0"  # a runtime dependency (requirements.txt)

# colorize tones: (dark colour, light colour), each channel U(low, high).
TONES = {
    "brown": (((40, 70), (20, 40), (5, 20)), ((235, 255), (220, 240), (190, 215))),
    "blue": (((5, 20), (20, 40), (50, 80)), ((200, 225), (220, 240), (240, 255))),
}


def _rgb(image: Image.Image) -> Image.Image:
    return image.convert("RGB")


def _enhance(image: Image.Image, enhancer: type, factor: float) -> Image.Image:
    return enhancer(image).enhance(float(factor))


def _colour(ranges: tuple[tuple[int, int], ...], rng: np.random.Generator) -> tuple[int, ...]:
    return tuple(int(rng.integers(low, high + 1)) for low, high in ranges)


def mono(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Black & white: Pillow's grey (ITU-R 601), more contrast, a little brightness."""
    grey = ImageOps.grayscale(_rgb(image))
    grey = _enhance(grey, ImageEnhance.Contrast, rng.uniform(1.1, 1.6))
    return _rgb(_enhance(grey, ImageEnhance.Brightness, rng.uniform(0.9, 1.1)))


def toned(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A toned monochrome print: grey mapped from a dark to a light brown or blue."""
    grey = _enhance(ImageOps.grayscale(_rgb(image)), ImageEnhance.Contrast, rng.uniform(0.95, 1.3))
    dark, light = TONES[list(TONES)[int(rng.integers(len(TONES)))]]
    return ImageOps.colorize(
        grey,
        black=_colour(dark, rng),
        white=_colour(light, rng),
        blackpoint=int(rng.integers(0, 26)),
        whitepoint=int(rng.integers(230, 256)),
    )


def washed(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Washed out: flat, bright and pale."""
    out = _enhance(_rgb(image), ImageEnhance.Contrast, rng.uniform(0.5, 0.75))
    out = _enhance(out, ImageEnhance.Brightness, rng.uniform(1.1, 1.3))
    return _enhance(out, ImageEnhance.Color, rng.uniform(0.4, 0.7))


def punchy(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Punchy: levels stretched to full range, loud colour, crisp edges."""
    out = ImageOps.autocontrast(_rgb(image), cutoff=float(rng.uniform(0.5, 2.0)))
    out = _enhance(out, ImageEnhance.Color, rng.uniform(1.4, 1.9))
    return _enhance(out, ImageEnhance.Sharpness, rng.uniform(1.5, 3.0))


def dark_moody(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Dark and moody: underexposed, contrasty, muted colour."""
    out = _enhance(_rgb(image), ImageEnhance.Brightness, rng.uniform(0.6, 0.8))
    out = _enhance(out, ImageEnhance.Contrast, rng.uniform(1.2, 1.5))
    return _enhance(out, ImageEnhance.Color, rng.uniform(0.5, 0.8))


def dreamy(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A soft-focus glow: the photo under a blurred copy of itself, brighter and flatter."""
    source = _rgb(image)
    radius = max(1.5, rng.uniform(0.006, 0.015) * max(source.size))
    blurred = source.filter(ImageFilter.GaussianBlur(radius))
    out = Image.blend(source, blurred, float(rng.uniform(0.4, 0.7)))
    out = _enhance(out, ImageEnhance.Brightness, rng.uniform(1.15, 1.3))
    return _enhance(out, ImageEnhance.Contrast, rng.uniform(0.7, 0.85))


def retro_poster(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A screen-print poster: boosted colour in a few flat levels per channel."""
    out = _enhance(_rgb(image), ImageEnhance.Color, rng.uniform(1.2, 1.6))
    return ImageOps.posterize(out, int(rng.integers(3, 6)))


def solar(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Partial solarisation (Sabattier): tones above a threshold inverted, mixed with the photo."""
    source = _rgb(image)
    solarized = ImageOps.solarize(source, threshold=int(rng.integers(128, 201)))
    return Image.blend(source, solarized, float(rng.uniform(0.5, 0.9)))


LOOKS: dict[str, LookFn] = {
    "mono": mono,
    "toned": toned,
    "washed": washed,
    "punchy": punchy,
    "dark_moody": dark_moody,
    "dreamy": dreamy,
    "retro_poster": retro_poster,
    "solar": solar,
}

FAMILY = Family(
    name="pillow",
    description="Pillow's own ImageEnhance / ImageOps / ImageFilter operations, chained",
    looks=LOOKS,
    library=PIN,
)
