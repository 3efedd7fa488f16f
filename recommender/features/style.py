"""Hand-made style features: tone, contrast, colour, toning, sharpness, texture, vignetting.

Every feature is listed, with its meaning, in `FEATURES` below: that table is the one place where
they are documented (README links here). The extractor works on a copy no larger than
`WORK_SIDE` px, so one photo costs a few milliseconds; callers decode JPEGs in draft mode to
about that size.

Conventions: sRGB input; luminance is CIE L* (0–100); a*/b* are CIELAB opponent axes (a* green→
magenta, b* blue→yellow); chroma = sqrt(a*² + b*²). Shares are fractions of the image's pixels
(0–1) unless said otherwise. Scales differ between features on purpose: the index standardises
every feature over the gallery before it compares photos.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage
from skimage.color import rgb2lab
from skimage.feature import local_binary_pattern

from .base import FeatureExtractor

WORK_SIDE = 256

TONE_BINS = ("shadows", "darks", "lights", "highlights")  # quarters of the 0–255 range
HUES = ("red", "orange", "yellow", "green", "cyan", "blue", "purple")
# Hue sector edges in degrees (CIELAB hue angle); red wraps around 0.
_HUE_EDGES = np.array([0.0, 45.0, 75.0, 105.0, 165.0, 225.0, 285.0, 345.0])
_LBP_BINS = 10  # uniform LBP with 8 neighbours: 9 uniform patterns + 1 "other"
NEUTRAL_CHROMA = 6.0  # below this chroma a pixel reads as grey
_CHANNELS = ("red", "green", "blue")
_TONE_PERCENTILES = (1, 5, 25, 50, 75, 95, 99)
_LUMINANCE_BINS = 8
_TONAL_BANDS = (("shadows", "< 30"), ("midtones", "30–70"), ("highlights", "> 70"))
_AB_BINS = 4
_AB_STEP = 20.0

# (name, description) in output order: the one table of the features. `style_values` computes
# each by name and `StyleExtractor.extract` orders them by this table (checked on every call).
FEATURES: list[tuple[str, str]] = [
    ("luminance_mean", "Key: mean L* (low-key photos are dark, high-key bright)."),
    ("luminance_std", "Global (RMS) contrast: standard deviation of L*."),
    *[(f"luminance_p{p:02d}", f"Tone curve: {p}th percentile of L*.") for p in _TONE_PERCENTILES],
    ("dynamic_range", "L* 99th minus 1st percentile: how much of the tonal range is used."),
    ("michelson_contrast", "(p95 − p5)/(p95 + p5) of L*, the original research's contrast."),
    *[
        (f"luminance_hist_{i}", f"Share of pixels with L* in [{i * 12.5:g}, {(i + 1) * 12.5:g}).")
        for i in range(_LUMINANCE_BINS)
    ],
    *[
        (
            f"{channel}_{band}",
            f"Share of pixels whose {channel} value falls in the {band} quarter "
            "(0–63, 64–127, 128–191, 192–255), per channel as in the original research.",
        )
        for channel in _CHANNELS
        for band in TONE_BINS
    ],
    ("mean_red", "Mean red (0–1): colour temperature, with mean green and blue."),
    ("mean_green", "Mean green (0–1)."),
    ("mean_blue", "Mean blue (0–1)."),
    ("mean_a", "Tint: mean a* (negative green, positive magenta)."),
    ("mean_b", "Warmth: mean b* (negative blue/cool, positive yellow/warm)."),
    ("warmth_rb", "Mean of red minus blue (0–1 scale): white balance warm/cool."),
    ("chroma_mean", "Mean chroma: how colourful the average pixel is (0 for black & white)."),
    ("chroma_std", "Spread of chroma."),
    ("chroma_p90", "90th percentile of chroma: the most colourful parts."),
    ("saturation_mean", "Mean HSV saturation."),
    ("saturation_std", "Spread of HSV saturation."),
    ("colourfulness", "Hasler & Süsstrunk colourfulness (rg/yb opponent spread and mean)."),
    ("neutral_share", f"Share of near-neutral pixels (chroma < {NEUTRAL_CHROMA:g})."),
    *[
        (f"hue_{hue}", f"Chroma-weighted share of {hue} among coloured pixels (seven major hues).")
        for hue in HUES
    ],
    ("hue_cos", "Chroma-weighted mean hue direction (cosine)."),
    ("hue_sin", "Chroma-weighted mean hue direction (sine)."),
    ("hue_concentration", "Length of the mean hue vector: 1 = one hue (toned), 0 = many hues."),
    ("shadow_a", "Split toning: mean a* of the shadows (L* < 30)."),
    ("shadow_b", "Split toning: mean b* of the shadows."),
    ("highlight_a", "Split toning: mean a* of the highlights (L* > 70)."),
    ("highlight_b", "Split toning: mean b* of the highlights."),
    ("black_point", "Lifted blacks: 0.5th percentile of L* (faded/matte looks raise it)."),
    ("white_point", "99.5th percentile of L* (clipped or muted highlights)."),
    ("sharpness_mean", "Mean gradient magnitude of L* (Sobel): sharpness."),
    ("sharpness_p99", "99th percentile of the gradient magnitude: the crispest edges."),
    ("edge_density", "Share of pixels whose gradient magnitude exceeds 8 L*/px."),
    ("laplacian_log_var", "log(1 + variance of the Laplacian): fine detail and focus."),
    ("grain", "Noise/grain: median absolute deviation of the L* high-pass residual."),
    ("local_contrast", "Mean standard deviation of L* in 16 px blocks: mid-tone texture."),
    *[
        (
            f"lbp_{i}",
            "Texture: share of uniform local binary pattern "
            + (f"{i}." if i < _LBP_BINS - 1 else "'non-uniform'."),
        )
        for i in range(_LBP_BINS)
    ],
    ("vignette", "Mean L* of the outer ring minus the centre (negative = darkened corners)."),
    ("centre_focus", "Sharpness of the centre relative to the whole (shallow depth of field)."),
    # The grade rather than the scene: what an editor's curves and colour wheels set.
    *[
        (
            f"{channel}_p{p:02d}",
            f"Per-channel tone curve: {p}th percentile of {channel} (0–1). Channel curves are "
            "how most looks are made (warm, cool, cross-processed, faded).",
        )
        for channel in _CHANNELS
        for p in _TONE_PERCENTILES
    ],
    ("midtone_a", "Toning of the midtones (30 ≤ L* ≤ 70): mean a*."),
    ("midtone_b", "Toning of the midtones: mean b*."),
    *[
        (f"{band}_chroma", f"Mean chroma of the {band} (L* {rng}): saturation per tonal range.")
        for band, rng in _TONAL_BANDS
    ],
    *[
        (
            f"ab_hist_{i}{j}",
            f"Share of pixels whose a* falls in the {i + 1}. and b* in the {j + 1}. of four "
            f"{_AB_STEP:g}-wide bins from −{2 * _AB_STEP:g} to {2 * _AB_STEP:g} (outside: edge "
            "bins): the palette's position, e.g. teal shadows and orange highlights.",
        )
        for i in range(_AB_BINS)
        for j in range(_AB_BINS)
    ],
]
FEATURE_NAMES: tuple[str, ...] = tuple(name for name, _ in FEATURES)
_FEATURE_SET = frozenset(FEATURE_NAMES)


_TEXTURE_PREFIXES = (
    "sharpness",
    "edge_density",
    "laplacian",
    "grain",
    "local_contrast",
    "lbp_",
    "vignette",
    "centre_focus",
)
_COLOUR_PREFIXES = (
    "mean_",
    "warmth",
    "chroma",
    "saturation",
    "colourfulness",
    "neutral",
    "hue_",
    "shadow_a",
    "shadow_b",
    "highlight_a",
    "highlight_b",
    "red_p",
    "green_p",
    "blue_p",
    "midtone",
    "shadows_chroma",
    "highlights_chroma",
    "ab_hist",
)


def feature_family(name: str) -> str:
    """'tone', 'colour' or 'texture': the index weighs each family as one block, so that the 20
    texture features (which mostly describe the scene, not the look) cannot outvote the others."""
    if name.startswith(_TEXTURE_PREFIXES):
        return "texture"
    if name.startswith(_COLOUR_PREFIXES):
        return "colour"
    return "tone"


def _work_copy(image: Image.Image) -> np.ndarray:
    """RGB float array in [0, 1], no larger than WORK_SIDE."""
    if image.mode != "RGB":
        image = image.convert("RGB")
    if max(image.size) > WORK_SIDE:
        image = image.copy()
        image.thumbnail((WORK_SIDE, WORK_SIDE), Image.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.float32) / 255.0


def _safe_mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else 0.0


def _uniform_shares(values: np.ndarray, low: float, high: float, bins: int) -> np.ndarray:
    """Like `_shares` for equal-width bins, via bincount (several times faster than histogram)."""
    index = ((values.ravel() - low) * (bins / (high - low))).astype(np.int64)
    np.clip(index, 0, bins - 1, out=index)
    return np.bincount(index, minlength=bins) / max(values.size, 1)


def _hsv_saturation(rgb: np.ndarray) -> np.ndarray:
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    high = np.maximum(np.maximum(red, green), blue)
    low = np.minimum(np.minimum(red, green), blue)
    return np.where(high > 1e-6, (high - low) / np.maximum(high, 1e-6), 0.0)


def _level_percentiles(levels: np.ndarray) -> list[float]:
    """`_TONE_PERCENTILES` of 8-bit levels (0–255) on the 0–1 scale, from one histogram (the
    nearest level at or above each rank: several times faster than `np.percentile`)."""
    cumulative = np.cumsum(np.bincount(levels, minlength=256))
    ranks = np.array(_TONE_PERCENTILES) / 100.0 * cumulative[-1]
    return [float(level) / 255.0 for level in np.searchsorted(cumulative, ranks)]


def style_values(image: Image.Image) -> dict[str, float]:
    """Every style feature of `image` by name: {name: value}, one entry per `FEATURES` row.

    Computed by name, not by position: `StyleExtractor.extract` orders these by `FEATURES`, and
    raises if a name is missing or unknown, so the table and the vector cannot drift apart.
    """
    rgb = _work_copy(image)
    height, width, _ = rgb.shape
    lab = rgb2lab(rgb)
    lum, a_star, b_star = lab[..., 0], lab[..., 1], lab[..., 2]
    chroma = np.hypot(a_star, b_star)
    flat_l = lum.ravel()
    v: dict[str, float] = {}

    # Tone and contrast.
    pct = np.percentile(flat_l, [0.5, 1, 5, 25, 50, 75, 95, 99, 99.5])
    p = dict(zip((0.5, 1, 5, 25, 50, 75, 95, 99, 99.5), (float(x) for x in pct), strict=True))
    v["luminance_mean"] = float(flat_l.mean())
    v["luminance_std"] = float(flat_l.std())
    for q in _TONE_PERCENTILES:
        v[f"luminance_p{q:02d}"] = p[q]
    v["dynamic_range"] = float(pct[7] - pct[1])
    v["michelson_contrast"] = float((pct[6] - pct[2]) / max(pct[6] + pct[2], 1e-6))
    for i, share in enumerate(_uniform_shares(flat_l, 0.0, 100.0, _LUMINANCE_BINS)):
        v[f"luminance_hist_{i}"] = float(share)
    for c, channel in enumerate(_CHANNELS):
        for band, share in zip(TONE_BINS, _uniform_shares(rgb[..., c], 0.0, 1.0, 4), strict=True):
            v[f"{channel}_{band}"] = float(share)

    # Colour.
    means = rgb.reshape(-1, 3).mean(axis=0)
    for channel, mean in zip(_CHANNELS, means, strict=True):
        v[f"mean_{channel}"] = float(mean)
    v["mean_a"] = float(a_star.mean())
    v["mean_b"] = float(b_star.mean())
    v["warmth_rb"] = float(means[0] - means[2])
    v["chroma_mean"] = float(chroma.mean())
    v["chroma_std"] = float(chroma.std())
    v["chroma_p90"] = float(np.percentile(chroma, 90))
    saturation = _hsv_saturation(rgb)
    v["saturation_mean"] = float(saturation.mean())
    v["saturation_std"] = float(saturation.std())
    rg = rgb[..., 0] - rgb[..., 1]
    yb = 0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2]
    v["colourfulness"] = float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))
    v["neutral_share"] = float((chroma < NEUTRAL_CHROMA).mean())

    # Hues, weighted by chroma so grey pixels don't vote.
    hue = np.degrees(np.arctan2(b_star, a_star)) % 360.0
    weight = np.where(chroma >= NEUTRAL_CHROMA, chroma, 0.0)
    total = float(weight.sum())
    sectors, _ = np.histogram(hue, bins=np.append(_HUE_EDGES, 360.0), weights=weight)
    sectors = np.append(sectors[0] + sectors[-1], sectors[1:-1])  # join red's two ends
    shares = sectors / total if total > 0 else np.zeros(len(HUES))
    for name, share in zip(HUES, shares, strict=True):
        v[f"hue_{name}"] = float(share)
    if total > 0:
        cos_mean = float((np.cos(np.radians(hue)) * weight).sum() / total)
        sin_mean = float((np.sin(np.radians(hue)) * weight).sum() / total)
    else:
        cos_mean = sin_mean = 0.0
    v["hue_cos"] = cos_mean
    v["hue_sin"] = sin_mean
    v["hue_concentration"] = float(np.hypot(cos_mean, sin_mean))

    # Split toning.
    shadows, highlights = lum < 30, lum > 70
    v["shadow_a"] = _safe_mean(a_star[shadows])
    v["shadow_b"] = _safe_mean(b_star[shadows])
    v["highlight_a"] = _safe_mean(a_star[highlights])
    v["highlight_b"] = _safe_mean(b_star[highlights])
    v["black_point"] = p[0.5]
    v["white_point"] = p[99.5]

    # Sharpness and texture.
    gx = ndimage.sobel(lum, axis=1, mode="reflect")
    gy = ndimage.sobel(lum, axis=0, mode="reflect")
    gradient = np.hypot(gx, gy) / 8.0  # Sobel's kernel weights sum to 8 per side
    v["sharpness_mean"] = float(gradient.mean())
    v["sharpness_p99"] = float(np.percentile(gradient, 99))
    v["edge_density"] = float((gradient > 8.0).mean())
    laplacian = ndimage.laplace(lum, mode="reflect")
    v["laplacian_log_var"] = float(np.log1p(laplacian.var()))
    residual = lum - ndimage.uniform_filter(lum, size=3, mode="reflect")
    v["grain"] = float(np.median(np.abs(residual - np.median(residual))))
    block = 16
    bh, bw = height // block, width // block
    if bh and bw:
        blocks = lum[: bh * block, : bw * block].reshape(bh, block, bw, block)
        v["local_contrast"] = float(blocks.std(axis=(1, 3)).mean())
    else:
        v["local_contrast"] = float(lum.std())
    grey8 = np.clip(lum * 2.55, 0, 255).astype(np.uint8)
    lbp = local_binary_pattern(grey8, P=8, R=1, method="uniform")
    counts = np.bincount(lbp.astype(np.int64).ravel(), minlength=_LBP_BINS) / lbp.size
    for i, share in enumerate(counts):
        v[f"lbp_{i}"] = float(share)

    # Vignetting and where the detail is.
    yy, xx = np.mgrid[0:height, 0:width]
    radius = np.hypot((yy - height / 2) / (height / 2), (xx - width / 2) / (width / 2))
    centre, ring = radius < 0.5, radius > 1.0
    v["vignette"] = _safe_mean(lum[ring]) - _safe_mean(lum[centre])
    v["centre_focus"] = _safe_mean(gradient[centre]) / max(float(gradient.mean()), 1e-6)

    # The grade.
    levels = np.rint(rgb * 255.0).astype(np.int64).reshape(-1, 3)
    for c, channel in enumerate(_CHANNELS):
        for q, value in zip(_TONE_PERCENTILES, _level_percentiles(levels[:, c]), strict=True):
            v[f"{channel}_p{q:02d}"] = value
    midtones = ~shadows & ~highlights
    v["midtone_a"] = _safe_mean(a_star[midtones])
    v["midtone_b"] = _safe_mean(b_star[midtones])
    for (band, _), mask in zip(_TONAL_BANDS, (shadows, midtones, highlights), strict=True):
        v[f"{band}_chroma"] = _safe_mean(chroma[mask])
    a_bin = np.clip(((a_star + 2 * _AB_STEP) // _AB_STEP).astype(np.int64), 0, _AB_BINS - 1)
    b_bin = np.clip(((b_star + 2 * _AB_STEP) // _AB_STEP).astype(np.int64), 0, _AB_BINS - 1)
    joint = np.bincount((a_bin * _AB_BINS + b_bin).ravel(), minlength=_AB_BINS**2) / a_bin.size
    for i in range(_AB_BINS):
        for j in range(_AB_BINS):
            v[f"ab_hist_{i}{j}"] = float(joint[i * _AB_BINS + j])
    return v


class StyleExtractor(FeatureExtractor):
    name = "style"
    version = 2  # 2: grade features (channel curves, midtone tint, chroma by tone, a*b* palette)
    dim = len(FEATURE_NAMES)
    input_side = WORK_SIDE
    feature_names = FEATURE_NAMES

    def extract(self, image: Image.Image) -> np.ndarray:
        values = style_values(image)
        if values.keys() != _FEATURE_SET:  # a programming error, not bad input
            missing = sorted(_FEATURE_SET - values.keys())
            unknown = sorted(values.keys() - _FEATURE_SET)
            raise AssertionError(f"style values: missing {missing}, not in FEATURES {unknown}")
        vector = np.array([values[name] for name in FEATURE_NAMES], dtype=np.float32)
        return np.nan_to_num(vector, nan=0.0, posinf=0.0, neginf=0.0)


def named(vector: np.ndarray) -> dict[str, float]:
    """A style vector as {feature name: value}, for explanations and debugging."""
    return dict(zip(FEATURE_NAMES, (float(v) for v in vector), strict=True))
