"""Photographic "looks": the styles the demo gallery and the retrieval benchmark are made of.

Each look is a pure function ``look(image, rng=None) -> image`` on PIL images, built like a
Lightroom preset from a few standard operations (tone curve, levels, white balance in linear light,
saturation, toning, vignette), vectorised with numpy. Without ``rng`` a look applies its canonical
parameters; with a ``numpy.random.Generator`` each strength is jittered (about ±25 %) and tints vary
slightly, so one look is a family of similar edits, never one exact filter. The jitter scales how
far a look moves away from the original, never its direction: a jittered warm look is still warm.

Input: any PIL image (converted to RGB); output: an RGB image of the same size. No Django here.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image

LookFn = Callable[..., Image.Image]  # (image, rng=None) -> image

# Luma weights of ITU-R BT.601 (what Pillow's "L" conversion uses) and of linear sRGB (BT.709).
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_LUMA_LINEAR = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)


# --- building blocks on float32 arrays (H, W, 3) in [0, 1] ---------------------------------------


def _to_array(image: Image.Image) -> np.ndarray:
    if image.mode != "RGB":
        image = image.convert("RGB")
    return np.asarray(image, dtype=np.float32) / 255.0


def _to_image(pixels: np.ndarray) -> Image.Image:
    out = np.clip(pixels, 0.0, 1.0) * 255.0 + 0.5
    return Image.fromarray(out.astype(np.uint8), "RGB")


def _jitter(rng: np.random.Generator | None, value: float, spread: float = 0.25) -> float:
    """``value`` scaled by a random factor in [1 - spread, 1 + spread] (unchanged without rng)."""
    return value if rng is None else value * float(1.0 + rng.uniform(-spread, spread))


def _offset(rng: np.random.Generator | None, size: float) -> float:
    """A small random offset in [-size, size] (0 without rng): tint variations."""
    return 0.0 if rng is None else float(rng.uniform(-size, size))


def _luma(pixels: np.ndarray, weights: np.ndarray = _LUMA) -> np.ndarray:
    return pixels @ weights


def _saturation(pixels: np.ndarray, factor: float) -> np.ndarray:
    """Move every pixel away from (factor > 1) or towards (factor < 1) its own grey."""
    grey = _luma(pixels)[..., None]
    return grey + factor * (pixels - grey)


def _vibrance(pixels: np.ndarray, amount: float) -> np.ndarray:
    """Saturation that favours muted colours; saturated ones move much less (no clipping)."""
    chroma = pixels.max(axis=2, keepdims=True) - pixels.min(axis=2, keepdims=True)
    grey = _luma(pixels)[..., None]
    return grey + (1.0 + amount * (1.0 - chroma) ** 2) * (pixels - grey)


def _contrast(pixels: np.ndarray, strength: float, pivot: float = 0.5) -> np.ndarray:
    """A sigmoid tone curve through (0, 0) and (1, 1); the slope at ``pivot`` grows with strength.

    ``strength`` around 4 is a gentle S-curve, 8 a punchy one; values near 0 are the identity.
    """
    if strength < 1e-3:
        return pixels
    low = 1.0 / (1.0 + np.exp(strength * pivot))
    high = 1.0 / (1.0 + np.exp(-strength * (1.0 - pivot)))
    curve = 1.0 / (1.0 + np.exp(-strength * (pixels - pivot)))
    # Normalised so black stays black and white stays white; blended so small strengths are gentle.
    s_curve = (curve - low) / (high - low)
    mix = min(1.0, strength / 4.0)
    return np.clip((1.0 - mix) * pixels + mix * s_curve, 0.0, 1.0)


def _levels(pixels: np.ndarray, black, white) -> np.ndarray:
    """Output levels: 0 maps to ``black`` and 1 to ``white`` (scalars or per-channel triples)."""
    black = np.asarray(black, dtype=np.float32)
    white = np.asarray(white, dtype=np.float32)
    return black + (white - black) * pixels


def _srgb_to_linear(pixels: np.ndarray) -> np.ndarray:
    return np.where(pixels <= 0.04045, pixels / 12.92, ((pixels + 0.055) / 1.055) ** 2.4)


def _linear_to_srgb(pixels: np.ndarray) -> np.ndarray:
    pixels = np.clip(pixels, 0.0, 1.0)
    return np.where(
        pixels <= 0.0031308, pixels * 12.92, 1.055 * np.power(pixels, 1.0 / 2.4) - 0.055
    )


def _white_balance(pixels: np.ndarray, gains) -> np.ndarray:
    """Multiply channels in linear light, normalised so a neutral grey keeps its brightness."""
    gains = np.asarray(gains, dtype=np.float32)
    gains = gains / float(gains @ _LUMA_LINEAR)
    return _linear_to_srgb(_srgb_to_linear(pixels) * gains)


def _shadow_tint(pixels: np.ndarray, tint: np.ndarray) -> np.ndarray:
    """Add a colour cast that is strongest in the shadows and fades out in the highlights."""
    weight = (1.0 - _luma(pixels))[..., None] ** 2
    return pixels + weight * tint


def _vignette(pixels: np.ndarray, strength: float) -> np.ndarray:
    """Darken towards the corners: ``strength`` is the light lost in the far corners."""
    height, width = pixels.shape[:2]
    y = np.linspace(-1.0, 1.0, height, dtype=np.float32)[:, None]
    x = np.linspace(-1.0, 1.0, width, dtype=np.float32)[None, :]
    radius2 = (x * x + y * y) / 2.0  # 0 in the centre, 1 in the corners
    return pixels * (1.0 - strength * radius2**1.5)[..., None]


def _look(function: Callable[[np.ndarray, np.random.Generator | None], np.ndarray]) -> LookFn:
    """Turn an array function into a look on PIL images (same size, RGB)."""

    def look(image: Image.Image, rng: np.random.Generator | None = None) -> Image.Image:
        return _to_image(function(_to_array(image), rng))

    look.__name__ = function.__name__
    look.__qualname__ = look.__name__
    look.__doc__ = function.__doc__
    return look


# --- the looks ------------------------------------------------------------------------------------


def original(image: Image.Image, rng: np.random.Generator | None = None) -> Image.Image:
    """Original: the photo as it is, the reference every other look is compared with."""
    return image.convert("RGB") if image.mode != "RGB" else image.copy()


@_look
def black_white(pixels: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
    """Black & white: a channel mix (colour-filter variations) and a contrast S-curve."""
    # A jittered mix imitates shooting through a red, orange or green filter.
    weights = _LUMA + np.array(
        [_offset(rng, 0.10), _offset(rng, 0.05), _offset(rng, 0.05)], dtype=np.float32
    )
    weights = np.clip(weights, 0.02, None)
    grey = _luma(pixels, weights / weights.sum())
    grey = _contrast(grey, _jitter(rng, 6.0), pivot=0.5 + _offset(rng, 0.04))
    return np.repeat(grey[..., None], 3, axis=2)


@_look
def sepia(pixels: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
    """Sepia toning: monochrome, split into warm brown shadows and cream highlights."""
    grey = _contrast(_luma(pixels), _jitter(rng, 3.0))
    strength = _jitter(rng, 1.0)
    # Per-channel gamma: red lifted, blue held down, so mid-tones turn brown and the ends stay
    # neutral-ish; then warm levels (dark-brown blacks, cream paper whites) as on a toned print.
    exponents = 1.0 + strength * np.array(
        [-0.28 + _offset(rng, 0.04), 0.02 + _offset(rng, 0.03), 0.45 + _offset(rng, 0.06)],
        dtype=np.float32,
    )
    toned = np.power(grey[..., None], exponents)
    black = np.array([0.07, 0.045, 0.02], dtype=np.float32) * strength
    white = 1.0 - np.array([0.0, 0.03, 0.10], dtype=np.float32) * strength
    return _levels(toned, black, white)


@_look
def warm(pixels: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
    """Warm: white balance shifted towards yellow/orange (a lower colour temperature)."""
    strength = _jitter(rng, 1.0)
    gains = (
        1.0 + strength * 0.28,
        1.0 + strength * (0.06 + _offset(rng, 0.03)),
        1.0 - strength * 0.36,
    )
    warm = _white_balance(pixels, gains)
    # A touch of amber in the shadows too, where a white-balance gain has nothing to multiply.
    warm = _shadow_tint(warm, strength * np.array([0.035, 0.015, -0.03], dtype=np.float32))
    return _saturation(warm, 1.0 + _jitter(rng, 0.08))


@_look
def cool(pixels: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
    """Cool: white balance shifted towards blue (a higher colour temperature)."""
    strength = _jitter(rng, 1.0)
    gains = (
        1.0 - strength * 0.30,
        1.0 + strength * (0.02 + _offset(rng, 0.03)),
        1.0 + strength * 0.45,
    )
    cool = _white_balance(pixels, gains)
    cool = _shadow_tint(cool, strength * np.array([-0.03, 0.005, 0.04], dtype=np.float32))
    return _saturation(cool, 1.0 - _jitter(rng, 0.05))


@_look
def high_key(pixels: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
    """High-key: bright, airy and soft: shadows lifted, light tones, low contrast."""
    # An exposure-like curve that lifts everything but keeps white where it is.
    power = 1.0 + _jitter(rng, 1.3)
    bright = 1.0 - np.power(1.0 - pixels, power)
    bright = _levels(bright, _jitter(rng, 0.10), 1.0)
    return _saturation(bright, 1.0 - _jitter(rng, 0.20))


@_look
def low_key(pixels: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
    """Low-key: dark and moody: deep shadows, contrast, darkened corners."""
    dark = np.power(pixels, 1.0 + _jitter(rng, 1.1))
    dark = _contrast(dark, _jitter(rng, 5.0), pivot=0.35)
    dark = _vignette(dark, _jitter(rng, 0.45))
    return _saturation(dark, 1.0 - _jitter(rng, 0.10))


@_look
def faded(pixels: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
    """Faded: matte film: lifted blacks, dimmed whites, muted colours, a faint tint."""
    soft = _contrast(pixels, _jitter(rng, 2.0))  # a hint of S before the fade keeps it film-like
    muted = _saturation(soft, 1.0 - _jitter(rng, 0.45))
    lift = _jitter(rng, 0.17)
    # Slightly warm-green matte blacks by default; the tint varies with the rng.
    tint = np.array(
        [0.010 + _offset(rng, 0.02), 0.010 + _offset(rng, 0.02), -0.01 + _offset(rng, 0.02)],
        dtype=np.float32,
    )
    return _levels(muted, lift + tint, 1.0 - _jitter(rng, 0.09))


@_look
def vivid(pixels: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
    """Vivid: saturated colours (vibrance plus saturation) and punchy contrast."""
    punchy = _contrast(pixels, _jitter(rng, 5.0))
    return _saturation(_vibrance(punchy, _jitter(rng, 0.9)), 1.0 + _jitter(rng, 0.15))


LOOKS: dict[str, LookFn] = {
    "original": original,
    "black_white": black_white,
    "sepia": sepia,
    "warm": warm,
    "cool": cool,
    "high_key": high_key,
    "low_key": low_key,
    "faded": faded,
    "vivid": vivid,
}

# How people read each look's name (titles, admin, charts).
LOOK_LABELS: dict[str, str] = {
    "original": "original",
    "black_white": "black & white",
    "sepia": "sepia",
    "warm": "warm",
    "cool": "cool",
    "high_key": "high-key",
    "low_key": "low-key",
    "faded": "faded",
    "vivid": "vivid",
}


def apply_look(
    image: Image.Image, name: str, rng: np.random.Generator | None = None
) -> Image.Image:
    """Apply the look called ``name``; with ``rng`` its parameters are randomly jittered.

    Raises ``KeyError`` for an unknown look.
    """
    try:
        look = LOOKS[name]
    except KeyError:
        raise KeyError(f"Unknown look {name!r}; choose one of {', '.join(LOOKS)}") from None
    return look(image, rng)
