"""Album names from the members' own attributes (no Django: the benchmarks name albums too).

`describe_cluster` names a cluster from its members' raw style vectors ("Warm · low-key"): the
attributes most members share (`explain.attribute_masks`), completed from their typical colour
and key when fewer than two dominate.
"""

from __future__ import annotations

import numpy as np

from .explain import ATTRIBUTES, attribute_masks
from .features.style import named

#: an attribute names a cluster when at least this share of its members have it
DOMINANT_SHARE = 0.6
MAX_NAME_PARTS = 3
MIN_NAME_PARTS = 2
NAME_SEPARATOR = " · "

_COLOUR_ATTRIBUTES = frozenset(ATTRIBUTES[:7])
_TONE_ATTRIBUTES = frozenset({"low-key", "high-key"})


def _capitalised(parts: list[str]) -> str:
    if not parts:
        return ""
    first = parts[0][:1].upper() + parts[0][1:]
    return NAME_SEPARATOR.join([first, *parts[1:]])


def _colour_word(chroma: float) -> str:
    """How colourful a cluster is on the whole, for a name when no colour attribute dominates."""
    if chroma < 6:
        return "near-monochrome"
    if chroma < 14:
        return "soft colour"
    if chroma > 26:
        return "rich colour"
    return "mixed colour"


def _tone_word(luminance: float) -> str:
    if luminance < 40:
        return "dark tones"
    if luminance > 60:
        return "light tones"
    return "mid tones"


def describe_cluster(style_vectors: np.ndarray) -> tuple[str, list[str]]:
    """(automatic album name, dominant attributes) from the members' raw style vectors (m, 78).

    The dominant attributes are those at least `DOMINANT_SHARE` of the members have (see
    `explain.attribute_masks`), most telling first; the name joins two or three of them with
    " · ", the first word capitalised: "Black & white · low-key · punchy contrast". When fewer
    than two dominate, the name is completed from the members' median colourfulness and
    luminance: "Warm · mid tones", "Mixed colour · mid tones".
    """
    vectors = np.atleast_2d(np.asarray(style_vectors, dtype=np.float64))
    if vectors.size == 0 or vectors.shape[0] == 0:
        return "Mixed styles", []
    counts = attribute_masks(vectors).sum(axis=0)
    needed = DOMINANT_SHARE * len(vectors)
    dominant = [a for a, count in zip(ATTRIBUTES, counts, strict=True) if count >= needed]
    parts = dominant[:MAX_NAME_PARTS]
    if len(parts) < MIN_NAME_PARTS:
        typical = named(np.median(vectors, axis=0))
        if not _COLOUR_ATTRIBUTES.intersection(parts):
            parts.insert(0, _colour_word(typical["chroma_mean"]))
        if len(parts) < MIN_NAME_PARTS and not _TONE_ATTRIBUTES.intersection(parts):
            parts.append(_tone_word(typical["luminance_mean"]))
    return _capitalised(parts[:MAX_NAME_PARTS]), dominant
