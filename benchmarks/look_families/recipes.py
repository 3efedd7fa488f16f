"""Look family ``recipes``: ten looks written from published darkroom and colour-grading recipes.

Each look follows the recipe a photographer or colourist would describe (overlay with its own
luminance for a bleach bypass, per-channel curves for cross processing, the W3C sepia matrix,
...), implemented here with numpy and scikit-image (`skimage.exposure`, `skimage.color`,
`skimage.filters`) on float RGB in [0, 1], independently of `photos/looks.py`. Every parameter
is drawn from a range with the caller's ``rng`` on every call. "Luma" is the Rec. 709 weighted
sum of the (gamma-encoded) channels; an "S-curve of gain g" is `adjust_sigmoid` (cutoff 0.5
unless said) rescaled so that 0 and 1 stay fixed; "saturation k" mixes each pixel with its luma
(k = 0 grey, 1 unchanged).

- ``bleach_bypass``: the image overlaid on its own luma (overlay blend mode) at opacity
  U(0.7, 1.0), saturation U(0.35, 0.6), S-curve gain U(3, 6).
- ``cross_process``: red S-curve gain U(6, 10), green S-curve gain U(4, 8) (cutoffs
  U(0.45, 0.55)); blue levels from 0..1 to U(0.12, 0.25)..U(0.72, 0.88) (shadows lifted,
  highlights compressed) with gamma U(0.9, 1.1): blue shadows, yellow highlights.
- ``teal_orange``: in CIELAB, chroma of skin/orange hues (within 35 degrees of the orange angle)
  boosted by U(1.1, 1.35); L* S-curve gain U(3, 5); shadows shifted U(12, 25) a*b* units towards
  teal (hue angle U(195, 225) degrees), highlights U(10, 20) towards orange (U(45, 70) degrees).
- ``matte``: saturation U(0.7, 0.9), then levels of the output: black to U(0.06, 0.16) (each
  channel moved by U(-0.015, 0.015) for a film tint), white to U(0.82, 0.94).
- ``split_tone``: saturation U(0.5, 0.85); shadows tinted with a hue U(190, 260) degrees
  (cyan to violet) at strength U(0.12, 0.25), highlights with a hue U(25, 60) (orange to gold)
  at U(0.1, 0.2); the crossover between them moved by a balance U(-0.15, 0.15).
- ``sepia_matrix``: the W3C Filter Effects ``sepia()`` colour matrix at amount U(0.7, 1.0),
  then gamma U(0.9, 1.1).
- ``duotone``: luma stretched between its U(0, 2) and U(98, 100) percentiles, gamma
  U(0.8, 1.25), mapped from a dark colour (random hue, saturation U(0.5, 0.9), value
  U(0.12, 0.3)) to a light one (hue U(90, 270) degrees away, saturation U(0.15, 0.45), value
  U(0.88, 1.0)).
- ``lomo``: HSV saturation x U(1.3, 1.7), S-curve gain U(6, 10), a dark vignette
  1 - s r^p (r = 0 at the centre, 1 in the corners; s U(0.55, 0.85), p U(1.5, 2.5)).
- ``silver``: saturation U(0.1, 0.25), a cool tint (red x 1 - t, blue x 1 + t, t U(0.04, 0.08)),
  `unsharp_mask` with radius U(1.5, 4) % of the long side and amount U(0.5, 1.0) (local
  contrast, "clarity"), S-curve gain U(3, 6).
- ``golden_hour``: white balance in linear light (red x U(1.12, 1.3), green x U(1.0, 1.06),
  blue x U(0.68, 0.85), exposure x U(0.95, 1.1)), then a soft tone curve: levels of the output
  from U(0.03, 0.08) (lifted shadows) to U(0.95, 1.0), gamma U(0.85, 1.0).
"""

from __future__ import annotations

import warnings
from functools import cache
from types import SimpleNamespace

import numpy as np
from PIL import Image

from benchmarks.look_families import Family, LookFn, require

