"""The combined style space and nearest-neighbour search (numpy and scikit-learn, no Django).

Each feature block (one extractor's vectors) is standardised over the gallery (z-scores clipped
to ±`Z_CLIP` so one odd photo cannot dominate), optionally reduced with PCA, scaled to unit mean
squared norm so blocks of different sizes count alike, multiplied by its weight, concatenated and
L2-normalised. Similarity is the dot product (cosine) in that space.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import PCA

from .look_metric import LookMetric

Z_CLIP = 5.0


@dataclass
class BlockTransform:
    name: str
    weight: float
    mean: np.ndarray
    scale: np.ndarray
    components: np.ndarray | None  # (d_in, d_out) PCA projection, or None
    norm: float  # divides the block so its mean squared norm over the gallery is 1
    centre: np.ndarray | None = None  # PCA's mean of the clipped z-scores
    inputs: tuple[str, ...] = ()  # raw blocks read side by side; () = the block's own name

    @property
    def sources(self) -> tuple[str, ...]:
        return self.inputs or (self.name,)

    @property
    def in_dim(self) -> int:
        return int(self.mean.shape[0])

    @property
    def out_dim(self) -> int:
        return int(self.components.shape[1]) if self.components is not None else self.in_dim

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        z = np.clip((vectors - self.mean) / self.scale, -Z_CLIP, Z_CLIP)
        if self.components is not None:
            z = (z - self.centre) @ self.components
        return (z / self.norm * self.weight).astype(np.float32)

    @classmethod
    def fit(
        cls, name: str, vectors: np.ndarray, weight: float, pca_components: int | None, seed: int
    ) -> BlockTransform:
        mean = vectors.mean(axis=0)
        scale = vectors.std(axis=0)
        scale[scale < 1e-8] = 1.0
        z = np.clip((vectors - mean) / scale, -Z_CLIP, Z_CLIP)
        components = centre = None
        if pca_components and pca_components < z.shape[1] and z.shape[0] > 2:
            n = min(pca_components, z.shape[0] - 1)
            pca = PCA(n_components=n, svd_solver="randomized", random_state=seed).fit(z)
            components = pca.components_.T.astype(np.float32)
            centre = pca.mean_.astype(np.float32)
            z = (z - centre) @ components
        norm = float(np.sqrt(np.mean(np.sum(z.astype(np.float64) ** 2, axis=1)))) or 1.0
        return cls(
            name,
            float(weight),
            mean.astype(np.float32),
            scale.astype(np.float32),
            components,
            norm,
            centre,
        )

    @classmethod
    def learned(
        cls, name: str, vectors: np.ndarray, weight: float, metric: LookMetric
    ) -> BlockTransform:
        """A block whose standardisation and projection come from a fitted `LookMetric` (they
        are not refitted on the gallery: the metric's shape is what was learned); only the
        centre and the norm are the gallery's."""
        z = metric.standardise(vectors)
        centre = z.mean(axis=0)
        projected = (z - centre) @ metric.projection
        norm = float(np.sqrt(np.mean(np.sum(projected**2, axis=1)))) or 1.0
        return cls(
            name,
            float(weight),
            metric.mean.astype(np.float32),
            metric.scale.astype(np.float32),
            metric.projection.astype(np.float32),
            norm,
            centre.astype(np.float32),
            tuple(metric.inputs),
        )


def _side_by_side(features: Mapping[str, np.ndarray], names: tuple[str, ...]) -> np.ndarray | None:
    """The raw blocks `names` side by side (a block's input), or None if one is missing."""
    parts = [features.get(name) for name in names]
    if any(part is None for part in parts):
        return None
    parts = [np.atleast_2d(np.asarray(part, dtype=np.float64)) for part in parts]
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)


def _l2_normalise(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms < 1e-12] = 1.0
    return (matrix / norms).astype(np.float32)


