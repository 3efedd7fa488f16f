"""A metric learned from synthetic edits: the directions in which photos differ by *look*.

The hand-made style features and the CNN's channel statistics describe both how a photo was
rendered and what it shows: a dark forest scores "low-key" even in its original colours. A
`LookMetric` is a linear projection of those features fitted on labelled edits (every training
photo rendered in many looks, `benchmarks/make_style_set.py`):

- *within-look* scatter: how images of one look differ from each other: the scene, the light,
  the jitter of the edit. This is what the metric must ignore;
- *within-photo* scatter: how the renderings of one photo differ from each other: the look alone,
  since the scene is the same. This is what it must keep.

The projection solves the generalised eigenproblem ``S_photo v = λ (S_look + εI) v`` (Fisher's
discriminant with the photo's own mean in place of class means, so it needs no list of looks and
carries over to looks it was not trained on) and keeps the `dims` directions with the largest λ,
each scaled by √λ. In the projected space other photos in the same look are near and the same
photo in another look is far.

No Django here: `benchmarks/fit_look_metric.py` fits and cross-validates it, the fitted metrics
ship in `recommender/data/` and `recommender.blocks` uses them as the space's ``look`` block.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.linalg import block_diag, eigh

DATA_DIR = Path(__file__).resolve().parent / "data"
Z_CLIP = 5.0


@dataclass(frozen=True)
class LookMetric:
    """A fitted projection. `inputs` names the feature blocks it reads, in order (``style``, and
    ``cnn.style`` for the CNN's channel statistics); `cnn_signature` says which CNN those
    statistics must come from (None for a style-only metric)."""

    inputs: tuple[str, ...]
    input_dims: tuple[int, ...]
    cnn_signature: str | None
    mean: np.ndarray  # (d_in,) of the training vectors
    scale: np.ndarray  # (d_in,)
    projection: np.ndarray  # (d_in, dims)
    trained_on: str = ""

    @property
    def in_dim(self) -> int:
        return int(sum(self.input_dims))

    @property
    def dims(self) -> int:
        return int(self.projection.shape[1])

    def standardise(self, vectors: np.ndarray) -> np.ndarray:
        return np.clip((vectors - self.mean) / self.scale, -Z_CLIP, Z_CLIP)

    def project(self, vectors: np.ndarray) -> np.ndarray:
        """(n, d_in) raw inputs (the `inputs` blocks side by side) → (n, dims)."""
        return self.standardise(np.asarray(vectors, dtype=np.float64)) @ self.projection

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(
            buffer,
            inputs=np.array(self.inputs),
            input_dims=np.array(self.input_dims, np.int64),
            cnn_signature=np.array(self.cnn_signature or ""),
            mean=self.mean.astype(np.float32),
            scale=self.scale.astype(np.float32),
            projection=self.projection.astype(np.float32),
            trained_on=np.array(self.trained_on),
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> LookMetric:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return cls(
                inputs=tuple(str(name) for name in npz["inputs"]),
                input_dims=tuple(int(d) for d in npz["input_dims"]),
                cnn_signature=str(npz["cnn_signature"]) or None,
                mean=npz["mean"].astype(np.float64),
                scale=npz["scale"].astype(np.float64),
                projection=npz["projection"].astype(np.float64),
                trained_on=str(npz["trained_on"]),
            )


def _scatter_around(z: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Sum over label groups of the outer products of deviations from the group mean, / n."""
    centred = z.copy()
    for label in np.unique(labels):
        rows = labels == label
        centred[rows] -= z[rows].mean(axis=0)
    return centred.T @ centred / len(z)


def fit_look_metric(
    vectors: np.ndarray,
    looks: np.ndarray,
    photos: np.ndarray,
    *,
    inputs: tuple[str, ...],
    input_dims: tuple[int, ...],
    cnn_signature: str | None = None,
    dims: int = 16,
    shrinkage: float = 0.01,
    reduce: Mapping[str, int] | None = None,
    trained_on: str = "",
) -> LookMetric:
    """Fit on training edits: `vectors` (n, d_in), each row's look label and source photo label.

    `shrinkage` adds ε = shrinkage × mean eigenvalue of the within-look scatter to its diagonal,
    so directions that barely vary in training cannot get an unbounded weight.

    `reduce` ({input name: m}) replaces an input's columns (centred, in their own units: not
    standardised one by one) by their first m principal components, each scaled to unit
    variance, in the eigenproblem: an input of many correlated columns (the CNN's 772 channel
    correlations) would otherwise get as many directions to overfit as it has columns.
    Principal components are linear, so the fitted projection is mapped back onto the input's
    own columns: the metric still reads the raw inputs, and a reduced input only changes how it
    was fitted.
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    if vectors.shape[1] != sum(input_dims):
        raise ValueError(f"vectors have {vectors.shape[1]} columns, inputs {input_dims}")
    reduce = dict(reduce or {})
    mean = vectors.mean(axis=0)
    scale = vectors.std(axis=0)
    scale[scale < 1e-8] = 1.0
    for columns in _input_columns(inputs, input_dims, reduce):
        # A reduced input keeps its own units: the principal components of the raw channel
        # correlations carried over to held-out look families, those of their per-column
        # z-scores much less (held-out P@10 0.583 against 0.569 on the shipped candidate with
        # 64 components, December 2026), since z-scores blow up the columns that barely vary.
        scale[columns] = 1.0
    z = np.clip((vectors - mean) / scale, -Z_CLIP, Z_CLIP)
    # `basis` maps the fitted columns back to z's: identity for whole inputs, the principal
    # axes (divided by their spread) for reduced ones.
    fitted, basis = _reduced(z, inputs, input_dims, reduce)
    within_look = _scatter_around(fitted, np.asarray(looks))
    within_photo = _scatter_around(fitted, np.asarray(photos))
    d = fitted.shape[1]
    ridge = shrinkage * float(np.trace(within_look)) / d
    values, vectors_ = eigh(within_photo, within_look + ridge * np.eye(d))
    order = np.argsort(-values)[: min(dims, d)]
    projection = basis @ (vectors_[:, order] * np.sqrt(np.maximum(values[order], 0.0)))
    return LookMetric(
        tuple(inputs),
        tuple(int(x) for x in input_dims),
        cnn_signature,
        mean,
        scale,
        projection,
        trained_on,
    )


def _input_columns(
    inputs: tuple[str, ...], input_dims: tuple[int, ...], names: Mapping[str, int]
) -> list[slice]:
    """The column ranges of the inputs in `names`."""
    unknown = set(names) - set(inputs)
    if unknown:
        raise ValueError(f"reduce names inputs the metric does not read: {sorted(unknown)}")
    starts = np.concatenate([[0], np.cumsum(input_dims)]).astype(int)
    return [slice(starts[i], starts[i + 1]) for i, name in enumerate(inputs) if name in names]


def _reduced(
    z: np.ndarray, inputs: tuple[str, ...], input_dims: tuple[int, ...], reduce: Mapping[str, int]
) -> tuple[np.ndarray, np.ndarray]:
    """z with each input in `reduce` replaced by its unit-variance principal components, and
    the (d_in, d_fitted) map from the fitted columns back to z's."""
    columns, maps = [], []
    start = 0
    for name, width in zip(inputs, input_dims, strict=True):
        part = z[:, start : start + width]
        if name in reduce and reduce[name] < min(part.shape):
            centred = part - part.mean(axis=0)
            _, singular, axes = np.linalg.svd(centred, full_matrices=False)
            keep = int(reduce[name])
            spread = np.maximum(singular[:keep] / np.sqrt(len(part)), 1e-12)
            axes = axes[:keep].T / spread  # (width, keep): column → unit-variance score
            columns.append(part @ axes)
            maps.append(axes)
        else:
            columns.append(part)
            maps.append(np.eye(width))
        start += width
    return np.concatenate(columns, axis=1), block_diag(*maps)


def metric_path(name: str) -> Path:
    return DATA_DIR / f"look_metric_{name}.npz"


@functools.cache
def shipped_metric(name: str) -> LookMetric | None:
    """The fitted metric shipped as ``recommender/data/look_metric_<name>.npz`` (read once per
    process), or None if it is not there."""
    path = metric_path(name)
    if not path.is_file():
        return None
    return LookMetric.from_bytes(path.read_bytes())


def copy_centre_path() -> Path:
    return DATA_DIR / "copy_centre.npz"


def write_copy_centre(centre: np.ndarray, cnn_signature: str, trained_on: str) -> Path:
    """Ship the mean content embedding the copy detector centres on (`space.CopyDetector`)."""
    path = copy_centre_path()
    buffer = io.BytesIO()
    np.savez(
        buffer,
        centre=np.asarray(centre, np.float32),
        cnn_signature=np.array(cnn_signature),
        trained_on=np.array(trained_on),
    )
    path.write_bytes(buffer.getvalue())
    return path


@functools.cache
def _copy_centre_file() -> tuple[np.ndarray, str] | None:
    path = copy_centre_path()
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as npz:
        return npz["centre"].astype(np.float64), str(npz["cnn_signature"])


def shipped_copy_centre(cnn_signature: str | None) -> np.ndarray | None:
    """The shipped mean content embedding of this CNN (read once per process), or None (another
    CNN, or none shipped: the gallery's own mean is used)."""
    shipped = _copy_centre_file()
    if shipped is None or cnn_signature is None or shipped[1] != cnn_signature:
        return None
    return shipped[0]
