"""Clustering of the style space: choice of k, fits, measures, edge cases and the large-n paths."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from sklearn.cluster import AgglomerativeClustering
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score, silhouette_score

from recommender import clustering
from recommender.clustering import ClusteringResult, SweepPoint, cluster

ALGORITHMS = ["kmeans", "ward"]


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def blobs(k: int, n: int = 420, dim: int = 12, seed: int | None = None):
    rows, truth = make_blobs(
        n_samples=n,
        centers=k,
        n_features=dim,
        cluster_std=1.0,
        center_box=(-10, 10),
        random_state=k if seed is None else seed,
    )
    return unit(rows), truth


def noise(n: int = 500, dim: int = 8) -> np.ndarray:
    return unit(np.random.default_rng(0).normal(size=(n, dim)))


def check_invariants(result: ClusteringResult, rows: np.ndarray) -> None:
    """What every result promises, whatever the input."""
    n, dim = rows.shape
    assert result.labels.shape == (n,)
    assert np.issubdtype(result.labels.dtype, np.integer)
    assert set(np.unique(result.labels)) == set(range(result.k))  # every label used
    sizes = np.bincount(result.labels)
    assert (np.diff(sizes) <= 0).all()  # numbered by size, largest first
    assert result.centroids.shape == (result.k, dim)
    assert result.centroids.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(result.centroids, axis=1), 1.0, rtol=1e-5)
    for label in range(result.k):
        mean = rows[result.labels == label].mean(axis=0)
        if np.linalg.norm(mean) > 1e-6:
            np.testing.assert_allclose(
                result.centroids[label], mean / np.linalg.norm(mean), atol=1e-5
            )
    assert result.distances.shape == (n,)
    assert result.distances.dtype == np.float32
    assert (result.distances >= 0).all()
    expected = np.linalg.norm(rows - result.centroids[result.labels], axis=1)
    np.testing.assert_allclose(result.distances, expected, atol=1e-5)
    assert np.isfinite(result.wcss) and result.wcss >= 0
    assert result.sweep, "the sweep always has at least the k that was fitted"
    assert all(isinstance(point, SweepPoint) for point in result.sweep)
    json.dumps(result.sweep_as_dicts())  # stored in a JSONField as it is


# --- choice of k ---------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("true_k", [4, 7])
def test_auto_k_finds_the_number_of_blobs(algorithm, true_k):
    rows, truth = blobs(true_k)
    result = cluster(rows, k_max=12, algorithm=algorithm)
    check_invariants(result, rows)
    assert result.k == true_k
    assert result.algorithm == algorithm
    assert adjusted_rand_score(truth, result.labels) > 0.99
    assert result.silhouette is not None and result.silhouette > 0.6
    # The result's silhouette and WCSS are the sweep's at the chosen k, which is the best.
    chosen = next(p for p in result.sweep if p.k == result.k)
    assert (chosen.silhouette, chosen.wcss) == (result.silhouette, result.wcss)
    assert result.silhouette == max(p.silhouette for p in result.sweep)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_sweep_has_one_point_per_k_with_decreasing_wcss(algorithm):
    rows, _ = blobs(4)
    result = cluster(rows, k_min=2, k_max=10, algorithm=algorithm)
    assert [p.k for p in result.sweep] == list(range(2, 11))
    wcss = np.array([p.wcss for p in result.sweep])
    assert np.isfinite(wcss).all()
    assert wcss[-1] < wcss[0]
    if algorithm == "ward":  # cuts of one tree are nested: never increases
        assert (np.diff(wcss) <= 1e-6 * wcss[0]).all()
    else:
        assert (np.diff(wcss) <= 0.02 * wcss[0]).all()
    assert all(p.silhouette is not None and -1 <= p.silhouette <= 1 for p in result.sweep)
    assert result.sweep_as_dicts()[0].keys() == {"k", "silhouette", "wcss"}


def test_k_range_is_clamped_to_n():
    rows, _ = blobs(3, n=6, dim=4)
    assert [p.k for p in cluster(rows, k_min=2, k_max=20).sweep] == [2, 3, 4, 5]  # n - 1
    # k_min above n - 1: the largest k left.
    assert [p.k for p in cluster(rows[:4], k_min=5, k_max=20).sweep] == [3]
    with pytest.raises(ValueError, match="k_min"):
        cluster(rows, k_min=5, k_max=3)


def test_without_k_max_the_range_grows_with_the_gallery():
    sizes = (10, 40, 65, 100, 1000, 3600, 10_000, 100_000)
    assert [clustering.default_k_max(n) for n in sizes] == [4, 6, 8, 10, 32, 60, 60, 60]
    rows, _ = blobs(5, n=65, dim=8)
    assert [p.k for p in cluster(rows).sweep] == list(range(2, 9))
    rows, _ = blobs(5, n=1000, dim=8)
    assert [p.k for p in cluster(rows, stability_runs=0).sweep] == list(range(2, 33))
    # A k_min above the grown maximum is still honoured.
    assert [p.k for p in cluster(rows[:65], k_min=10).sweep] == [10]


@pytest.mark.parametrize(
    ("scores", "chosen"),
    [
        ({3: 0.50, 4: 0.46, 5: 0.44, 6: 0.30}, 4),  # 4 is within 10 % of the best, 5 is not
        ({3: 0.40, 4: 0.50, 5: 0.20, 6: 0.46}, 6),  # a close k after a poor one still counts
        ({3: 0.40, 4: 0.38, 5: 0.50, 6: 0.10}, 5),  # a later best rules out the ks before it
        ({3: 0.50, 4: 0.50, 5: 0.50, 6: 0.50}, 6),  # ties: the finest partition
        ({3: -0.20, 4: -0.21, 5: -0.30, 6: -0.40}, 4),  # 10 % of a negative best
        ({3: None, 4: None, 5: None, 6: None}, 3),  # no silhouette: the smallest k
        ({3: None, 4: 0.30, 5: None, 6: 0.20}, 4),
    ],
)
def test_automatic_k_is_the_largest_k_nearly_as_well_separated_as_the_best(
    monkeypatch, scores, chosen
):
    monkeypatch.setattr(
        clustering, "_silhouette", lambda distances, labels: scores[int(labels.max()) + 1]
    )
    rows, _ = blobs(4)
    result = cluster(rows, k_min=3, k_max=6)
    assert [p.k for p in result.sweep] == [3, 4, 5, 6]
    assert result.k == chosen and result.silhouette == scores[chosen]
    assert len(np.unique(result.labels)) == chosen


def test_automatic_k_splits_a_coarse_pair_of_groups_into_the_albums_inside_them():
    """Two far-apart groups of four tight blobs each: the best silhouette is the coarse split
    (k = 2), the eight blobs are nearly as well separated, and they are what automatic k
    returns."""
    rng = np.random.default_rng(3)
    sides = np.eye(16)[:2] * 5.0
    offsets = np.eye(16)[2:6]
    centres = np.array([side + offset for side in sides for offset in offsets])
    truth = np.repeat(np.arange(8), 10)
    rows = centres[truth] + rng.normal(scale=0.05, size=(80, 16))
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    result = cluster(rows, k_max=10)
    by_k = {p.k: p.silhouette for p in result.sweep}
    assert max(by_k, key=by_k.get) == 2, by_k  # what the best silhouette alone would choose
    assert result.k == 8, by_k
    assert adjusted_rand_score(truth, result.labels) > 0.99


def test_silhouette_is_euclidean_on_the_rows_and_sampled_above_the_sample_size():
    rows, _ = blobs(5, n=600)
    exact = cluster(rows, k=5)
    assert exact.silhouette == pytest.approx(silhouette_score(rows, exact.labels), abs=1e-6)
    sampled = cluster(rows, k=5, silhouette_sample=150)
    np.testing.assert_array_equal(sampled.labels, exact.labels)
    assert sampled.silhouette == pytest.approx(exact.silhouette, abs=0.05)
    assert sampled.silhouette != exact.silhouette
    assert cluster(rows, k=5, silhouette_sample=0).silhouette is None


# --- fixed k and the fits ------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_fixed_k_is_respected(algorithm):
    rows, _ = blobs(4)
    result = cluster(rows, k=6, algorithm=algorithm)
    check_invariants(result, rows)
    assert result.k == 6
    assert [p.k for p in result.sweep] == [6]
    assert result.sweep[0].silhouette == result.silhouette
    assert result.sweep[0].wcss == result.wcss


@pytest.mark.parametrize("k", [7, 11])
def test_kmeans_rows_sit_in_their_nearest_centroid(k):
    for rows in (blobs(7)[0], noise()):
        result = cluster(rows, k=k)
        distances = np.linalg.norm(rows[:, None, :] - result.centroids[None, :, :], axis=2)
        np.testing.assert_array_equal(np.argmin(distances, axis=1), result.labels)
        np.testing.assert_allclose(result.distances, distances.min(axis=1), atol=1e-5)


def test_ward_matches_scikit_learn():
    rows, _ = blobs(7, n=300)
    for k in (3, 7, 12):
        result = cluster(rows, k=k, algorithm="ward")
        reference = AgglomerativeClustering(k, linkage="ward").fit(rows).labels_
        assert adjusted_rand_score(reference, result.labels) == 1.0


def test_same_seed_same_result():
    rows = noise()
    for algorithm in ALGORITHMS:
        first = cluster(rows, k_max=8, algorithm=algorithm, seed=3)
        second = cluster(rows, k_max=8, algorithm=algorithm, seed=3)
        np.testing.assert_array_equal(first.labels, second.labels)
        np.testing.assert_array_equal(first.centroids, second.centroids)
        assert first.sweep == second.sweep
        assert first.stability == second.stability


# --- stability -----------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_stability_is_high_on_blobs_and_lower_on_noise(algorithm):
    rows, _ = blobs(4)
    on_blobs = cluster(rows, k=4, algorithm=algorithm).stability
    on_noise = cluster(noise(), k=6, algorithm=algorithm).stability
    assert on_blobs is not None and on_blobs > 0.95
    assert on_noise is not None and on_noise < 0.7
    assert cluster(rows, k=4, stability_runs=0).stability is None


def test_stability_needs_ten_rows():
    rows, _ = blobs(2, n=9, dim=4)
    result = cluster(rows, k=2)
    assert result.k == 2 and result.stability is None
    assert cluster(blobs(2, n=10, dim=4)[0], k=2).stability is not None


# --- edge cases ----------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("k", [None, 1, 3])
@pytest.mark.parametrize("n", [1, 2])
def test_one_or_two_rows_make_one_cluster(algorithm, k, n):
    rows = unit(np.random.default_rng(n).normal(size=(n, 5)))
    result = cluster(rows, k=k, algorithm=algorithm)
    check_invariants(result, rows)
    assert result.k == 1
    assert result.silhouette is None and result.stability is None
    assert [p.k for p in result.sweep] == [1]
    if n == 1:
        assert result.distances[0] == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("k", [None, 4])
def test_identical_rows_make_one_cluster(algorithm, k):
    rows = np.tile(unit(np.arange(1, 7, dtype=np.float32)[None, :]), (40, 1))
    result = cluster(rows, k=k, algorithm=algorithm)
    check_invariants(result, rows)
    assert result.k == 1 and result.silhouette is None
    assert result.wcss == pytest.approx(0.0, abs=1e-6)
    np.testing.assert_allclose(result.distances, 0.0, atol=1e-3)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_fewer_distinct_rows_than_k(algorithm):
    directions = unit(np.eye(6, dtype=np.float32)[:3] + 0.1)
    rows = np.repeat(directions, [20, 12, 8], axis=0)
    auto = cluster(rows, k_max=10, algorithm=algorithm)
    check_invariants(auto, rows)
    assert auto.k == 3 and [p.k for p in auto.sweep] == [2, 3]
    fixed = cluster(rows, k=8, algorithm=algorithm)
    check_invariants(fixed, rows)
    assert fixed.k == 3
    assert adjusted_rand_score(np.repeat([0, 1, 2], [20, 12, 8]), fixed.labels) == 1.0


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_k_above_n_is_clamped(algorithm):
    rows = noise(n=5, dim=4)
    result = cluster(rows, k=10, algorithm=algorithm)
    check_invariants(result, rows)
    assert result.k == 5
    np.testing.assert_allclose(result.distances, 0.0, atol=1e-3)
    assert cluster(rows, k=0, algorithm=algorithm).k == 1


def test_bad_input_is_refused():
    rows = noise(n=20)
    with pytest.raises(ValueError, match="algorithm"):
        cluster(rows, algorithm="dbscan")
    with pytest.raises(ValueError, match="2-D"):
        cluster(rows[0])
    with pytest.raises(ValueError, match="empty"):
        cluster(rows[:0])
    broken = rows.copy()
    broken[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        cluster(broken)


# --- large n -------------------------------------------------------------------------------------


def test_large_n_kmeans_fits_a_sample_and_finishes_on_all_rows():
    rows, truth = blobs(5, n=30_000, dim=8, seed=1)
    began = time.perf_counter()
    result = cluster(rows, k_min=2, k_max=8)
    elapsed = time.perf_counter() - began
    assert rows.shape[0] > clustering.KMEANS_SWEEP_ROWS
    check_invariants(result, rows)
    assert result.k == 5
    assert adjusted_rand_score(truth, result.labels) > 0.99
    assert result.silhouette is not None and result.stability is not None
    assert result.stability > 0.95
    nearest = np.argmax(rows @ result.centroids.T, axis=1)
    np.testing.assert_array_equal(nearest, result.labels)
    assert elapsed < 15, f"{elapsed:.1f} s"


def test_large_n_ward_fits_a_sample_and_assigns_the_rest(monkeypatch):
    monkeypatch.setattr(clustering, "WARD_MAX_ROWS", 200)
    rows, truth = blobs(4, n=1000)
    result = cluster(rows, k_max=8, algorithm="ward")
    check_invariants(result, rows)
    assert result.k == 4
    assert adjusted_rand_score(truth, result.labels) > 0.99
    assert cluster(rows, k=300, algorithm="ward").k == 200  # no more clusters than tree leaves