class StyleSpace:
    """Photos embedded in the combined space, with the transforms to embed new images."""

    def __init__(self, photo_ids: np.ndarray, matrix: np.ndarray, blocks: list[BlockTransform]):
        self.photo_ids = np.asarray(photo_ids, dtype=np.int64)
        self.matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        self.blocks = blocks
        self._row_of = {int(pid): i for i, pid in enumerate(self.photo_ids)}

    def __len__(self) -> int:
        return len(self.photo_ids)

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[1])

    @classmethod
    def fit(
        cls,
        photo_ids: np.ndarray,
        features: Mapping[str, np.ndarray],
        weights: Mapping[str, float],
        pca_components: Mapping[str, int | None] | None = None,
        seed: int = 0,
        learned: Mapping[str, LookMetric] | None = None,
    ) -> StyleSpace:
        """Fit transforms on the gallery's vectors (rows aligned with `photo_ids`) and embed it.

        Each block of `features` with a positive weight becomes a block of the space; each
        entry of `learned` adds a block (named by its key) that projects the metric's input
        blocks with that metric. Blocks with weight 0 are left out. Rows of a block that are
        all NaN (a photo without that extractor's vector) become zeros in that block: neutral,
        not wrong.
        """
        pca_components = pca_components or {}
        learned = learned or {}
        blocks: list[BlockTransform] = []
        for name, vectors in features.items():
            weight = float(weights.get(name, 1.0))
            if weight <= 0 or name in learned:
                continue
            vectors = np.asarray(vectors, dtype=np.float64)
            present = ~np.isnan(vectors).any(axis=1)
            if present.sum() < 2:
                continue
            blocks.append(
                BlockTransform.fit(name, vectors[present], weight, pca_components.get(name), seed)
            )
        for name, metric in learned.items():
            weight = float(weights.get(name, 1.0))
            vectors = _side_by_side(features, metric.inputs)
            if weight <= 0 or vectors is None:
                continue
            present = ~np.isnan(vectors).any(axis=1)
            if present.sum() < 2:
                continue
            blocks.append(BlockTransform.learned(name, vectors[present], weight, metric))
        if not blocks:
            raise ValueError("No feature block has vectors for at least two photos.")
        space = cls(photo_ids, np.zeros((len(photo_ids), 0), np.float32), blocks)
        space.matrix = space.embed(features)
        return space

    def embed(self, features: Mapping[str, np.ndarray]) -> np.ndarray:
        """Raw extractor outputs (name → (m, d) arrays) → L2-normalised rows of this space."""
        parts = []
        m = None
        for block in self.blocks:
            vectors = _side_by_side(features, block.sources)
            if vectors is None:
                parts.append(None)
                continue
            m = vectors.shape[0]
            missing = np.isnan(vectors).any(axis=1)
            out = block.apply(np.nan_to_num(vectors))
            out[missing] = 0.0
            parts.append(out)
        if m is None:
            raise ValueError("None of this space's feature blocks was given.")
        filled = [
            part if part is not None else np.zeros((m, block.out_dim), np.float32)
            for part, block in zip(parts, self.blocks, strict=True)
        ]
        return _l2_normalise(np.concatenate(filled, axis=1))

    def block_slices(self) -> dict[str, slice]:
        """Each block's columns in `matrix`."""
        out, start = {}, 0
        for block in self.blocks:
            out[block.name] = slice(start, start + block.out_dim)
            start += block.out_dim
        return out

    def view(self, weights: Mapping[str, float]) -> StyleSpace | None:
        """The same photos compared by some blocks only, reweighted (a mode of similarity).

        Exact, not an approximation: every row of `matrix` is its blocks times their weights,
        divided by one norm per row, so dropping or rescaling blocks and normalising again gives
        the space those weights would have built. None if no block of `weights` is here.
        """
        slices = self.block_slices()
        kept = [b for b in self.blocks if weights.get(b.name, 0.0) > 0 and b.weight > 0]
        if not kept:
            return None
        columns = [self.matrix[:, slices[b.name]] * (weights[b.name] / b.weight) for b in kept]
        blocks = [BlockTransform(**{**b.__dict__, "weight": float(weights[b.name])}) for b in kept]
        return StyleSpace(self.photo_ids, _l2_normalise(np.concatenate(columns, axis=1)), blocks)

    def row(self, photo_id: int) -> int | None:
        return self._row_of.get(int(photo_id))

    def search(
        self, queries: np.ndarray, k: int, exclude: list[set[int]] | None = None
    ) -> list[list[tuple[int, float]]]:
        """The `k` most similar photos for each query row, best first, as (photo_id, score)."""
        queries = np.atleast_2d(queries).astype(np.float32)
        scores = queries @ self.matrix.T
        results = []
        for i, row in enumerate(scores):
            skip = exclude[i] if exclude else set()
            take = min(k + len(skip), len(row))
            if take <= 0:
                results.append([])
                continue
            top = np.argpartition(-row, take - 1)[:take] if take < len(row) else np.arange(len(row))
            top = top[np.argsort(-row[top], kind="stable")]
            hits = [
                (int(self.photo_ids[j]), float(row[j]))
                for j in top
                if int(self.photo_ids[j]) not in skip
            ]
            results.append(hits[:k])
        return results

    def all_neighbours(self, k: int, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
        """Top-`k` other photos for every photo: (indices (n, k), scores (n, k)), best first."""
        n = len(self)
        k = min(k, n - 1)
        if k <= 0:
            return np.zeros((n, 0), np.int64), np.zeros((n, 0), np.float32)
        indices = np.empty((n, k), np.int64)
        values = np.empty((n, k), np.float32)
        for start in range(0, n, chunk):
            stop = min(start + chunk, n)
            scores = self.matrix[start:stop] @ self.matrix.T
            scores[np.arange(stop - start), np.arange(start, stop)] = -np.inf  # not itself
            top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
            top_scores = np.take_along_axis(scores, top, axis=1)
            order = np.argsort(-top_scores, axis=1, kind="stable")
            indices[start:stop] = np.take_along_axis(top, order, axis=1)
            values[start:stop] = np.take_along_axis(top_scores, order, axis=1)
        return indices, values

    # --- persistence (npz, no pickle) ---------------------------------------------------------
    def to_bytes(self) -> bytes:
        arrays: dict[str, np.ndarray] = {"photo_ids": self.photo_ids, "matrix": self.matrix}
        names = []
        for i, block in enumerate(self.blocks):
            names.append(block.name)
            arrays[f"b{i}_mean"] = block.mean
            arrays[f"b{i}_scale"] = block.scale
            arrays[f"b{i}_meta"] = np.array([block.weight, block.norm], np.float64)
            if block.components is not None:
                arrays[f"b{i}_components"] = block.components
                arrays[f"b{i}_centre"] = block.centre
            if block.inputs:
                arrays[f"b{i}_inputs"] = np.array(block.inputs)
        arrays["block_names"] = np.array(names)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> StyleSpace:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            blocks = []
            for i, name in enumerate(npz["block_names"]):
                weight, norm = npz[f"b{i}_meta"]
                components = npz.get(f"b{i}_components")
                blocks.append(
                    BlockTransform(
                        str(name),
                        float(weight),
                        npz[f"b{i}_mean"],
                        npz[f"b{i}_scale"],
                        components,
                        float(norm),
                        npz.get(f"b{i}_centre"),
                        tuple(str(n) for n in npz[f"b{i}_inputs"])
                        if f"b{i}_inputs" in npz.files
                        else (),
                    )
                )
            return cls(npz["photo_ids"], npz["matrix"], blocks)