PIN = "scikit-image==0.26.0"  # a runtime dependency (requirements.txt)
LUMA = np.array([0.2126, 0.7152, 0.0722])  # Rec. 709 weights

# W3C Filter Effects Module Level 1, "sepia()": the matrix at amount a is
# SEPIA_BASE + (1 - a) * (identity - SEPIA_BASE) (the spec writes it out entry by entry).
SEPIA_BASE = np.array(
    [
        [0.393, 0.769, 0.189],
        [0.349, 0.686, 0.168],
        [0.272, 0.534, 0.131],
    ]
)


@cache
def _skimage() -> SimpleNamespace:
    """The scikit-image modules the recipes use, imported on the first look that runs."""
    return SimpleNamespace(
        color=require("skimage.color", "recipes", PIN),
        exposure=require("skimage.exposure", "recipes", PIN),
        filters=require("skimage.filters", "recipes", PIN),
    )


def _pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0


def _image(pixels: np.ndarray) -> Image.Image:
    return Image.fromarray(np.round(np.clip(pixels, 0.0, 1.0) * 255).astype(np.uint8), "RGB")


def _luma(pixels: np.ndarray) -> np.ndarray:
    return pixels @ LUMA


def _saturation(pixels: np.ndarray, amount: float) -> np.ndarray:
    """Mix every pixel with its luma: 0 grey, 1 unchanged, > 1 more colourful."""
    grey = _luma(pixels)[..., None]
    return grey + amount * (pixels - grey)


def _s_curve(values: np.ndarray, gain: float, cutoff: float = 0.5) -> np.ndarray:
    """`adjust_sigmoid`, rescaled so that 0 -> 0 and 1 -> 1 (contrast without clipping)."""
    curve = _skimage().exposure.adjust_sigmoid(np.clip(values, 0.0, 1.0), cutoff=cutoff, gain=gain)
    low = 1.0 / (1.0 + np.exp(gain * cutoff))
    high = 1.0 / (1.0 + np.exp(gain * (cutoff - 1.0)))
    return (curve - low) / (high - low)


def _levels(values: np.ndarray, black: float, white: float) -> np.ndarray:
    """Output levels: 0..1 mapped linearly to black..white."""
    return _skimage().exposure.rescale_intensity(
        np.clip(values, 0.0, 1.0), in_range=(0.0, 1.0), out_range=(float(black), float(white))
    )


