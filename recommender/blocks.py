"""From extractor outputs to the weighted blocks of the style space, in one place.

The index build, the query path and `benchmarks/retrieval.py` all call `fit_space` and
`split_blocks`, so the benchmark measures exactly what the site serves.

Blocks (each standardised and scaled to unit mean squared norm by `StyleSpace`, then weighted):

- `look`: the style features and, when the CNN is the one it was fitted on, the CNN's channel
  statistics, projected by the learned look metric (`recommender.look_metric`, shipped in
  `recommender/data/`), weight `look_weight`: the directions in which photos differ by look
  rather than by scene. Without a fitting metric its weight goes to the `style.*` blocks.
- `style.tone`, `style.colour`, `style.texture`: the hand-made style features by family
  (`features.style.feature_family`), each weighted `style_weight` × its family factor. Splitting
  keeps the 18 texture features, which mostly describe the scene rather than the look, from
  outvoting colour and tone by their number.
- `cnn.style`: the CNN's early-layer channel mean/std (Gram-style statistics), weight
  `cnn_weight`. These describe rendering (colour, contrast, grain) more than content.
- `cnn.content`: the CNN's pooled embedding, reduced with PCA, weight `content_weight`. It says
  *what* is in the picture; a small weight breaks ties towards similar subjects.

The same content embedding, on its own, finds other edits of a photo (`space.CopyDetector`):
with `copy_threshold` set, a photo whose content cosine to the query is above it ranks after
every other photo in the default and look lists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np

from .features.style import FEATURES, feature_family
from .look_metric import LookMetric, shipped_copy_centre, shipped_metric
from .space import CopyDetector, StyleSpace

LOOK_BLOCK = "look"
STYLE_METRIC = "style"  # recommender/data/look_metric_style.npz
STYLE_CNN_METRIC = "style_cnn"  # recommender/data/look_metric_style_cnn.npz
COPY_BLOCK = "cnn.content"  # what tells another edit of the same photo

#: relative weight of each style family inside the style weight
STYLE_FAMILY_WEIGHTS = {"tone": 1.0, "colour": 1.0, "texture": 0.5}

_STYLE_INDEX = {
    family: np.array([i for i, (name, _) in enumerate(FEATURES) if feature_family(name) == family])
    for family in STYLE_FAMILY_WEIGHTS
}

# name → [start, stop) of each part of the CNN vector, as `CnnExtractor.blocks` reports it
Layout = dict[str, list[int]]


@dataclass(frozen=True)
class SpaceSettings:
    """The weights of the blocks (`RecommenderSettings` holds the photographer's; these
    defaults are the same, chosen by `benchmarks/fit_look_metric.py`)."""

    look_weight: float = 1.0
    style_weight: float = 0.0
    cnn_weight: float = 0.0
    content_weight: float = 0.05
    content_pca: int | None = 32
    copy_threshold: float | None = 0.7

    def as_config(self) -> dict:
        return asdict(self)


def cnn_layout(extractor) -> Layout:
    """The CNN extractor's parts as plain ranges (stored with each run)."""
    return {name: [part.start, part.stop] for name, part in extractor.blocks.items()}


def split_blocks(
    features: Mapping[str, np.ndarray], cnn_parts: Layout | None = None
) -> dict[str, np.ndarray]:
    """{'style': (n, 78), 'cnn': (n, d)} → {block name: (n, d_block)} (2-D arrays); ``style``
    stays whole too, as an input of the learned look block."""
    blocks: dict[str, np.ndarray] = {}
    style = features.get("style")
    if style is not None:
        style = np.atleast_2d(style)
        blocks["style"] = style
        for family, index in _STYLE_INDEX.items():
            blocks[f"style.{family}"] = style[:, index]
    cnn = features.get("cnn")
    if cnn is not None and cnn_parts:
        cnn = np.atleast_2d(cnn)
        start, stop = cnn_parts["style_stats"]
        blocks["cnn.style"] = cnn[:, start:stop]
        start, stop = cnn_parts["embedding"]
        blocks["cnn.content"] = cnn[:, start:stop]
        if "style_correlations" in cnn_parts:  # not in runs of CNN vectors before version 2
            start, stop = cnn_parts["style_correlations"]
            blocks["cnn.correlations"] = cnn[:, start:stop]
    return blocks


