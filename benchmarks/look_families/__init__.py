"""Families of photographic looks for the labelled style sets of `make_style_set.py`.

The style features were designed against the project's own looks (`photos/looks.py`): a benchmark
rendered only with them measures how well the features recognise the edits they were tuned on.
The other families make the same kinds of look (black & white, sepia, warm, ...) with independent
implementations from PyPI libraries, so a retrieval score on them says whether the features find
*styles*, not one implementation's fingerprints. ``recipes`` (published darkroom and grading
recipes in numpy + scikit-image) and ``pillow`` (Pillow's own ImageEnhance/ImageOps chains) add
further looks written without any of that code.

Every look is a ``LookFn``: ``look(image, rng) -> image``, RGB in and RGB out of the same size,
whose parameters are drawn from ranges with ``rng`` on every call (a look is a family of edits,
never one exact filter). The same ``rng`` state gives the same output, so the sets are
reproducible.

Families import their library only when one of their looks runs, so the registry (and
``--family looks``) works without the benchmark-only dependencies of requirements-dev.txt.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType

import numpy as np
from PIL import Image

LookFn = Callable[[Image.Image, np.random.Generator], Image.Image]


@dataclass(frozen=True)
class Family:
    """A named set of looks made by one implementation (one library)."""

    name: str
    description: str
    looks: dict[str, LookFn] = field(repr=False)
    library: str  # where the looks come from: a PyPI ``name==version`` pin, or the project


def require(module: str, family: str, pin: str) -> ModuleType:
    """Import a family's library, or say which pin is missing (they live in requirements-dev.txt).

    The benchmark must not silently fall back to another implementation, hence an error, not a
    warning.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"look family {family!r} needs {pin}: "
            f".venv/bin/pip install -r requirements-dev.txt ({exc})"
        ) from exc


def _project_looks() -> Family:
    """The project's own looks: the family the style features were designed against."""
    from photos.looks import LOOKS, apply_look

    def make(name: str) -> LookFn:
        def look(image: Image.Image, rng: np.random.Generator) -> Image.Image:
            return apply_look(image, name, rng=rng)

        look.__name__ = look.__qualname__ = name
        look.__doc__ = f"photos.looks {name!r} with its jitter drawn from rng."
        return look

    return Family(
        name="looks",
        description="the project's own looks (photos/looks.py): what the features were tuned on",
        looks={name: make(name) for name in LOOKS if name != "original"},
        library="stylefinder (photos/looks.py)",
    )


def _families() -> dict[str, Family]:
    # Imported here, not at the top: the family modules import `Family` and `require` from here.
    from benchmarks.look_families import augment, grades, instagram, lut, pillow_ops, recipes

    found = [
        _project_looks(),
        lut.FAMILY,
        augment.FAMILY,
        instagram.FAMILY,
        recipes.FAMILY,
        pillow_ops.FAMILY,
        grades.FAMILY,
    ]
    return {family.name: family for family in found}


FAMILIES: dict[str, Family] = _families()


def get_family(name: str) -> Family:
    """The family called ``name``; a ``ValueError`` naming the known ones otherwise.

    A ValueError with a readable message (not a bare KeyError) so that a command line can hand it
    to ``SystemExit`` or ``parser.error`` as it is.
    """
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(
            f"Unknown look family {name!r}; choose one of {', '.join(FAMILIES)}"
        ) from None