def _smoothstep(edge0: float, edge1: float, values: np.ndarray) -> np.ndarray:
    t = np.clip((values - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _hsv_colour(hue: float, saturation: float, value: float) -> np.ndarray:
    """One RGB colour (floats in [0, 1]) from HSV, hue in turns."""
    hsv = np.array([[[hue % 1.0, saturation, value]]])
    return _skimage().color.hsv2rgb(hsv)[0, 0]


def _srgb_to_linear(values: np.ndarray) -> np.ndarray:
    values = np.clip(values, 0.0, 1.0)
    return np.where(values <= 0.04045, values / 12.92, ((values + 0.055) / 1.055) ** 2.4)


def _linear_to_srgb(values: np.ndarray) -> np.ndarray:
    values = np.clip(values, 0.0, 1.0)
    return np.where(values <= 0.0031308, values * 12.92, 1.055 * values ** (1 / 2.4) - 0.055)


def bleach_bypass(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Skipping the bleach keeps silver in the print: a luminance layer overlaid on the colour."""
    pixels = _pixels(image)
    grey = _luma(pixels)[..., None]
    overlay = np.where(pixels < 0.5, 2 * pixels * grey, 1 - 2 * (1 - pixels) * (1 - grey))
    pixels = pixels + rng.uniform(0.7, 1.0) * (overlay - pixels)
    pixels = _saturation(pixels, rng.uniform(0.35, 0.6))
    return _image(_s_curve(pixels, rng.uniform(3.0, 6.0)))


def cross_process(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Slide film in negative chemistry: contrasty red and green, a flat lifted blue channel."""
    exposure = _skimage().exposure
    pixels = _pixels(image)
    red = _s_curve(pixels[..., 0], rng.uniform(6.0, 10.0), rng.uniform(0.45, 0.55))
    green = _s_curve(pixels[..., 1], rng.uniform(4.0, 8.0), rng.uniform(0.45, 0.55))
    blue = _levels(pixels[..., 2], rng.uniform(0.12, 0.25), rng.uniform(0.72, 0.88))
    blue = exposure.adjust_gamma(blue, rng.uniform(0.9, 1.1))
    return _image(np.stack([red, green, blue], axis=-1))


def teal_orange(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The blockbuster grade: skin and highlights to orange, shadows to its complement, teal."""
    color = _skimage().color
    lab = color.rgb2lab(_pixels(image))
    lightness, a, b = lab[..., 0] / 100.0, lab[..., 1], lab[..., 2]
    orange = np.radians(rng.uniform(45.0, 70.0))
    teal = np.radians(rng.uniform(195.0, 225.0))
    # Skin and other orange hues: more chroma, fading out 35 degrees away from the orange angle.
    closeness = np.cos(np.arctan2(b, a) - orange)
    skin = np.clip((closeness - np.cos(np.radians(35))) / (1 - np.cos(np.radians(35))), 0, 1)
    boost = 1 + (rng.uniform(1.1, 1.35) - 1) * skin
    a, b = a * boost, b * boost
    shadows = 1 - _smoothstep(0.0, 0.6, lightness)
    highlights = _smoothstep(0.4, 1.0, lightness)
    shadow_shift = rng.uniform(12.0, 25.0) * shadows
    highlight_shift = rng.uniform(10.0, 20.0) * highlights
    a = a + shadow_shift * np.cos(teal) + highlight_shift * np.cos(orange)
    b = b + shadow_shift * np.sin(teal) + highlight_shift * np.sin(orange)
    lightness = 100 * _s_curve(lightness, rng.uniform(3.0, 5.0))
    with warnings.catch_warnings():  # out-of-gamut colours are clipped, which is what we want
        warnings.simplefilter("ignore", UserWarning)
        rgb = color.lab2rgb(np.stack([lightness, a, b], axis=-1))
    return _image(rgb)


def matte(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A matte print: nothing reaches black or white, colour slightly muted."""
    pixels = _saturation(_pixels(image), rng.uniform(0.7, 0.9))
    black = rng.uniform(0.06, 0.16) + rng.uniform(-0.015, 0.015, size=3)
    white = rng.uniform(0.82, 0.94)
    channels = [_levels(pixels[..., c], black[c], white) for c in range(3)]
    return _image(np.stack(channels, axis=-1))


def split_tone(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Split toning: one hue added to the shadows, another to the highlights."""
    pixels = _saturation(_pixels(image), rng.uniform(0.5, 0.85))
    grey = _luma(pixels)
    balance = rng.uniform(-0.15, 0.15)
    shadows = 1 - _smoothstep(0.0, 0.55 + balance, grey)
    highlights = _smoothstep(0.45 + balance, 1.0, grey)
    for weight, hue, strength in (
        (shadows, rng.uniform(190.0, 260.0), rng.uniform(0.12, 0.25)),
        (highlights, rng.uniform(25.0, 60.0), rng.uniform(0.1, 0.2)),
    ):
        tint = _hsv_colour(hue / 360.0, 1.0, 1.0)
        tint = tint - tint @ LUMA  # a pure colour shift: the luma is left as it was
        pixels = pixels + strength * weight[..., None] * tint
    return _image(pixels)


def sepia_matrix(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """CSS ``filter: sepia(amount)``: the W3C colour matrix, then a little gamma."""
    amount = rng.uniform(0.7, 1.0)
    matrix = SEPIA_BASE + (1 - amount) * (np.eye(3) - SEPIA_BASE)
    pixels = np.clip(_pixels(image) @ matrix.T, 0.0, 1.0)
    return _image(_skimage().exposure.adjust_gamma(pixels, rng.uniform(0.9, 1.1)))


def duotone(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A two-ink print: the luma mapped from a dark colour to a light colour of another hue."""
    exposure = _skimage().exposure
    grey = _luma(_pixels(image))
    low, high = np.percentile(grey, (rng.uniform(0.0, 2.0), rng.uniform(98.0, 100.0)))
    if high - low > 1e-3:
        grey = exposure.rescale_intensity(grey, in_range=(low, high), out_range=(0.0, 1.0))
    grey = exposure.adjust_gamma(np.clip(grey, 0.0, 1.0), rng.uniform(0.8, 1.25))
    hue = rng.uniform(0.0, 1.0)
    dark = _hsv_colour(hue, rng.uniform(0.5, 0.9), rng.uniform(0.12, 0.3))
    light = _hsv_colour(
        hue + rng.uniform(0.25, 0.75), rng.uniform(0.15, 0.45), rng.uniform(0.88, 1)
    )
    return _image(dark + (light - dark) * grey[..., None])


def lomo(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A toy-camera look: loud colour, hard contrast, corners falling off into darkness."""
    color = _skimage().color
    hsv = color.rgb2hsv(_pixels(image))
    hsv[..., 1] = np.clip(hsv[..., 1] * rng.uniform(1.3, 1.7), 0.0, 1.0)
    pixels = _s_curve(color.hsv2rgb(hsv), rng.uniform(6.0, 10.0))
    height, width = pixels.shape[:2]
    y = np.linspace(-1.0, 1.0, height)[:, None]
    x = np.linspace(-1.0, 1.0, width)[None, :]
    radius = np.sqrt((x**2 + y**2) / 2)  # 0 at the centre, 1 in the corners
    vignette = 1 - rng.uniform(0.55, 0.85) * radius ** rng.uniform(1.5, 2.5)
    return _image(pixels * vignette[..., None])


def silver(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Desaturated, cool and crisp: a "silver" grade with strong local contrast (clarity)."""
    pixels = _saturation(_pixels(image), rng.uniform(0.1, 0.25))
    tint = rng.uniform(0.04, 0.08)
    pixels = pixels * np.array([1 - tint, 1.0, 1 + tint])
    radius = max(1.0, rng.uniform(0.015, 0.04) * max(image.size))
    # channel_axis=2, not -1: skimage 0.26's unsharp_mask slices the channels with
    # slice_at_axis(c, -1) == (c, ...), i.e. along the rows, and returns uninitialised memory.
    pixels = _skimage().filters.unsharp_mask(
        np.clip(pixels, 0.0, 1.0), radius=radius, amount=rng.uniform(0.5, 1.0), channel_axis=2
    )
    return _image(_s_curve(pixels, rng.uniform(3.0, 6.0)))


def golden_hour(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Low warm sun: a warm white balance in linear light, open shadows, gentle contrast."""
    linear = _srgb_to_linear(_pixels(image))
    gains = np.array([rng.uniform(1.12, 1.3), rng.uniform(1.0, 1.06), rng.uniform(0.68, 0.85)])
    pixels = _linear_to_srgb(linear * gains * rng.uniform(0.95, 1.1))
    pixels = _levels(pixels, rng.uniform(0.03, 0.08), rng.uniform(0.95, 1.0))
    return _image(_skimage().exposure.adjust_gamma(pixels, rng.uniform(0.85, 1.0)))


LOOKS: dict[str, LookFn] = {
    "bleach_bypass": bleach_bypass,
    "cross_process": cross_process,
    "teal_orange": teal_orange,
    "matte": matte,
    "split_tone": split_tone,
    "sepia_matrix": sepia_matrix,
    "duotone": duotone,
    "lomo": lomo,
    "silver": silver,
    "golden_hour": golden_hour,
}

FAMILY = Family(
    name="recipes",
    description="darkroom and grading recipes in numpy + scikit-image (curves, Lab, matrices)",
    looks=LOOKS,
    library=PIN,
)