def look_metric_for(
    blocks: Mapping[str, np.ndarray], cnn_signature: str | None = None
) -> LookMetric | None:
    """The shipped look metric that fits these blocks: over the style features and the CNN's
    statistics when the CNN is the one it was fitted on, else over the style features alone."""
    candidates = [shipped_metric(STYLE_CNN_METRIC), shipped_metric(STYLE_METRIC)]
    for metric in candidates:
        if metric is None or any(name not in blocks for name in metric.inputs):
            continue
        if metric.cnn_signature is not None and metric.cnn_signature != cnn_signature:
            continue
        dims = tuple(np.atleast_2d(blocks[name]).shape[1] for name in metric.inputs)
        if dims == metric.input_dims:
            return metric
    return None


def block_weights(settings: SpaceSettings) -> dict[str, float]:
    weights = {LOOK_BLOCK: settings.look_weight}
    weights.update(
        {
            f"style.{family}": settings.style_weight * factor
            for family, factor in STYLE_FAMILY_WEIGHTS.items()
        }
    )
    weights["cnn.style"] = settings.cnn_weight
    weights["cnn.content"] = settings.content_weight
    weights["cnn.correlations"] = 0.0  # only ever an input of the look block
    return weights


def fit_space(
    photo_ids: np.ndarray,
    features: Mapping[str, np.ndarray],
    settings: SpaceSettings,
    cnn_parts: Layout | None = None,
    seed: int = 0,
    cnn_signature: str | None = None,
    look_metric: LookMetric | None = None,
    copy_centre: np.ndarray | None = None,
) -> StyleSpace:
    """The combined space over a gallery's vectors, as the index build makes it.

    The look block uses the shipped metric that fits the blocks and `cnn_signature`
    (`look_metric_for`), or `look_metric` if given (the benchmarks fit their own); the copy
    detector the shipped centre for `cnn_signature`, or `copy_centre` if given.
    """
    blocks = split_blocks(features, cnn_parts)
    weights = block_weights(settings)
    learned = {}
    if settings.look_weight > 0:
        metric = look_metric or look_metric_for(blocks, cnn_signature)
        if metric is not None:
            learned[LOOK_BLOCK] = metric
        else:  # no metric fits: the look's weight goes to the raw style features it would read
            for family, factor in STYLE_FAMILY_WEIGHTS.items():
                weights[f"style.{family}"] += settings.look_weight * factor
    weights["style"] = 0.0  # the whole style vector is only the look block's input
    copies = None
    if settings.copy_threshold is not None and COPY_BLOCK in blocks:
        centre = copy_centre if copy_centre is not None else shipped_copy_centre(cnn_signature)
        copies = CopyDetector.fit(
            COPY_BLOCK, blocks[COPY_BLOCK], settings.copy_threshold, centre, seed
        )
    return StyleSpace.fit(
        photo_ids,
        blocks,
        weights,
        pca_components={COPY_BLOCK: settings.content_pca},
        seed=seed,
        learned=learned,
        copies=copies,
    )


def embed(
    space: StyleSpace, features: Mapping[str, np.ndarray], cnn_parts: Layout | None = None
) -> np.ndarray:
    """Rows of `space` for raw extractor outputs (a query image, a photo outside the run)."""
    return space.embed(split_blocks(features, cnn_parts))


def embed_copies(
    space: StyleSpace, features: Mapping[str, np.ndarray], cnn_parts: Layout | None = None
) -> np.ndarray | None:
    """The copy detector's rows for raw extractor outputs (None: nothing to tell copies by)."""
    return space.embed_copies(split_blocks(features, cnn_parts))
