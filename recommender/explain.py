"""Why two photos look alike, in a photographer's words, from their style vectors.

A photo gets descriptive attributes from absolute thresholds on its style features ("black &
white", "low-key", "warm"…); a recommendation's reasons are the attributes both photos share,
most telling first. Thresholds were set by looking at the demo looks and the shared photo set.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .features.style import StyleExtractor

MAX_REASONS = 3
_INDEX = {name: i for i, name in enumerate(StyleExtractor.feature_names)}


#: every attribute a photo can have, most telling first: what colour it is, then its key,
#: contrast and finish (a photo's list keeps this order)
ATTRIBUTES = (
    "black & white",
    "sepia-toned",
    "cool-toned monochrome",
    "warm",
    "cool",
    "vivid colour",
    "muted colour",
    "low-key",
    "high-key",
    "punchy contrast",
    "soft contrast",
    "faded blacks",
    "vignette",
)


def attribute_masks(vectors: np.ndarray) -> np.ndarray:
    """(n, len(ATTRIBUTES)) booleans: the attributes of each of the style `vectors` (n, 78).
    One pass over the matrix: a million-photo re-cluster asks for all of them twice (reasons
    and album names), 13 s each one photo at a time."""
    vectors = np.atleast_2d(vectors)

    def feature(name: str) -> np.ndarray:  # in double precision, as the thresholds are written
        return vectors[:, _INDEX[name]].astype(np.float64)

    chroma, mean_b, warmth = feature("chroma_mean"), feature("mean_b"), feature("warmth_rb")
    luminance, contrast = feature("luminance_mean"), feature("luminance_std")
    mono = chroma < 2.5
    toned = ~mono & (chroma < 12) & (feature("hue_concentration") > 0.85)
    colour = ~mono & ~toned
    warm = (mean_b > 14) | (warmth > 0.09)
    vivid = chroma > 26
    low_key, punchy = luminance < 30, contrast > 27
    masks = {
        "black & white": mono,
        "sepia-toned": toned & (mean_b > 0),
        "cool-toned monochrome": toned & ~(mean_b > 0),
        "warm": colour & warm,
        "cool": colour & ~warm & (mean_b < 0) & (warmth < -0.02),
        "vivid colour": colour & vivid,
        "muted colour": colour & ~vivid & (chroma < 11),
        "low-key": low_key,
        "high-key": ~low_key & (luminance > 66),
        "punchy contrast": punchy,
        "soft contrast": ~punchy & (contrast < 14),
        "faded blacks": feature("black_point") > 12,
        "vignette": feature("vignette") < -12,
    }
    return np.stack([masks[name] for name in ATTRIBUTES], axis=1)


def attribute_lists(vectors: np.ndarray) -> tuple[list[tuple[str, ...]], np.ndarray]:
    """The distinct attribute lists of the style `vectors` and each photo's: (lists, (n,)
    index into them). A gallery has a few hundred lists, however many photos."""
    masks = attribute_masks(vectors)
    codes = masks.astype(np.int64) @ (1 << np.arange(len(ATTRIBUTES), dtype=np.int64))
    distinct, which = np.unique(codes, return_inverse=True)
    lists = [tuple(a for bit, a in enumerate(ATTRIBUTES) if code >> bit & 1) for code in distinct]
    return lists, which.reshape(-1)


def style_attributes(vector: np.ndarray) -> list[str]:
    """Descriptive attributes of one photo, most telling first."""
    return [ATTRIBUTES[i] for i in np.flatnonzero(attribute_masks(vector)[0])]


def reasons(source: np.ndarray | None, candidate: np.ndarray | None) -> list[str]:
    """Shared attributes of two photos (at most MAX_REASONS); a generic reason when none.
    (`PairReasons` answers the same for the many pairs of an index build.)"""
    if source is None or candidate is None:
        return []
    shared = _shared(style_attributes(source), style_attributes(candidate))
    return shared or _generic(source, candidate)


def _shared(ours: Sequence[str], theirs: Sequence[str]) -> list[str]:
    """The attributes of `ours` that `theirs` has too, most telling first, at most
    MAX_REASONS."""
    return [attribute for attribute in ours if attribute in theirs][:MAX_REASONS]


def _generic(source: np.ndarray, candidate: np.ndarray) -> list[str]:
    """The reason for two photos that share no attribute."""

    def gap(feature: str) -> float:
        return abs(float(source[_INDEX[feature]]) - float(candidate[_INDEX[feature]]))

    if gap("luminance_mean") < 8 and gap("luminance_std") < 5:
        return ["similar tones"]
    if gap("chroma_mean") < 5 and gap("mean_b") < 5:
        return ["similar colour palette"]
    return ["similar overall style"]


class PairReasons:
    """`reasons` for many pairs of one gallery's photos, as an index build asks (20 a photo, 20
    million at a million photos): each photo's attributes are computed once, and the shared
    attributes of each pair of attribute lists once (a gallery has a few hundred lists)."""

    def __init__(self, style: np.ndarray):
        self.style = style
        self.kinds, which = attribute_lists(style)
        self.kind = which.tolist()
        self._pairs: dict[tuple[int, int], list[str]] = {}

    def __call__(self, i: int, j: int) -> list[str]:
        """`reasons(style[i], style[j])`."""
        key = (self.kind[i], self.kind[j])
        shared = self._pairs.get(key)
        if shared is None:
            shared = self._pairs[key] = _shared(self.kinds[key[0]], self.kinds[key[1]])
        return shared or _generic(self.style[i], self.style[j])
