"""Approximate nearest neighbours for the neighbour build of large galleries (faiss HNSW; numpy
and faiss, no Django).

The exact build compares every photo with every other: O(n²), about two minutes at 100k photos
and hours at a million. From `APPROXIMATE_FROM` photos on, `StyleSpace.all_neighbours` takes
each photo's candidates from a hierarchical navigable small-world graph (faiss `IndexHNSWFlat`,
inner product on the unit rows, so the scores are the same cosines) and ranks them exactly as
before. `benchmarks/scale.py` measures its recall@10 against the exact search. Queries (an
upload, a photo newer than the run) stay exact: one product with the matrix is fast enough at
these sizes.

The graph is built with several threads, so two builds on the same rows can differ in the last
ties; a rebuild is not bit-for-bit repeatable above `APPROXIMATE_FROM` photos.
"""

from __future__ import annotations

import numpy as np

#: From this many photos on the neighbour build is approximate (exact below: 31 s at 10k photos
#: against about 2 minutes at 100k, `benchmarks/recluster_cost.py`).
APPROXIMATE_FROM = 50_000
#: links per node of the graph (faiss's M): 16 kept recall@10 ≥ 0.99 on the project's vectors
GRAPH_LINKS = 16
#: candidates explored while building (efConstruction) and while searching (efSearch, at least
#: the number of candidates asked for)
BUILD_EFFORT = 64
SEARCH_EFFORT = 64


def graph_candidates(matrix: np.ndarray, take: int) -> np.ndarray:
    """(n, take) indices of each row's most similar other rows (inner product), approximately,
    best first. Rows for which the graph returned fewer than `take` others are searched
    exactly."""
    import faiss  # imported here: only a large gallery's neighbour build needs it

    rows = np.ascontiguousarray(matrix, dtype=np.float32)
    n, dim = rows.shape
    index = faiss.IndexHNSWFlat(dim, GRAPH_LINKS, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = BUILD_EFFORT
    index.add(rows)
    index.hnsw.efSearch = max(SEARCH_EFFORT, take + 1)
    _, found = index.search(rows, take + 1)
    # Drop each row itself; where the graph did not return it, drop the weakest instead.
    drop = found == np.arange(n)[:, None]
    drop[~drop.any(axis=1), -1] = True
    drop &= np.cumsum(drop, axis=1) == 1  # one per row, whatever duplicates returned
    candidates = found[~drop].reshape(n, take)
    short = np.flatnonzero((candidates < 0).any(axis=1))
    if len(short):
        scores = rows[short] @ rows.T
        scores[np.arange(len(short)), short] = -np.inf
        best = np.argpartition(-scores, take - 1, axis=1)[:, :take]
        order = np.argsort(-np.take_along_axis(scores, best, axis=1), axis=1, kind="stable")
        candidates[short] = np.take_along_axis(best, order, axis=1)
    return candidates
