"""The inverted-file index of a large gallery's run (numpy and faiss, no Django): it gives the
re-cluster's neighbour build its candidates, and it is written beside the index file for the
queries of web processes, which memory-map it.

Below `APPROXIMATE_FROM` photos the neighbour build compares every photo with every other
(O(n²): 31 s at 10k photos, about two minutes at 100k); below `QUERY_INDEX_FROM` a query (an
upload, a photo outside the run, a mode) compares the query with every photo: at 100k photos one
product of 25 MB, about a millisecond. At a million that product reads 256 MB per query, tens of
milliseconds, and the all-pairs build would take hours. Above, the rows are grouped around
`lists(n)` centres (k-means, inner product), and a search reads only the `PROBES` groups whose
centres are nearest, a few thousandths of the gallery. The groups hold the rows themselves in
half precision (128 bytes a photo instead of 256; the candidates' cosines are off by less than
1e-3); candidates are ranked as before (copies last, their cosines computed again in full
precision by the build), and photos added to the run since are searched exactly beside them.
`benchmarks/scale.py` measures recall@10 against the exact search, of the build and of the
queries.

One index serves both: at a million photos its search of every photo took 162 s at recall@10
0.972, against 185 s at 0.963 for the faiss HNSW graph the build used before (16 links a node,
64 candidates explored), which then built this index again for the queries.

The groups' rows live in the file: faiss maps them (`IO_FLAG_MMAP`), so the operating system
keeps one copy for all of a machine's web processes, as it does for the index file. A web
worker's queries read every group sooner or later (a thousand queries probe 48 groups each of
4,000): half precision is what keeps them under 300 MB of its resident memory at a million.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import mapped_npz

#: from this many photos on the neighbour build takes its candidates from the index
APPROXIMATE_FROM = 50_000
#: from this many photos on the index is written for queries, which use it (the index the
#: build searched: at least `APPROXIMATE_FROM`)
QUERY_INDEX_FROM = 200_000
#: groups searched per query
PROBES = 48
#: rows the groups' centres are trained on at most (faiss wants about 40 a centre)
TRAIN_ROWS = 200_000
ADD_CHUNK = 100_000


def lists(n: int) -> int:
    """How many groups for n rows: 4 √n (4,000 at a million), and at least 39 rows a group to
    train each centre on (what faiss asks)."""
    return max(1, min(int(4 * np.sqrt(n)), n // 39))


def build(matrix: np.ndarray, seed: int = 0):
    """An inverted-file index (inner product, rows in half precision) over the unit rows of
    `matrix`."""
    import faiss  # imported here: only large galleries need it

    n, dim = matrix.shape
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFScalarQuantizer(
        quantizer, dim, lists(n), faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
    )
    rng = np.random.default_rng(seed)
    train = np.sort(rng.choice(n, min(n, TRAIN_ROWS), replace=False))
    index.cp.seed = seed
    index.train(np.ascontiguousarray(matrix[train], dtype=np.float32))
    for start in range(0, n, ADD_CHUNK):
        index.add(np.ascontiguousarray(matrix[start : start + ADD_CHUNK], dtype=np.float32))
    index.nprobe = PROBES
    return index


def write(index, path: str | Path) -> None:
    import faiss

    faiss.write_index(index, str(path))


def read(path: str | Path):
    """The index at `path`, its groups' rows memory-mapped, read-only (its cached pages dropped
    first: see `mapped_npz`)."""
    import faiss

    mapped_npz.drop_cached_pages(path)
    index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
    index.nprobe = PROBES
    return index


def candidates(index, queries: np.ndarray, take: int) -> tuple[np.ndarray, np.ndarray]:
    """(cosines, rows), each (m, take): the rows of the index's matrix most similar to each
    query, approximately, with their cosines (from the rows in half precision); row -1 where
    the groups searched held fewer."""
    scores, found = index.search(np.ascontiguousarray(queries, dtype=np.float32), take)
    return scores, found


def others(index, matrix: np.ndarray, take: int) -> np.ndarray:
    """(n, take) indices of each row of `matrix` (the rows `index` holds, in order)'s most
    similar other rows, approximately, best first. Rows for which the groups searched held
    fewer than `take` others are searched exactly."""
    rows = np.ascontiguousarray(matrix, dtype=np.float32)
    n = len(rows)
    _, found = index.search(rows, take + 1)
    # Drop each row itself; where the search did not return it, drop the weakest instead.
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
