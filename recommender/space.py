"""The combined style space and nearest-neighbour search (numpy and scikit-learn, no Django).

Each feature block (one extractor's vectors) is standardised over the gallery (z-scores clipped
to ±`Z_CLIP` so one odd photo cannot dominate), optionally reduced with PCA, scaled to unit mean
squared norm so blocks of different sizes count alike, multiplied by its weight, concatenated and
L2-normalised. Similarity is the dot product (cosine) in that space.

Other edits of one photo (the same frame in black & white, in sepia, cropped) are not "other
photos in this style": a space may carry a `CopyDetector`, the content block on its own, and
then every ranking puts candidates whose content is nearly the query's (cosine above the
detector's threshold) after all the others, in their order (DESIGN.md §4: on pure-look sets,
other photos in the same look come before the same photo in another look).

scikit-learn is imported where a space is fitted, not with this module: its import takes about
0.7 s, which every process that loads the app would pay (the import command before it ingests its
first photo, each web worker) while only a re-cluster fits.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import mapped_npz, query_index
from .look_metric import LookMetric

logger = logging.getLogger(__name__)

Z_CLIP = 5.0
#: above this many photos the transforms (standardisation, PCA, the copy detector's centre and
#: basis) are fitted on a fixed random sample of this many; every photo is still embedded
FIT_SAMPLE_ROWS = 100_000
#: photos embedded at a time (the float64 working copies of a million CNN vectors would take
#: ten gigabytes at once)
EMBED_CHUNK = 20_000


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
            from sklearn.decomposition import PCA  # imported here: see module docstring

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


#: added to a copy's score for ranking only: cosines lie in [-1, 1], so every copy ranks after
#: every other candidate and copies keep their order among themselves
_COPY_PENALTY = 4.0
#: dimensions of the copy detector's rows in the index
COPY_DIMS = 128
#: rows the detector's basis is fitted on at most (a fixed sample above)
COPY_BASIS_ROWS = 4096
#: candidates beyond k checked for copies in a neighbour build
COPY_MARGIN = 16
#: photo-by-photo comparisons an approximate neighbour build may spend on rows crowded by their
#: copies (more than `COPY_MARGIN` among their candidates), each ranked against every photo: 2,000
#: rows at a million photos, about 30 s. Beyond it a crowded row is ranked among its candidates,
#: copies last, so the build stays linear when many photos have hundreds of edits.
CROWDED_COMPARISONS = 2_000_000_000
#: scores held at once while ranking crowded rows against every photo (rows × photos)
_EXHAUSTIVE_SCORES = 32_000_000


@dataclass
class CopyDetector:
    """Finds other edits of a photo by the cosine of one block (the CNN's content embedding)
    around a fixed `centre`, above `threshold`.

    The centre is not the gallery's: a shipped mean of many photos' embeddings when there is one
    for this CNN (a small gallery's own mean is too unsteady: with seven photos the two edits of
    one photo came out at cosine 0.4). Rows are the unit-length centred vectors projected on an
    orthonormal basis of the gallery's (`components`, at most `COPY_DIMS` columns), so the index
    holds `COPY_DIMS` floats per photo, not the embedding's 1280. Up to `COPY_DIMS` photos the
    basis spans the gallery and every cosine with a gallery photo is exact (a query's part
    outside the gallery's span is orthogonal to every gallery row); above, the basis keeps the
    gallery's main directions (fitted on at most `COPY_BASIS_ROWS` of its photos) and the
    cosines are close.
    """

    name: str
    centre: np.ndarray  # (d,)
    components: np.ndarray  # (d, m), orthonormal columns
    rows: np.ndarray  # (n, m): the fitted photos' (memory-mapped when opened from a file)
    threshold: float
    tail: np.ndarray | None = None  # (a, m): photos added since (`StyleSpace.extended`)

    @classmethod
    def fit(
        cls,
        name: str,
        vectors: np.ndarray,
        threshold: float,
        centre: np.ndarray | None = None,
        seed: int = 0,
    ) -> CopyDetector | None:
        """Fitted on the gallery's `vectors` of block `name` (rows with NaN: photos without
        it, never anybody's copy); `centre` defaults to the gallery's mean. None when fewer
        than two photos have the block."""
        vectors = np.asarray(vectors)
        fitted = np.asarray(vectors[_fit_sample(len(vectors), seed)], dtype=np.float64)
        fitted = fitted[~np.isnan(fitted).any(axis=1)]
        if len(fitted) < 2:
            return None
        if centre is None:
            centre = fitted.mean(axis=0)
        units = _unit_deviations(fitted, centre)
        m = min(COPY_DIMS, units.shape[0], units.shape[1])
        if m < units.shape[0] and m < units.shape[1]:
            if len(units) > COPY_BASIS_ROWS:  # the main directions, from a fixed sample
                rng = np.random.default_rng(seed)
                units = units[np.sort(rng.choice(len(units), COPY_BASIS_ROWS, replace=False))]
            from sklearn.decomposition import TruncatedSVD  # imported here: see module docstring

            svd = TruncatedSVD(n_components=m, algorithm="randomized", random_state=seed)
            components = svd.fit(units).components_.T
        else:  # the gallery spans at most m dimensions: an exact basis of them
            components = np.linalg.svd(units, full_matrices=False)[2][:m].T
        detector = cls(
            name,
            np.asarray(centre, np.float32),
            np.ascontiguousarray(components, np.float32),
            np.zeros((len(vectors), m), np.float32),
            float(threshold),
        )
        detector.rows = detector.embed(vectors)
        return detector

    def embed(self, vectors: np.ndarray) -> np.ndarray:
        """Raw block vectors → rows (zeros for a missing vector: nobody's copy)."""
        vectors = np.atleast_2d(vectors)
        if len(vectors) > EMBED_CHUNK:
            return np.concatenate(
                [
                    self.embed(vectors[i : i + EMBED_CHUNK])
                    for i in range(0, len(vectors), EMBED_CHUNK)
                ]
            )
        vectors = np.asarray(vectors, dtype=np.float64)
        missing = np.isnan(vectors).any(axis=1)
        out = (_unit_deviations(np.nan_to_num(vectors), self.centre) @ self.components).astype(
            np.float32
        )
        out[missing] = 0.0
        return out

    def pair_copies(self, rows: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """(m, c) booleans: is gallery row `candidates[i, j]` a copy of gallery row `rows[i]`."""
        sims = np.einsum(
            "id,icd->ic",
            _gather(self.rows, self.tail, rows),
            _gather(self.rows, self.tail, candidates),
        )
        return sims > self.threshold

    def copies(self, queries: np.ndarray) -> np.ndarray:
        """(m, n) booleans: which gallery photos are copies of each of `queries` (`embed`
        rows)."""
        return _dot(queries, self.rows, self.tail) > self.threshold

    def rows_at(self, index: np.ndarray) -> np.ndarray:
        return _gather(self.rows, self.tail, index)

    def all_rows(self) -> np.ndarray:
        if self.tail is None or not len(self.tail):
            return self.rows
        return np.concatenate([self.rows, self.tail])


def _fit_sample(n: int, seed: int) -> np.ndarray | slice:
    """The rows transforms are fitted on: all of them, or a fixed sample of FIT_SAMPLE_ROWS."""
    if n <= FIT_SAMPLE_ROWS:
        return slice(None)
    return np.sort(np.random.default_rng(seed).choice(n, FIT_SAMPLE_ROWS, replace=False))


def _gather(base: np.ndarray, tail: np.ndarray | None, index) -> np.ndarray:
    """Rows `index` of `base` followed by `tail`, as one array (without joining the two: `base`
    may be a memory-mapped file shared by every process)."""
    if tail is None or not len(tail):
        return base[index]
    index = np.asarray(index)
    out = np.empty((*index.shape, base.shape[1]), np.float32)
    in_base = index < len(base)
    out[in_base] = base[index[in_base]]
    out[~in_base] = tail[index[~in_base] - len(base)]
    return out


def _dot(queries: np.ndarray, base: np.ndarray, tail: np.ndarray | None) -> np.ndarray:
    """`queries` @ (`base` followed by `tail`).T."""
    if tail is None or not len(tail):
        return queries @ base.T
    return np.concatenate([queries @ base.T, queries @ tail.T], axis=1)


def _unit_deviations(vectors: np.ndarray, centre: np.ndarray) -> np.ndarray:
    deviations = vectors - centre
    norms = np.linalg.norm(deviations, axis=1, keepdims=True)
    norms[norms < 1e-12] = 1.0
    return deviations / norms


@dataclass
class ClusterCentres:
    """The run's clusters in this space: their ids and unit centroids (rows aligned), so that a
    photo added later joins the cluster whose centre is nearest, as the clustering placed every
    other photo."""

    cluster_ids: np.ndarray  # (c,) int64
    matrix: np.ndarray  # (c, dim) float32, rows L2-normalised

    def nearest(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each row: (the nearest cluster's id, its Euclidean distance to that centre)."""
        rows = np.atleast_2d(rows)
        best = np.argmax(rows @ self.matrix.T, axis=1)
        distances = np.linalg.norm(rows - self.matrix[best], axis=1)
        return self.cluster_ids[best], distances.astype(np.float32)


class StyleSpace:
    """Photos embedded in the combined space, with the transforms to embed new images.

    `matrix` holds the rows of the photos the space was fitted on (memory-mapped when opened
    from an index file), `tail` those of photos added since (`extended`); `photo_ids` covers
    both, in that order. Read rows with `rows_at`, or `all_rows` for one array.
    """

    def __init__(
        self,
        photo_ids: np.ndarray,
        matrix: np.ndarray,
        blocks: list[BlockTransform],
        copies: CopyDetector | None = None,
        centres: ClusterCentres | None = None,
        tail: np.ndarray | None = None,
        query_index=None,
    ):
        self.photo_ids = np.asarray(photo_ids, dtype=np.int64)
        self.matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        self.tail = tail
        self.query_index = query_index  # `query_index` over `matrix`, for large galleries
        self.blocks = blocks
        self.copies = copies
        self.centres = centres
        # Rows by photo id without a dict (a million entries would cost each process ~100 MB):
        # a binary search, through a sorting permutation when ids are not ascending.
        ascending = bool(np.all(self.photo_ids[1:] > self.photo_ids[:-1]))
        self._by_id = None if ascending else np.argsort(self.photo_ids, kind="stable")

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
        copies: CopyDetector | None = None,
    ) -> StyleSpace:
        """Fit transforms on the gallery's vectors (rows aligned with `photo_ids`) and embed it.

        Each block of `features` with a positive weight becomes a block of the space; each
        entry of `learned` adds a block (named by its key) that projects the metric's input
        blocks with that metric. Blocks with weight 0 are left out. Rows of a block that are
        all NaN (a photo without that extractor's vector) become zeros in that block: neutral,
        not wrong. `copies` is the gallery's `CopyDetector` (rows aligned with `photo_ids`).
        """
        pca_components = pca_components or {}
        learned = learned or {}
        sample = _fit_sample(len(photo_ids), seed)
        fitted = {
            name: None if v is None else np.atleast_2d(np.asarray(v))[sample]
            for name, v in features.items()
        }
        blocks: list[BlockTransform] = []
        for name, vectors in fitted.items():
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
            vectors = _side_by_side(fitted, metric.inputs)
            if weight <= 0 or vectors is None:
                continue
            present = ~np.isnan(vectors).any(axis=1)
            if present.sum() < 2:
                continue
            blocks.append(BlockTransform.learned(name, vectors[present], weight, metric))
        if not blocks:
            raise ValueError("No feature block has vectors for at least two photos.")
        space = cls(photo_ids, np.zeros((len(photo_ids), 0), np.float32), blocks, copies)
        space.matrix = space.embed(features)
        return space

    def embed(self, features: Mapping[str, np.ndarray]) -> np.ndarray:
        """Raw extractor outputs (name → (m, d) arrays) → L2-normalised rows of this space."""
        m = max((len(np.atleast_2d(v)) for v in features.values() if v is not None), default=0)
        if m > EMBED_CHUNK:
            return np.concatenate(
                [
                    self.embed(
                        {
                            name: None if v is None else np.atleast_2d(v)[i : i + EMBED_CHUNK]
                            for name, v in features.items()
                        }
                    )
                    for i in range(0, m, EMBED_CHUNK)
                ]
            )
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

    def embed_copies(self, features: Mapping[str, np.ndarray]) -> np.ndarray | None:
        """The copy detector's rows for raw block vectors, or None (no detector, or its block
        is not in `features`: nothing is taken for a copy)."""
        if self.copies is None or features.get(self.copies.name) is None:
            return None
        return self.copies.embed(features[self.copies.name])

    def block_slices(self) -> dict[str, slice]:
        """Each block's columns in `matrix`."""
        out, start = {}, 0
        for block in self.blocks:
            out[block.name] = slice(start, start + block.out_dim)
            start += block.out_dim
        return out

    def view(self, weights: Mapping[str, float], copies_last: bool = True) -> StyleSpace | None:
        """The same photos compared by some blocks only, reweighted (a mode of similarity).

        Exact, not an approximation: every row of `matrix` is its blocks times their weights,
        divided by one norm per row, so dropping or rescaling blocks and normalising again gives
        the space those weights would have built. None if no block of `weights` is here. The
        view keeps the copy detector unless `copies_last` is False (a scene *wants* them). It
        holds no rows of its own (`SpaceView`).
        """
        slices = self.block_slices()
        kept = [b for b in self.blocks if weights.get(b.name, 0.0) > 0 and b.weight > 0]
        if not kept:
            return None
        columns = np.concatenate(
            [np.arange(slices[b.name].start, slices[b.name].stop) for b in kept]
        )
        scale = np.concatenate(
            [np.full(b.out_dim, weights[b.name] / b.weight, np.float32) for b in kept]
        )
        blocks = [BlockTransform(**{**b.__dict__, "weight": float(weights[b.name])}) for b in kept]
        return SpaceView(self, blocks, columns, scale, self.copies if copies_last else None)

    def rows_at(self, index) -> np.ndarray:
        """Rows `index` (of `photo_ids`) of the space."""
        return _gather(self.matrix, self.tail, index)

    def similarities(self, queries: np.ndarray) -> np.ndarray:
        """(m, n) cosines of each query row with every photo."""
        return _dot(np.atleast_2d(queries).astype(np.float32), self.matrix, self.tail)

    def all_rows(self) -> np.ndarray:
        """Every photo's row as one array (a copy when photos were added since the fit)."""
        if self.tail is None or not len(self.tail):
            return self.matrix
        return np.concatenate([self.matrix, self.tail])

    def row(self, photo_id: int) -> int | None:
        ids = self.photo_ids if self._by_id is None else self.photo_ids[self._by_id]
        at = int(np.searchsorted(ids, int(photo_id)))
        if at == len(ids) or ids[at] != int(photo_id):
            return None
        return at if self._by_id is None else int(self._by_id[at])

    def ranking(self, row: int, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """How the neighbour build ranks gallery rows `candidates` for gallery row `row`:
        (ranking values, cosines). The value is the cosine, less the copy penalty for another
        edit of the same photo (copies last)."""
        cosines = self.rows_at(candidates) @ self.rows_at(row)
        if self.copies is None:
            return cosines, cosines
        found = self.copies.pair_copies(np.array([row]), np.asarray(candidates)[None, :])[0]
        return cosines - _COPY_PENALTY * found, cosines

    def extended(
        self, photo_ids: np.ndarray, rows: np.ndarray, copy_rows: np.ndarray | None
    ) -> StyleSpace:
        """This space with more photos (rows of it, from `embed`; `copy_rows` from
        `embed_copies`, None: nothing tells them copies), for photos added after the fit: the
        transforms, the detector's basis and the cluster centres stay the fitted ones."""
        photo_ids = np.asarray(photo_ids, dtype=np.int64).reshape(-1)
        rows = np.atleast_2d(np.asarray(rows, np.float32))
        copies = self.copies
        if copies is not None:
            if copy_rows is None:
                copy_rows = np.zeros((len(photo_ids), copies.rows.shape[1]), np.float32)
            copies = CopyDetector(
                copies.name,
                copies.centre,
                copies.components,
                copies.rows,
                copies.threshold,
                _appended(copies.tail, np.atleast_2d(copy_rows).astype(np.float32)),
            )
        return StyleSpace(
            np.concatenate([self.photo_ids, photo_ids]),
            self.matrix,
            self.blocks,
            copies,
            self.centres,
            _appended(self.tail, rows),
            self.query_index,
        )

    def search(
        self,
        queries: np.ndarray,
        k: int,
        exclude: list[set[int]] | None = None,
        query_copies: np.ndarray | None = None,
    ) -> list[list[tuple[int, float]]]:
        """The `k` most similar photos for each query row, best first, as (photo_id, score).

        With `query_copies` (the queries' `embed_copies` rows) the gallery's copies of each
        query rank after every other photo; the scores stay the similarities."""
        queries = np.atleast_2d(queries).astype(np.float32)
        detect = self.copies is not None and query_copies is not None
        if detect:
            query_copies = np.atleast_2d(query_copies)
        n = len(self)
        pooled = self.query_index is not None
        scores = None if pooled else self.similarities(queries)
        results = []
        for i, query in enumerate(queries):
            skip = exclude[i] if exclude else set()
            wanted = k + len(skip)
            if min(wanted, n) <= 0:
                results.append([])
                continue
            take = min(wanted + (COPY_MARGIN if detect else 0), n)
            copies = query_copies[i] if detect else None
            hits = None
            if pooled:  # candidates from the inverted-file index, with their cosines
                pool, values = self._query_pool(query, take)
                hits = self._ranked(pool, values, copies, wanted, take)
            if hits is None:  # every photo
                values = scores[i] if scores is not None else self.similarities(query)[0]
                hits = self._ranked(None, values, copies, wanted, take)
            results.append([hit for hit in hits if hit[0] not in skip][:k])
        return results

    def _query_pool(self, query: np.ndarray, take: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows to rank for `query` in a large gallery, with their cosines: the inverted-file
        index's candidates among the fitted photos, and every photo added since."""
        scores, found = query_index.candidates(self.query_index, query[None], take)
        kept = found[0] >= 0
        added = np.arange(len(self.matrix), len(self))
        values = scores[0][kept]
        if len(added):
            values = np.concatenate([values, self.tail @ query])
        return np.concatenate([found[0][kept], added]).astype(np.int64), values.astype(np.float32)

    def _ranked(
        self,
        pool: np.ndarray | None,
        values: np.ndarray,
        copies: np.ndarray | None,
        wanted: int,
        take: int,
    ) -> list[tuple[int, float]] | None:
        """The best `wanted` of `pool` (rows; None: every photo) by `values` (their cosines),
        copies of the query (`copies`: its detector row) last, as (photo id, cosine). Copies
        are looked for among the best `take` by cosine only (the rest cannot enter the list);
        with more copies than that margin there, among all of `pool`. None when `pool` cannot
        fill the list.

        The best are checked for copies in order, only as many as the list still needs: a
        query reads the detector rows of about `wanted` photos, not `take` (in a memory-mapped
        index each one is a page of the worker's resident memory)."""
        top = _best(values, min(take, len(values)))
        top = top[np.argsort(-values[top], kind="stable")]
        ranking = values[top]
        if copies is not None:
            found = np.zeros(len(top), bool)
            checked = kept = 0  # candidates checked, and how many of them are not copies
            while checked < len(top) and kept < wanted:
                stop = min(len(top), checked + wanted - kept)
                rows = top[checked:stop] if pool is None else pool[top[checked:stop]]
                found[checked:stop] = copies @ self.copies.rows_at(rows).T > self.copies.threshold
                kept += stop - checked - int(found[checked:stop].sum())
                checked = stop
            top, found = top[:checked], found[:checked]
            if len(top) - found.sum() < wanted and len(top) < len(values):
                top = np.arange(len(values))
                if pool is None:  # without gathering every row's copy (a private copy of all)
                    found = self.copies.copies(copies[None])[0]
                else:
                    found = copies @ self.copies.rows_at(pool).T > self.copies.threshold
            ranking = values[top] - _COPY_PENALTY * found
            if pool is not None and len(top) - found.sum() < wanted:
                return None
        elif pool is not None and len(top) < wanted:
            return None
        top = top[np.argsort(-ranking, kind="stable")][:wanted]
        rows = top if pool is None else pool[top]
        return [(int(self.photo_ids[r]), float(values[t])) for r, t in zip(rows, top, strict=True)]

    def all_neighbours(
        self, k: int, chunk: int = 1024, approximate: bool | None = None, index=None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-`k` other photos for every photo: (indices (n, k), scores (n, k)), best first,
        copies last when the space has a copy detector.

        Each row's candidates are its best `k` + `COPY_MARGIN` others by cosine: exactly (every
        photo against every other), or with `approximate` (default: when an `index` is given,
        or from `query_index.APPROXIMATE_FROM` photos on) from the inverted-file `index` over
        `all_rows()` (built here when not given). Copies are looked for only among the
        candidates (the rest cannot enter the top `k`); a row with more copies than the margin
        there is ranked again against every photo, so the exact result is the same as a full
        pass. The approximate build spends at most `CROWDED_COMPARISONS` on such rows; the
        crowded rows beyond are ranked among their candidates, copies last, and counted in a
        warning."""
        n = len(self)
        k = min(k, n - 1)
        if k <= 0:
            return np.zeros((n, 0), np.int64), np.zeros((n, 0), np.float32)
        take = k if self.copies is None else min(k + COPY_MARGIN, n - 1)
        if approximate is None:
            approximate = index is not None or n >= query_index.APPROXIMATE_FROM
        matrix = self.all_rows()
        from_index = None
        if approximate:
            index = query_index.build(matrix) if index is None else index
            from_index = query_index.others(index, matrix, take)
        indices = np.empty((n, k), np.int64)
        values = np.empty((n, k), np.float32)
        exhaustive_left = CROWDED_COMPARISONS // n if approximate else n
        left_crowded = 0
        for start in range(0, n, chunk):
            rows = np.arange(start, min(start + chunk, n))
            if from_index is None:
                top, similarity = self._best_of_all(rows, take)
            else:
                top = from_index[rows]
                similarity = np.einsum("ij,ikj->ik", matrix[rows], matrix[top])
            ranking = similarity
            if self.copies is not None:
                found = self.copies.pair_copies(rows, top)
                ranking = similarity - _COPY_PENALTY * found
                crowded = np.flatnonzero(found.sum(axis=1) > take - k)
                if take < n - 1 and len(crowded):  # more copies than the margin: every photo
                    left_crowded += max(len(crowded) - exhaustive_left, 0)
                    crowded = crowded[:exhaustive_left]
                    exhaustive_left -= len(crowded)
                    self._rank_crowded(rows[crowded], take, top, similarity, ranking, crowded)
            order = np.argsort(-ranking, axis=1, kind="stable")[:, :k]
            indices[rows] = np.take_along_axis(top, order, axis=1)
            values[rows] = np.take_along_axis(similarity, order, axis=1)
        if left_crowded:
            logger.warning(
                "%d of %d photos have more than %d other edits among their nearest %d and were "
                "ranked among those only: their lists may end in edits of the same photo where "
                "other photos exist (the build's budget for such photos is spent)",
                left_crowded, n, COPY_MARGIN, take,
            )  # fmt: skip
        return indices, values

    def _rank_crowded(
        self,
        rows: np.ndarray,
        take: int,
        top: np.ndarray,
        similarity: np.ndarray,
        ranking: np.ndarray,
        at: np.ndarray,
    ) -> None:
        """Ranks `rows` (crowded by their copies) against every photo, copies last, into
        `top`, `similarity` and `ranking` at `at`; a few rows at a time, so the scores held
        stay within `_EXHAUSTIVE_SCORES`."""
        step = max(1, _EXHAUSTIVE_SCORES // len(self))
        for first in range(0, len(rows), step):
            part, into = rows[first : first + step], at[first : first + step]
            copies = self.copies.copies(self.copies.rows_at(part))
            top[into], similarity[into] = self._best_of_all(
                part, take, penalty=_COPY_PENALTY * copies
            )
            ranking[into] = similarity[into] - _COPY_PENALTY * (
                self.copies.pair_copies(part, top[into])
            )

    def _best_of_all(
        self, rows: np.ndarray, take: int, penalty: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each of `rows`' `take` best others against every photo (after `penalty`, (len(rows),
        n), when given): (indices, cosines), in no particular order."""
        matrix = self.all_rows()
        scores = matrix[rows] @ matrix.T
        scores[np.arange(len(rows)), rows] = -np.inf  # not itself
        ranked = scores if penalty is None else scores - penalty
        top = np.argpartition(-ranked, take - 1, axis=1)[:, :take]
        return top, np.take_along_axis(scores, top, axis=1)

    # --- persistence (npz, no pickle) ---------------------------------------------------------
    def to_bytes(self) -> bytes:
        arrays: dict[str, np.ndarray] = {"photo_ids": self.photo_ids, "matrix": self.all_rows()}
        names = []
        for i, block in enumerate(self.blocks):
            names.append(block.name)
            arrays.update(_block_arrays(f"b{i}", block))
        arrays["block_names"] = np.array(names)
        if self.copies is not None:
            arrays["copies_name"] = np.array(self.copies.name)
            arrays["copies_centre"] = self.copies.centre
            arrays["copies_components"] = self.copies.components
            arrays["copies_rows"] = self.copies.all_rows()
            arrays["copies_threshold"] = np.array(self.copies.threshold, np.float64)
        if self.centres is not None:
            arrays["centre_cluster_ids"] = self.centres.cluster_ids
            arrays["centres"] = self.centres.matrix
        buffer = io.BytesIO()
        mapped_npz.save(buffer, arrays)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> StyleSpace:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return cls._from_arrays({name: npz[name] for name in npz.files})

    @classmethod
    def open(
        cls,
        path: str | Path,
        map_from_bytes: int = mapped_npz.MAP_FROM_BYTES,
        random_access: bool = False,
    ) -> StyleSpace:
        """The space in the index file at `path` (what `to_bytes` wrote), its arrays of at least
        `map_from_bytes` (the photo rows and copy rows of any real gallery) memory-mapped
        (`mapped_npz`): web processes on one machine share one copy. `random_access` when
        queries read a few rows each (a gallery with a query index) rather than all of them."""
        return cls._from_arrays(mapped_npz.load(path, map_from_bytes, random_access))

    @classmethod
    def _from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> StyleSpace:
        blocks = [
            _block_from(arrays, f"b{i}", str(name)) for i, name in enumerate(arrays["block_names"])
        ]
        copies = None
        if "copies_rows" in arrays:
            copies = CopyDetector(
                str(arrays["copies_name"]),
                arrays["copies_centre"],
                arrays["copies_components"],
                arrays["copies_rows"],
                float(arrays["copies_threshold"]),
            )
        centres = None
        if "centres" in arrays:
            centres = ClusterCentres(arrays["centre_cluster_ids"], arrays["centres"])
        return cls(arrays["photo_ids"], arrays["matrix"], blocks, copies, centres)


class SpaceView(StyleSpace):
    """A view of a space (`StyleSpace.view`) that computes its rows from the space's instead
    of holding them: a row is the space's row on the view's columns, scaled, over its norm. So
    a mode costs a web process one float a photo (the norms, computed on first use), not a
    copy of the index, and the space's rows stay the memory-mapped file's."""

    def __init__(
        self,
        space: StyleSpace,
        blocks: list[BlockTransform],
        columns: np.ndarray,
        scale: np.ndarray,
        copies: CopyDetector | None,
    ):
        self.space = space
        self.blocks = blocks
        self.copies = copies
        self.centres = None
        self.query_index = None  # a view compares every photo
        self.photo_ids = space.photo_ids
        self._by_id = space._by_id
        self._columns = columns
        self._scale = scale
        self._norms: np.ndarray | None = None

    @property
    def dim(self) -> int:
        return len(self._columns)

    @property
    def matrix(self) -> np.ndarray:
        return self.all_rows()

    @property
    def tail(self) -> None:
        return None

    def _row_norms(self) -> np.ndarray:
        if self._norms is None:
            norms = np.empty(len(self.space), np.float32)
            for start in range(0, len(norms), EMBED_CHUNK):
                rows = self.space.rows_at(np.arange(start, min(start + EMBED_CHUNK, len(norms))))
                norms[start : start + len(rows)] = np.linalg.norm(
                    rows[:, self._columns] * self._scale, axis=1
                )
            norms[norms < 1e-12] = 1.0
            self._norms = norms
        return self._norms

    def similarities(self, queries: np.ndarray) -> np.ndarray:
        queries = np.atleast_2d(queries).astype(np.float32)
        spread = np.zeros((len(queries), self.space.dim), np.float32)
        spread[:, self._columns] = queries * self._scale
        return self.space.similarities(spread) / self._row_norms()

    def rows_at(self, index) -> np.ndarray:
        rows = self.space.rows_at(index)[..., self._columns] * self._scale
        return (rows / self._row_norms()[index][..., None]).astype(np.float32)

    def all_rows(self) -> np.ndarray:
        return self.rows_at(np.arange(len(self.space)))

    def extended(self, photo_ids, rows, copy_rows) -> StyleSpace:
        raise TypeError("Extend the space, then take its view again.")


def _best(values: np.ndarray, take: int) -> np.ndarray:
    """Indices of the `take` largest `values`, in no particular order."""
    if take >= len(values):
        return np.arange(len(values))
    return np.argpartition(-values, take - 1)[:take]


def _appended(tail: np.ndarray | None, rows: np.ndarray) -> np.ndarray:
    return rows if tail is None else np.concatenate([tail, rows])


def _block_arrays(prefix: str, block: BlockTransform) -> dict[str, np.ndarray]:
    arrays = {
        f"{prefix}_mean": block.mean,
        f"{prefix}_scale": block.scale,
        f"{prefix}_meta": np.array([block.weight, block.norm], np.float64),
    }
    if block.components is not None:
        arrays[f"{prefix}_components"] = block.components
        arrays[f"{prefix}_centre"] = block.centre
    if block.inputs:
        arrays[f"{prefix}_inputs"] = np.array(block.inputs)
    return arrays


def _block_from(arrays: Mapping[str, np.ndarray], prefix: str, name: str) -> BlockTransform:
    weight, norm = arrays[f"{prefix}_meta"]
    inputs = arrays.get(f"{prefix}_inputs", ())
    return BlockTransform(
        name,
        float(weight),
        arrays[f"{prefix}_mean"],
        arrays[f"{prefix}_scale"],
        arrays.get(f"{prefix}_components"),
        float(norm),
        arrays.get(f"{prefix}_centre"),
        tuple(str(n) for n in inputs),
    )
