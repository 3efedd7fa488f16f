"""Look family ``pilgram``: ten Instagram-like filters from pilgram, at a random strength.

pilgram re-implements the CSSgram recreations of Instagram's filters with Pillow (colour fills
blended in screen/overlay/soft-light modes, CSS contrast/brightness/saturate/sepia, vignettes):
looks made by somebody else for people, not by this project for its features, and unlike the
other families they are not the eight named looks but ten others, several of them mixtures
(a faded warm tone, a vignette with high contrast).

A pilgram filter is fixed, so each look blends its result with the original by a strength drawn
U(0.75, 1.0) on every call (`Image.blend`, as an app's intensity slider does): a look is a family
of edits, never one exact filter. The look ``1977`` is pilgram's ``_1977``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from types import ModuleType

import numpy as np
from PIL import Image

from benchmarks.look_families import Family, LookFn, require

PIN = "pilgram==2.0.0"
STRENGTH = (0.75, 1.0)

# Look name -> pilgram function name (Python names cannot start with a digit).
FILTERS = {
    "1977": "_1977",
    "aden": "aden",
    "brannan": "brannan",
    "clarendon": "clarendon",
    "earlybird": "earlybird",
    "gingham": "gingham",
    "inkwell": "inkwell",
    "lofi": "lofi",
    "nashville": "nashville",
    "toaster": "toaster",
}


@cache
def _pilgram() -> ModuleType:
    return require("pilgram", "pilgram", PIN)


def _look(name: str) -> LookFn:
    function_name = FILTERS[name]

    def look(image: Image.Image, rng: np.random.Generator) -> Image.Image:
        source = image.convert("RGB")
        instagram: Callable[[Image.Image], Image.Image] = getattr(_pilgram(), function_name)
        filtered = instagram(source).convert("RGB")
        return Image.blend(source, filtered, float(rng.uniform(*STRENGTH)))

    look.__name__ = look.__qualname__ = f"pilgram_{function_name.lstrip('_')}"
    look.__doc__ = f"pilgram.{function_name} blended with the original at strength U{STRENGTH}."
    return look


LOOKS: dict[str, LookFn] = {name: _look(name) for name in FILTERS}

FAMILY = Family(
    name="pilgram",
    description="Instagram-like filters (pilgram's CSSgram recreations), random strength",
    looks=LOOKS,
    library=PIN,
)
