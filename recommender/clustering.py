"""Clusters of the style space: choice of k, fit, and how good the result is (numpy and
scikit-learn, no Django).

`cluster(space.matrix, ...)` takes the L2-normalised rows of the combined style space and returns
a `ClusteringResult`: labels, unit centroids, each row's distance to its centroid, silhouette,
WCSS and bootstrap stability at the chosen k, and the sweep of every k tried.

Choices, so that an automatic run over 10k photos and k = 2…60 stays well under a minute on two
cores:

- **The k range grows with the gallery.** Without a `k_max`, automatic k tries up to
  `default_k_max(n)` = √n, at least `AUTO_K_MAX_FLOOR` and at most `AUTO_K_MAX_CEILING`: 40
  photos try k = 2…6, 65 photos 2…8, 1k photos 2…32, from about 3.6k photos 2…60. A fixed range
  wasted most of a small gallery's sweep on k it could not support (65 photos and k up to 20:
  three photos an album) and gave a large one too few. √(n/2), the rule of thumb for k itself,
  was the bound until December 2026: it stopped the demo's 40 photos in 5 looks at k = 4.
- **The finest partition that is nearly as well separated as the best.** Automatic k is the
  largest k whose silhouette is within `SILHOUETTE_TOLERANCE` (10 %) of the best one. The best
  silhouette alone favours coarse splits (black & white against colour) that are barely better
  separated than the albums a photographer would make. On the six look sets of the README
  (`benchmarks/retrieval.py SET labels.csv --albums default`) the adjusted Rand index of the
  albums against the looks rose from 0.38 to 0.42 on average, and the demo's 40 photos in 5
  looks (`benchmarks/demo_similar.py`) went from 2 albums (0.22) to 5 (0.61), on the same look
  space (0.47 and 0.68 with the CNN's channel correlations, added since).
- **Silhouette** is Euclidean on the unit rows (the chord distance, sqrt(2 - 2 cos)). It orders
  pairs exactly as cosine does, and unlike the cosine "distance" it is a metric and the distance
  that k-means and Ward minimise, so the score judges the partition by the criterion that built
  it (and WCSS, in the same units, can be read next to it). It is computed on one fixed random
  sample of at most `silhouette_sample` rows, whose distance matrix is computed once and reused
  for every k (exact when n is not larger than the sample).
- **k-means** (scikit-learn `KMeans`, Lloyd, best of `N_INIT` starts) starts from k-means++
  seeds drawn once per start for the largest k: the first k of those centres are a k-means++
  seeding for k, so the sweep pays for seeding once instead of once per k. Each fit is then
  polished by spherical k-means steps (assign each row to the most similar unit centroid,
  recompute), so the returned centroids are the normalised means of their members and every
  row's own centroid is its nearest: what the site uses to place a new photo. Above
  `KMEANS_SWEEP_ROWS` rows the sweep fits a fixed random sample of that many rows and labels every
  row by its nearest centroid (the WCSS and silhouette of the sweep are of that labelling); the
  chosen k is then polished on all rows, and its sweep point describes the returned partition.
  (MiniBatchKMeans on all rows was tried: its rough centres needed many full-data polishing
  steps per k, and 100k rows took ~4× longer than the sample.)
- **Ward** (`AgglomerativeClustering(linkage="ward")`) builds the full merge tree once and cuts it
  at every k. The tree needs O(n²) memory, so above `WARD_MAX_ROWS` rows it is built on a fixed
  random sample of that many rows; the other rows join the cluster whose (normalised) sample mean
  is nearest, and the centroids are then recomputed over all members.
- **Stability**: `stability_runs` fits on bootstrap resamples (at most `stability_sample` rows,
  drawn with replacement, each with its own seed) at the chosen k; each fit labels one common
  evaluation sample by nearest centroid and is scored by the adjusted Rand index against the full
  fit's labels; the mean is reported (1 = the same partition every time).

Everything random is drawn from generators seeded by (`seed`, purpose): the same input and seed
give the same result, and nothing global is touched.

scikit-learn is imported by the functions that fit, not with this module: its import takes
about 0.7 s, which every process loading the app would otherwise pay before its first request or
its first ingested photo, while only a re-cluster clusters.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import sparse
from threadpoolctl import threadpool_limits

ALGORITHMS = ("kmeans", "ward")
#: k-means starts per k (the best inertia wins)
N_INIT = 3
#: above this many rows the k-means sweep fits a sample of this many rows
KMEANS_SWEEP_ROWS = 20_000
#: Ward's tree is built on at most this many rows (O(n²) memory: ~100 MB at 5000)
WARD_MAX_ROWS = 5_000
#: at most this many spherical k-means steps after each k-means fit
REFINE_MAX_ITER = 50
#: stability needs at least this many rows
STABILITY_MIN_ROWS = 10

# Independent random streams, one per purpose.
_SILHOUETTE, _KMEANS, _WARD, _STABILITY = range(4)

#: automatic k without a k_max: √n clamped to [AUTO_K_MAX_FLOOR, AUTO_K_MAX_CEILING]
AUTO_K_MAX_FLOOR = 4
AUTO_K_MAX_CEILING = 60
#: automatic k: the largest k whose silhouette is at least (1 - this) × the best one
SILHOUETTE_TOLERANCE = 0.10


def default_k_max(n: int) -> int:
    """Largest k automatic k tries for `n` photos when none is set (see the module docstring)."""
    return int(min(AUTO_K_MAX_CEILING, max(AUTO_K_MAX_FLOOR, round(math.sqrt(n)))))


@dataclass
class SweepPoint:
    k: int
    silhouette: float | None  # None when it could not be computed
    wcss: float


@dataclass
class ClusteringResult:
    k: int
    algorithm: str  # "kmeans" or "ward"
    labels: np.ndarray  # (n,) int, 0..k-1, every label used
    centroids: np.ndarray  # (k, d) float32, mean of each cluster's rows (L2-normalised)
    distances: np.ndarray  # (n,) float32, Euclidean distance of each row to its own centroid
    silhouette: float | None  # at the chosen k (sampled when n is large)
    wcss: float  # within-cluster sum of squares at the chosen k
    stability: float | None  # mean adjusted Rand index over bootstrap re-fits
    sweep: list[SweepPoint] = field(default_factory=list)  # every k tried, or the fixed k

    def sweep_as_dicts(self) -> list[dict]:
        return [asdict(point) for point in self.sweep]


def cluster(
    matrix: np.ndarray,
    *,
    k: int | None = None,
    k_min: int = 2,
    k_max: int | None = None,
    algorithm: str = "kmeans",
    seed: int = 0,
    silhouette_sample: int = 2000,
    stability_runs: int = 5,
    stability_sample: int = 2000,
) -> ClusteringResult:
    """Cluster the rows of `matrix` (n, d), which should be L2-normalised.

    `k` given: that k, clamped to [1, number of distinct rows]. `k=None`: every k in
    [max(k_min, 2), min(k_max, n - 1, distinct rows)] is fitted (`k_max=None`: the larger of
    `default_k_max(n)` and `k_min`) and the largest k whose silhouette is within
    `SILHOUETTE_TOLERANCE` of the best wins (if no silhouette can be computed, the smallest k).
    Fewer than 3 rows, or a single distinct row, give one cluster. Labels are numbered by cluster
    size, largest first. A fit that leaves a cluster empty (duplicate rows) returns fewer
    clusters than asked; `result.k` is always the number of labels used.
    """
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, not {algorithm!r}")
    X = np.ascontiguousarray(matrix, dtype=np.float32)
    if X.ndim != 2:
        raise ValueError(f"expected a 2-D matrix, got shape {X.shape}")
    n = X.shape[0]
    if n == 0:
        raise ValueError("cannot cluster an empty matrix")
    if not np.isfinite(X).all():
        raise ValueError("the matrix has NaN or infinite values")
    if k_max is None:
        k_max = max(default_k_max(n), k_min)
    if k is None and k_min > k_max:
        raise ValueError(f"k_min ({k_min}) is larger than k_max ({k_max})")

    distinct = _count_distinct(X) if n >= 3 else n
    if k is not None:
        ks = [int(min(max(k, 1), distinct))]
    else:
        high = min(k_max, n - 1, distinct)
        ks = list(range(min(max(k_min, 2), high), high + 1))
    if n < 3 or distinct < 2 or ks in ([], [1]):
        return _single_cluster(X, algorithm)
    # scikit-learn's k-means synchronises its OpenMP threads at every Lloyd step. On two cores
    # that other processes also use, a thread that waits for the CPU stalls every step: a
    # 500-row sweep took 5 s instead of 0.07 s, and 10k rows were no faster with two threads.
    # So the fits run on one OpenMP thread (limit restored on return); BLAS keeps its threads.
    with threadpool_limits(limits=1, user_api="openmp"):
        return _fit_and_score(
            X, ks, algorithm, seed, silhouette_sample, stability_runs, stability_sample
        )


def _fit_and_score(
    X: np.ndarray,
    ks: list[int],
    algorithm: str,
    seed: int,
    silhouette_sample: int,
    stability_runs: int,
    stability_sample: int,
) -> ClusteringResult:
    n = X.shape[0]
    sample = _sample(n, silhouette_sample, _rng(seed, _SILHOUETTE))
    pairwise = _pairwise_distances(X[sample]) if len(sample) >= 3 else None
    fits = (
        _kmeans_fits(X, ks, seed) if algorithm == "kmeans" else _ward_fits(X, ks, _rng(seed, _WARD))
    )
    sweep: list[SweepPoint] = []
    best_score, chosen_labels, chosen = -np.inf, None, 0
    for k_tried, labels in fits:
        labels = _by_size(labels)
        score = _silhouette(pairwise, labels[sample]) if pairwise is not None else None
        sweep.append(SweepPoint(k_tried, score, _wcss(X, labels)))
        # k rises through the sweep, so the chosen k is the best one or a later one close enough
        # to it: one partition is kept at a time, never the whole sweep's (a million rows each).
        if score is not None and score > best_score:
            best_score = score
        if chosen_labels is None or (
            score is not None and score >= best_score - SILHOUETTE_TOLERANCE * abs(best_score)
        ):
            chosen_labels, chosen = labels, len(sweep) - 1
    assert chosen_labels is not None
    labels = chosen_labels
    if algorithm == "kmeans" and n > max(KMEANS_SWEEP_ROWS, max(ks)):
        # The sweep fitted a sample: finish the chosen k on all rows, and report that partition.
        labels = _by_size(_spherical_polish(X, labels, int(labels.max()) + 1))
        score = _silhouette(pairwise, labels[sample]) if pairwise is not None else None
        sweep[chosen] = SweepPoint(sweep[chosen].k, score, _wcss(X, labels))
    k_used = int(labels.max()) + 1
    centroids, distances = _centroids_and_distances(X, labels, k_used)
    stability = (
        _stability(X, labels, k_used, algorithm, seed, stability_runs, stability_sample)
        if n >= STABILITY_MIN_ROWS and k_used >= 2 and stability_runs > 0
        else None
    )
    return ClusteringResult(
        k=k_used,
        algorithm=algorithm,
        labels=labels,
        centroids=centroids,
        distances=distances,
        silhouette=sweep[chosen].silhouette,
        wcss=sweep[chosen].wcss,
        stability=stability,
        sweep=sweep,
    )


# --- fits ----------------------------------------------------------------------------------------


def _kmeans_fits(X: np.ndarray, ks: Sequence[int], seed: int) -> Iterator[tuple[int, np.ndarray]]:
    """(k, labels) for each k: the best of N_INIT k-means starts, polished by spherical steps.

    Above KMEANS_SWEEP_ROWS rows the fits use a fixed random sample of that many rows and every
    row is then labelled by its most similar unit centroid (`cluster` polishes the chosen k on
    all rows).
    """
    from sklearn.cluster import KMeans, kmeans_plusplus  # imported here: see module docstring

    n = X.shape[0]
    rng = _rng(seed, _KMEANS)
    rows = _sample(n, max(KMEANS_SWEEP_ROWS, max(ks)), rng)
    fit_rows = X[rows] if len(rows) < n else X
    seeds = [_int_seed(rng) for _ in range(N_INIT)]
    # k-means++ is sequential: the first k centres of a seeding for max(ks) are one for k.
    starts = [kmeans_plusplus(fit_rows, max(ks), random_state=s)[0] for s in seeds]
    for k in ks:
        best = None
        for s, centres in zip(seeds, starts, strict=True):
            estimator = KMeans(k, init=centres[:k], n_init=1, random_state=s).fit(fit_rows)
            if best is None or estimator.inertia_ < best.inertia_:
                best = estimator
        labels = _spherical_polish(fit_rows, best.labels_.astype(np.intp), k)
        if len(rows) < n:
            labels = np.argmax(X @ _unit_means(fit_rows, labels, k).T, axis=1)
        yield k, labels


def _spherical_polish(X: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Spherical k-means steps until every row's own unit centroid is its most similar one (or
    REFINE_MAX_ITER steps, or a step would empty a cluster: then the previous labels stay)."""
    for _ in range(REFINE_MAX_ITER):
        centroids = _unit_means(X, labels, k)
        new = np.argmax(X @ centroids.T, axis=1)
        if np.array_equal(new, labels) or np.bincount(new, minlength=k).min() == 0:
            break
        labels = new
    return labels


