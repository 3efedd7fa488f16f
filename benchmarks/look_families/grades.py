"""Look family ``grades``: many random colour grades, for *training* the look metric only.

Held-out figures say that a metric trained on more kinds of look carries over better to looks
it has not seen (three training families 0.51, five 0.53). The six scored families hold about
fifty looks between them; this family adds `GRADES` more, each a random point in the space of
ordinary grading controls, so that the metric learns what "a look" is from many of them rather
than from the few a library happens to ship. It is never a test family (`fit_look_metric.py
--train-only`), so it cannot flatter a figure: the scored family is still held out, and this
family's code is not theirs (plain numpy, written from the controls of a raw converter's basic
panel, not from any of their recipes).

A grade is drawn once from ``default_rng(GRADE_SEED + index)`` (so ``g07`` is the same grade on
every photo and every run) and jittered on every call with the caller's ``rng`` (±`JITTER` of
each control's range), like the other families' looks. Controls, applied in this order on float
RGB in [0, 1]:

- exposure: × 2^U(-0.6, 0.6) in linear light; white balance: each channel × e^N(0, 0.1);
- colour: monochrome with probability 0.2 (Rec. 709 luma), else saturation U(0.3, 1.7);
- tone: gamma e^U(-0.45, 0.45), contrast: a blend towards (positive) or away from (negative)
  a smoothstep S-curve by U(-0.6, 1.0);
- split toning: shadows and highlights each pushed towards a random hue at U(0, 0.18)
  (a duotone-like print tone when the grade is monochrome);
- output levels: black U(0, 0.2) (faded), white U(0.8, 1.0);
- vignette with probability 0.3 (strength U(0.2, 0.6)); Gaussian blur with probability 0.15
  (radius U(0.3, 1.0) % of the long side) or unsharp mask with probability 0.2; film grain
  with probability 0.3 (σ U(0.01, 0.04)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from benchmarks.look_families import Family, LookFn

GRADES = 40
GRADE_SEED = 20261203
JITTER = 0.08  # of each control's range, per call
LUMA = np.array([0.2126, 0.7152, 0.0722])


@dataclass(frozen=True)
class Grade:
    exposure: float
    balance: tuple[float, float, float]
    mono: bool
    saturation: float
    gamma: float
    contrast: float
    shadow_tint: tuple[float, float]  # (hue in turns, strength)
    highlight_tint: tuple[float, float]
    black: float
    white: float
    vignette: float
    blur: float
    sharpen: float
    grain: float


def draw_grade(rng: np.random.Generator) -> Grade:
    return Grade(
        exposure=rng.uniform(-0.6, 0.6),
        balance=tuple(float(x) for x in rng.normal(0.0, 0.1, 3)),
        mono=bool(rng.random() < 0.2),
        saturation=rng.uniform(0.3, 1.7),
        gamma=rng.uniform(-0.45, 0.45),
        contrast=rng.uniform(-0.6, 1.0),
        shadow_tint=(rng.random(), rng.uniform(0.0, 0.18)),
        highlight_tint=(rng.random(), rng.uniform(0.0, 0.18)),
        black=rng.uniform(0.0, 0.2),
        white=rng.uniform(0.8, 1.0),
        vignette=rng.uniform(0.2, 0.6) if rng.random() < 0.3 else 0.0,
        blur=rng.uniform(0.003, 0.01) if rng.random() < 0.15 else 0.0,
        sharpen=rng.uniform(0.5, 1.5) if rng.random() < 0.2 else 0.0,
        grain=rng.uniform(0.01, 0.04) if rng.random() < 0.3 else 0.0,
    )


def _jitter(value: float, low: float, high: float, rng: np.random.Generator) -> float:
    return float(np.clip(value + rng.uniform(-JITTER, JITTER) * (high - low), low, high))


def _hue_rgb(hue: float) -> np.ndarray:
    """A fully saturated colour of `hue` (turns), minus its luma: a direction to tint in."""
    channels = np.clip(np.abs((hue * 6.0 + np.array([0.0, 4.0, 2.0])) % 6.0 - 3.0) - 1.0, 0, 1)
    return channels - channels @ LUMA


def render(grade: Grade, image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """`grade` on `image`, each control jittered with `rng`."""
    pixels = np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0
    linear = pixels**2.2 * 2.0 ** _jitter(grade.exposure, -0.6, 0.6, rng)
    linear = linear * np.exp(np.array(grade.balance) + rng.normal(0.0, 0.01, 3))
    pixels = np.clip(linear, 0.0, 1.0) ** (1 / 2.2)
    grey = (pixels @ LUMA)[..., None]
    saturation = 0.0 if grade.mono else _jitter(grade.saturation, 0.3, 1.7, rng)
    pixels = np.clip(grey + saturation * (pixels - grey), 0.0, 1.0)
    pixels = pixels ** np.exp(_jitter(grade.gamma, -0.45, 0.45, rng))
    s_curve = pixels * pixels * (3 - 2 * pixels)
    pixels = pixels + _jitter(grade.contrast, -0.6, 1.0, rng) * (s_curve - pixels)
    luma = (np.clip(pixels, 0, 1) @ LUMA)[..., None]
    for (hue, strength), weight in (
        (grade.shadow_tint, (1.0 - luma) ** 2),
        (grade.highlight_tint, luma**2),
    ):
        pixels = pixels + _jitter(strength, 0.0, 0.18, rng) * weight * _hue_rgb(hue)
    black = _jitter(grade.black, 0.0, 0.2, rng)
    white = _jitter(grade.white, 0.8, 1.0, rng)
    pixels = black + np.clip(pixels, 0.0, 1.0) * (white - black)
    if grade.vignette:
        h, w = pixels.shape[:2]
        y, x = np.ogrid[-1 : 1 : complex(0, h), -1 : 1 : complex(0, w)]
        radius = np.sqrt((x * x + y * y) / 2.0)
        pixels = pixels * (1.0 - _jitter(grade.vignette, 0.2, 0.6, rng) * radius[..., None] ** 2)
    out = Image.fromarray(np.round(np.clip(pixels, 0.0, 1.0) * 255).astype(np.uint8), "RGB")
    if grade.blur:
        out = out.filter(ImageFilter.GaussianBlur(max(1.0, grade.blur * max(out.size))))
    elif grade.sharpen:
        out = out.filter(ImageFilter.UnsharpMask(2, int(100 * grade.sharpen), 2))
    if grade.grain:
        noisy = np.asarray(out, dtype=np.float64) / 255.0
        noise = rng.normal(0.0, grade.grain, noisy.shape[:2])[..., None]
        out = Image.fromarray(np.round(np.clip(noisy + noise, 0, 1) * 255).astype(np.uint8))
    return out


#: each look's grade, by look name (``g00`` ... ``g39``)
GRADE_OF: dict[str, Grade] = {
    f"g{i:02d}": draw_grade(np.random.default_rng(GRADE_SEED + i)) for i in range(GRADES)
}


def _look(name: str, grade: Grade) -> LookFn:
    def look(image: Image.Image, rng: np.random.Generator) -> Image.Image:
        return render(grade, image, rng)

    look.__name__ = look.__qualname__ = name
    look.__doc__ = f"random grade {name}: {grade}"
    return look


FAMILY = Family(
    name="grades",
    description=f"{GRADES} random colour grades (numpy), for training the look metric only",
    looks={name: _look(name, grade) for name, grade in GRADE_OF.items()},
    library="stylefinder (benchmarks/look_families/grades.py)",
)
