"""Why two photos look alike, in a photographer's words, from their style vectors.

A photo gets descriptive attributes from absolute thresholds on its style features ("black &
white", "low-key", "warm"…); a recommendation's reasons are the attributes both photos share,
most telling first. Thresholds were set by looking at the demo looks and the shared photo set.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .features.style import StyleExtractor, named

MAX_REASONS = 3


def style_attributes(vector: np.ndarray) -> list[str]:
    """Descriptive attributes of one photo, most telling first."""
    f = named(vector)
    attributes: list[str] = []
    chroma = f["chroma_mean"]
    if chroma < 2.5:
        attributes.append("black & white")
    elif chroma < 12 and f["hue_concentration"] > 0.85:
        warm_tone = f["mean_b"] > 0
        attributes.append("sepia-toned" if warm_tone else "cool-toned monochrome")
    else:
        if f["mean_b"] > 14 or f["warmth_rb"] > 0.09:
            attributes.append("warm")
        elif f["mean_b"] < 0 and f["warmth_rb"] < -0.02:
            attributes.append("cool")
        if chroma > 26:
            attributes.append("vivid colour")
        elif chroma < 11:
            attributes.append("muted colour")

    if f["luminance_mean"] < 30:
        attributes.append("low-key")
    elif f["luminance_mean"] > 66:
        attributes.append("high-key")
    if f["luminance_std"] > 27:
        attributes.append("punchy contrast")
    elif f["luminance_std"] < 14:
        attributes.append("soft contrast")
    if f["black_point"] > 12:
        attributes.append("faded blacks")
    if f["vignette"] < -12:
        attributes.append("vignette")
    return attributes


_INDEX = {name: i for i, name in enumerate(StyleExtractor.feature_names)}


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
        kinds: dict[tuple[str, ...], int] = {}
        self.kind = [kinds.setdefault(tuple(style_attributes(row)), len(kinds)) for row in style]
        self.kinds = list(kinds)
        self._pairs: dict[tuple[int, int], list[str]] = {}

    def __call__(self, i: int, j: int) -> list[str]:
        """`reasons(style[i], style[j])`."""
        key = (self.kind[i], self.kind[j])
        shared = self._pairs.get(key)
        if shared is None:
            shared = self._pairs[key] = _shared(self.kinds[key[0]], self.kinds[key[1]])
        return shared or _generic(self.style[i], self.style[j])