def _ward_fits(
    X: np.ndarray, ks: Sequence[int], rng: np.random.Generator
) -> Iterator[tuple[int, np.ndarray]]:
    """(k, labels) for each k from one Ward tree (on a sample above WARD_MAX_ROWS rows)."""
    from sklearn.cluster import AgglomerativeClustering  # imported here: see module docstring

    n = X.shape[0]
    rows = _sample(n, WARD_MAX_ROWS, rng)
    tree = AgglomerativeClustering(n_clusters=1, linkage="ward", compute_full_tree=True)
    tree.fit(X[rows] if len(rows) < n else X)
    for k, sample_labels in _cut_tree(tree.children_, len(rows), [min(k, len(rows)) for k in ks]):
        if len(rows) == n:
            yield k, sample_labels
            continue
        centroids = _unit_means(X[rows], sample_labels, k)
        labels = np.argmax(X @ centroids.T, axis=1)
        labels[rows] = sample_labels
        yield k, labels


def _cut_tree(
    children: np.ndarray, n_leaves: int, ks: Sequence[int]
) -> Iterator[tuple[int, np.ndarray]]:
    """(k, leaf labels) of a merge tree (`children_` of scikit-learn, merges in order) cut into
    k clusters, for each k in `ks`: one pass over the merges serves every k."""
    wanted = set(ks)
    members: dict[int, np.ndarray] = {i: np.array([i]) for i in range(n_leaves)}
    cuts: dict[int, np.ndarray] = {}
    if n_leaves in wanted:
        cuts[n_leaves] = np.arange(n_leaves)
    for step, (a, b) in enumerate(children):
        members[n_leaves + step] = np.concatenate([members.pop(int(a)), members.pop(int(b))])
        remaining = n_leaves - step - 1
        if remaining in wanted:
            labels = np.empty(n_leaves, np.intp)
            for label, node in enumerate(sorted(members)):
                labels[members[node]] = label
            cuts[remaining] = labels
        if remaining <= min(wanted):
            break
    for k in ks:
        yield k, cuts[k]


