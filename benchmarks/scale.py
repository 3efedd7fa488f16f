"""The neighbour build of large galleries: exact against approximate (HNSW graph), and the
approximate build's recall.

    .venv/bin/python benchmarks/scale.py [--sizes 10000,100000] [--exact-up-to 100000]
        [--photos ../shared/photos/elementary] [--cnn-weights PATH] [--queries 2000]

For each size, n photos whose style and CNN vectors are the real photos' vectors (extracted here
from --photos, as `recluster_cost.py` does) resampled with noise get the site's space
(`fit_space`, default settings, with the copy detector). Then `StyleSpace.all_neighbours(20)`
runs exactly (every photo against every other; up to --exact-up-to photos) and approximately
(`recommender/graph_search.py`: candidates from faiss's HNSW graph, ranked as the exact build
ranks them, copies last). Recall@10: the share of each sampled photo's exact ten neighbours
(the site's own ranking, `StyleSpace.search` with the photo's copies last) that the approximate
build lists among its ten, over --queries photos; issue #15's target is ≥ 0.95.

This covers issue #15's item 2 for the neighbour build only: the incremental add, the shared
memory-mapped index and the web worker's RSS are not built yet, and the database writes of a
re-cluster are measured by `recluster_cost.py`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from benchmarks.recluster_cost import DEFAULT_WEIGHTS, real_vectors
from benchmarks.speed import DEFAULT_PHOTOS, synthetic

NEIGHBOURS = 20
RECALL_AT = 10
TARGET_RECALL = 0.95


def fitted_space(n: int, real: dict[str, np.ndarray], parts: dict, seed: int):
    """The site's space over n photos shaped like the real ones; (space, seconds to fit)."""
    from recommender.blocks import SpaceSettings, fit_space

    rng = np.random.default_rng(seed)
    features = {name: synthetic(rows, rows.shape[1], n, rng) for name, rows in real.items()}
    began = time.perf_counter()
    space = fit_space(np.arange(n), features, SpaceSettings(), parts, seed=seed)
    return space, time.perf_counter() - began


def exact_lists(space, rows: np.ndarray, k: int) -> np.ndarray:
    """The site's exact top-k of each of `rows` (copies last), as row indices."""
    queries = space.matrix[rows]
    copies = None if space.copies is None else space.copies.rows[rows]
    exclude = [{int(space.photo_ids[r])} for r in rows]
    hits = space.search(queries, k, exclude=exclude, query_copies=copies)
    position = {int(pid): i for i, pid in enumerate(space.photo_ids)}
    return np.array([[position[pid] for pid, _ in row] for row in hits])


def measure(n: int, real: dict, parts: dict, exact_up_to: int, queries: int, seed: int):
    space, fit_s = fitted_space(n, real, parts, seed)
    row = {"n": n, "dim": space.dim, "fit_s": fit_s, "exact_s": None}
    if n <= exact_up_to:
        began = time.perf_counter()
        space.all_neighbours(NEIGHBOURS, approximate=False)
        row["exact_s"] = time.perf_counter() - began
    began = time.perf_counter()
    found, _ = space.all_neighbours(NEIGHBOURS, approximate=True)
    row["approximate_s"] = time.perf_counter() - began
    sample = np.random.default_rng(seed + 1).choice(n, min(queries, n), replace=False)
    truth = exact_lists(space, sample, RECALL_AT)
    hits = [len(set(t) & set(f[:RECALL_AT])) for t, f in zip(truth, found[sample], strict=True)]
    row["recall"] = float(np.mean(hits)) / RECALL_AT
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--exact-up-to", type=int, default=100_000)
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS)
    parser.add_argument("--cnn-weights", type=Path, default=DEFAULT_WEIGHTS)
    parser.add_argument("--queries", type=int, default=2000, help="photos the recall is taken on")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    weights = args.cnn_weights if args.cnn_weights.exists() else None
    if weights is not None:
        os.environ["STYLEFINDER_CNN_WEIGHTS"] = str(weights)
    import django

    django.setup()
    real = real_vectors(args.photos, weights)
    parts = {}
    if weights is not None:
        from recommender.blocks import cnn_layout
        from recommender.features import get_extractor
        from recommender.features.cnn import CnnConfig

        parts = cnn_layout(get_extractor("cnn", CnnConfig(weights=str(weights))))
    print(
        f"{len(real['style'])} real photos' {' + '.join(real)} vectors resampled with noise; "
        f"all_neighbours({NEIGHBOURS}); recall@{RECALL_AT} on {args.queries} photos"
    )
    header = (
        f"{'photos':>9} {'dims':>5} {'fit s':>7} {'exact s':>8} {'approx s':>9} "
        f"{'recall@10':>10}  target"
    )
    print(header)
    print("-" * len(header))
    for n in (int(size) for size in args.sizes.split(",")):
        row = measure(n, real, parts, args.exact_up_to, args.queries, args.seed)
        exact = "-" if row["exact_s"] is None else f"{row['exact_s']:.1f}"
        verdict = "OK" if row["recall"] >= TARGET_RECALL else "below target"
        print(
            f"{n:>9,} {row['dim']:>5} {row['fit_s']:>7.1f} {exact:>8} "
            f"{row['approximate_s']:>9.1f} {row['recall']:>10.3f}  >= {TARGET_RECALL}: {verdict}",
            flush=True,
        )


if __name__ == "__main__":
    main()
