"""Album names from the members' own attributes (no Django: the benchmarks name albums too).

`describe_cluster` names a cluster from its members' raw style vectors ("Warm · low-key"): the
attributes most members share (`explain.style_attributes`), completed from their typical colour
and key when fewer than two dominate.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from .explain import style_attributes
from .features.style import named

#: an attribute names a cluster when at least this share of its members have it
DOMINANT_SHARE = 0.6
MAX_NAME_PARTS = 3
MIN_NAME_PARTS = 2
NAME_SEPARATOR = " · "

#: most telling first: what colour a photo is, then its key, contrast and finish
#: (the order in which `explain.style_attributes` lists them)
ATTRIBUTE_ORDER = (
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
_COLOUR_ATTRIBUTES = frozenset(ATTRIBUTE_ORDER[:7])
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
    `explain.style_attributes`), most telling first; the name joins two or three of them with
    " · ", the first word capitalised: "Black & white · low-key · punchy contrast". When fewer
    than two dominate, the name is completed from the members' median colourfulness and
    luminance: "Warm · mid tones", "Mixed colour · mid tones".
    """
    vectors = np.atleast_2d(np.asarray(style_vectors, dtype=np.float64))
    if vectors.size == 0 or vectors.shape[0] == 0:
        return "Mixed styles", []
    per_member = [style_attributes(vector) for vector in vectors]
    counts = Counter(attribute for attributes in per_member for attribute in set(attributes))
    needed = DOMINANT_SHARE * len(per_member)
    first_seen: dict[str, int] = {}
    for attributes in per_member:
        for attribute in attributes:
            first_seen.setdefault(attribute, len(first_seen))

    def rank(attribute: str) -> tuple[int, int]:
        """Known attributes in `ATTRIBUTE_ORDER`; any other after them, as first met."""
        if attribute in ATTRIBUTE_ORDER:
            return (ATTRIBUTE_ORDER.index(attribute), 0)
        return (len(ATTRIBUTE_ORDER), first_seen[attribute])

    dominant = sorted((a for a, n in counts.items() if n >= needed), key=rank)
    parts = dominant[:MAX_NAME_PARTS]
    if len(parts) < MIN_NAME_PARTS:
        typical = named(np.median(vectors, axis=0))
        if not _COLOUR_ATTRIBUTES.intersection(parts):
            parts.insert(0, _colour_word(typical["chroma_mean"]))
        if len(parts) < MIN_NAME_PARTS and not _TONE_ATTRIBUTES.intersection(parts):
            parts.append(_tone_word(typical["luminance_mean"]))
    return _capitalised(parts[:MAX_NAME_PARTS]), dominant