# --- measures ------------------------------------------------------------------------------------


def _pairwise_distances(rows: np.ndarray) -> np.ndarray:
    rows = rows.astype(np.float64)
    squared = np.einsum("ij,ij->i", rows, rows)
    d2 = squared[:, None] + squared[None, :] - 2.0 * (rows @ rows.T)
    np.maximum(d2, 0.0, out=d2)
    np.fill_diagonal(d2, 0.0)
    return np.sqrt(d2)


def _silhouette(distances: np.ndarray, labels: np.ndarray) -> float | None:
    """Mean silhouette from a precomputed distance matrix (as `sklearn.metrics.silhouette_score`
    with metric="precomputed": 0 for a point alone in its cluster); None when undefined."""
    s = len(labels)
    _, inverse = np.unique(labels, return_inverse=True)
    m = int(inverse.max()) + 1
    if m < 2 or m > s - 1:
        return None
    onehot = np.zeros((s, m))
    onehot[np.arange(s), inverse] = 1.0
    sums = distances @ onehot
    counts = onehot.sum(axis=0)
    own = counts[inverse]
    a = sums[np.arange(s), inverse] / np.maximum(own - 1, 1)
    mean_to = sums / counts
    mean_to[np.arange(s), inverse] = np.inf
    b = mean_to.min(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = (b - a) / np.maximum(a, b)
    values = np.nan_to_num(values) * (own > 1)
    return float(values.mean())


def _wcss(X: np.ndarray, labels: np.ndarray) -> float:
    """Sum of squared Euclidean distances of the rows to their cluster's (unnormalised) mean."""
    k = int(labels.max()) + 1
    means = _sums(X, labels, k) / np.bincount(labels, minlength=k)[:, None].astype(np.float32)
    total = 0.0
    for start in range(0, X.shape[0], 16_384):
        stop = start + 16_384
        residual = X[start:stop] - means[labels[start:stop]]
        total += float(np.einsum("ij,ij->", residual, residual, dtype=np.float64))
    return total


def _centroids_and_distances(
    X: np.ndarray, labels: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    centroids = _unit_means(X, labels, k)
    own = centroids[labels]
    distances = np.empty(X.shape[0], np.float32)
    for start in range(0, X.shape[0], 16_384):
        stop = start + 16_384
        residual = X[start:stop] - own[start:stop]
        distances[start:stop] = np.sqrt(np.einsum("ij,ij->i", residual, residual))
    return centroids, distances


def _stability(
    X: np.ndarray,
    labels: np.ndarray,
    k: int,
    algorithm: str,
    seed: int,
    runs: int,
    sample_size: int,
) -> float:
    """Mean ARI between the full fit and fits on bootstrap resamples, on one evaluation sample."""
    from sklearn.cluster import (  # imported here: see module docstring
        AgglomerativeClustering,
        KMeans,
    )
    from sklearn.metrics import adjusted_rand_score

    n = X.shape[0]
    rng = _rng(seed, _STABILITY)
    evaluation = _sample(n, sample_size, rng)
    scores = []
    for _ in range(runs):
        resample = X[rng.integers(n, size=min(n, sample_size))]
        run_seed = _int_seed(rng)
        k_run = min(k, _count_distinct(resample))
        if k_run < 2:
            predicted = np.zeros(len(evaluation), np.intp)
        else:
            if algorithm == "kmeans":
                fitted = KMeans(k_run, n_init=N_INIT, random_state=run_seed).fit(resample).labels_
            else:
                fitted = AgglomerativeClustering(k_run, linkage="ward").fit(resample).labels_
            centroids = _unit_means(resample, fitted.astype(np.intp), k_run)
            predicted = np.argmax(X[evaluation] @ centroids.T, axis=1)
        scores.append(adjusted_rand_score(labels[evaluation], predicted))
    return float(np.mean(scores))


# --- helpers -------------------------------------------------------------------------------------


def _single_cluster(X: np.ndarray, algorithm: str) -> ClusteringResult:
    labels = np.zeros(X.shape[0], np.intp)
    centroids, distances = _centroids_and_distances(X, labels, 1)
    wcss = _wcss(X, labels)
    return ClusteringResult(
        k=1,
        algorithm=algorithm,
        labels=labels,
        centroids=centroids,
        distances=distances,
        silhouette=None,
        wcss=wcss,
        stability=None,
        sweep=[SweepPoint(1, None, wcss)],
    )


def _sums(X: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """(k, d) float32: the sum of each cluster's rows."""
    n = X.shape[0]
    onehot = sparse.csr_matrix((np.ones(n, np.float32), (labels, np.arange(n))), shape=(k, n))
    return np.asarray(onehot @ X, dtype=np.float32)


def _unit_means(X: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """(k, d) float32: each cluster's mean, L2-normalised (a mean of zero length, e.g. of two
    opposite rows, is replaced by its first member's direction)."""
    sums = _sums(X, labels, k)
    norms = np.linalg.norm(sums, axis=1)
    for label in np.flatnonzero(norms < 1e-12):
        members = np.flatnonzero(labels == label)
        if len(members):
            sums[label] = X[members[0]]
            norms[label] = np.linalg.norm(sums[label])
        if norms[label] < 1e-12:
            sums[label] = 0.0
            sums[label, 0] = norms[label] = 1.0
    return (sums / norms[:, None]).astype(np.float32)


def _by_size(labels: np.ndarray) -> np.ndarray:
    """Labels renumbered 0..k-1 by cluster size, largest first (ties: lower old label first);
    labels no row uses disappear."""
    counts = np.bincount(labels)
    order = np.argsort(-counts, kind="stable")[: np.count_nonzero(counts)]
    mapping = np.empty(len(counts), np.intp)
    mapping[order] = np.arange(len(order))
    return mapping[labels]


def _count_distinct(X: np.ndarray) -> int:
    rows = np.ascontiguousarray(X + 0.0)  # + 0.0 turns -0.0 into 0.0
    return len(np.unique(rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1])))))


def _sample(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """All row indices, or a sorted random sample of `size` of them without replacement."""
    if n <= size:
        return np.arange(n)
    return np.sort(rng.choice(n, size=max(size, 0), replace=False))


def _rng(seed: int, purpose: int) -> np.random.Generator:
    return np.random.default_rng([seed, purpose])


def _int_seed(rng: np.random.Generator) -> int:
    return int(rng.integers(2**31 - 1))
