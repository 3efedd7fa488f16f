"""Speed of feature extraction, index rebuilds and query answers on this machine.

    python benchmarks/speed.py [--photos DIR] [--cnn-weights PATH] [--quick] [--json]

(a) style extraction, photos/s on one core (numpy/BLAS/OpenMP pinned to 1 thread), decode
    included: `open_normalized(file, max_side=...)` + `StyleExtractor.extract`, over the photos
    in DIR (default /work/shared/photos/elementary) repeated to at least 200;
(b) CNN extraction, photos/s in batches of 16, decode included (TensorFlow's own threads), if the
    CNN is available (STYLEFINDER_CNN_WEIGHTS or --cnn-weights);
(c) index rebuild (`StyleSpace.fit` with the site's defaults + `all_neighbours(20)`) for 1k, 10k
    and 100k photos, on synthetic vectors shaped like the real ones (78-d style; a CNN block of the
    real dim, reduced by PCA to 32), resampled from the real photos' features plus noise;
(d) latency of a visitor's upload against 10k and 100k photos, p50/p95 over at least 50 queries:
    end-to-end (validate + decode as `photos.uploads.open_query_image` does, the downscale of
    `selectors.similar_to_image`, style + CNN extraction, `embed`, `search` k=10) and the search
    alone (`embed` + `search` on precomputed raw features);
(e) re-cluster with auto-k (k 2-60): `recommender.clustering.cluster` on the spaces built in (c)
    (1k, 10k, 100k photos), sweep, silhouette, stability and the final fit included.

Targets printed next to the figures: style >= 50 photos/s per core; < 150 ms end-to-end at 10k;
< 20 ms search at 100k; < 60 s re-cluster at 10k. ``--quick`` shrinks every size for a smoke run.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from PIL import Image
from threadpoolctl import threadpool_info, threadpool_limits

from recommender.blocks import embed

DEFAULT_PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "photos" / "elementary"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff"}
NEIGHBOURS = 20
CNN_BATCH = 16
# EfficientNet-Lite0 file: 1280-d embedding, mean/std of stem_relu (32) and block2_add (24),
# then the correlations of their channel pairs.
FALLBACK_STATS_END = 1280 + 2 * (32 + 24)
FALLBACK_CNN_DIM = FALLBACK_STATS_END + 32 * 31 // 2 + 24 * 23 // 2
# Where the embedding and the style statistics sit in the CNN vector (replaced by the real
# extractor's layout when it is available).
CNN_PARTS = {
    "embedding": [0, 1280],
    "style_stats": [1280, FALLBACK_STATS_END],
    "style_correlations": [FALLBACK_STATS_END, FALLBACK_CNN_DIM],
}
# Upload limits do not change the timing; the site's defaults (config/settings.py).
MAX_UPLOAD_BYTES = 50_000_000
MAX_PIXELS = 100_000_000

TARGET_STYLE_PER_CORE = 50.0  # photos/s
TARGET_END_TO_END_10K_MS = 150.0
TARGET_SEARCH_100K_MS = 20.0
TARGET_RECLUSTER_10K_S = 60.0
RECLUSTER_K = (2, 60)  # auto-k range of (e); --quick: 2-20


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def photo_list(directory: Path, at_least: int) -> list[Path]:
    photos = sorted(
        p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )
    if not photos:
        raise SystemExit(f"No photos in {directory}")
    repeats = -(-at_least // len(photos))
    return (photos * repeats)[: max(at_least, len(photos))]


def percentiles(samples: list[float]) -> dict[str, float]:
    values = np.asarray(samples) * 1000.0
    return {
        "p50_ms": float(np.percentile(values, 50)),
        "p95_ms": float(np.percentile(values, 95)),
        "mean_ms": float(values.mean()),
        "n": len(samples),
    }


# --- (a) and (b): extraction ---------------------------------------------------------------------


def measure_style(paths: list[Path], side: int) -> tuple[float, np.ndarray]:
    """Photos/s of decode + style extraction on one thread; also returns the vectors."""
    from photos.imaging import open_normalized
    from recommender.features import get_extractor

    style = get_extractor("style")
    with threadpool_limits(limits=1):
        for path in paths[:3]:  # warm-up (imports, caches)
            with path.open("rb") as fh:
                style.extract(open_normalized(fh, max_side=side))
        vectors = []
        began = time.perf_counter()
        for path in paths:
            with path.open("rb") as fh:
                vectors.append(style.extract(open_normalized(fh, max_side=side)))
        elapsed = time.perf_counter() - began
    return len(paths) / elapsed, np.stack(vectors)


def load_cnn(cnn_weights: str | None):
    """The CNN extractor, or None and the reason."""
    if cnn_weights:
        os.environ["STYLEFINDER_CNN_WEIGHTS"] = cnn_weights
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from recommender.features import CnnConfig, ExtractorUnavailable, get_extractor

    cnn = get_extractor("cnn", CnnConfig.from_mapping(os.environ))
    try:
        cnn.check_available()
    except ExtractorUnavailable as exc:
        return None, str(exc)
    except Exception as exc:
        return None, f"the CNN extractor failed to load: {type(exc).__name__}: {exc}"
    from recommender.blocks import cnn_layout

    CNN_PARTS.update(cnn_layout(cnn))
    return cnn, None


def measure_cnn(cnn, paths: list[Path], side: int) -> tuple[float, np.ndarray]:
    """Photos/s of decode + CNN extraction in batches of CNN_BATCH (TensorFlow's threads)."""
    from photos.imaging import open_normalized

    def batch(chunk: list[Path]) -> np.ndarray:
        images = []
        for path in chunk:
            with path.open("rb") as fh:
                images.append(open_normalized(fh, max_side=side))
        return cnn.extract_batch(images)

    batch(paths[:CNN_BATCH])  # warm-up: graph tracing
    vectors = []
    began = time.perf_counter()
    for start in range(0, len(paths), CNN_BATCH):
        vectors.append(batch(paths[start : start + CNN_BATCH]))
    elapsed = time.perf_counter() - began
    return len(paths) / elapsed, np.concatenate(vectors)


# --- (c): rebuilds on synthetic vectors ----------------------------------------------------------


def synthetic(real: np.ndarray | None, dim: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """n float32 rows shaped like `real`: resampled real rows plus noise of half their spread.

    Without real rows: a low-rank Gaussian (16 latent factors) plus noise.
    """
    out = np.empty((n, dim), np.float32)
    if real is None:
        mixing = rng.standard_normal((16, dim)).astype(np.float32)
    else:
        real = real.astype(np.float32)
        spread = real.std(axis=0) * 0.5 + 1e-6
    for start in range(0, n, 20_000):
        stop = min(start + 20_000, n)
        noise = rng.standard_normal((stop - start, dim), dtype=np.float32)
        if real is None:
            latent = rng.standard_normal((stop - start, 16), dtype=np.float32)
            out[start:stop] = latent @ mixing + noise
        else:
            out[start:stop] = real[rng.integers(len(real), size=stop - start)] + noise * spread
    return out


def measure_rebuild(n: int, real: dict[str, np.ndarray | None], dims: dict[str, int], seed: int):
    """Seconds for the site's `fit_space` (default settings) and all_neighbours(20) on n
    synthetic photos; the space."""
    from recommender.blocks import SpaceSettings, fit_space

    rng = np.random.default_rng(seed)
    features = {name: synthetic(real.get(name), dims[name], n, rng) for name in dims}
    ids = np.arange(n)
    began = time.perf_counter()
    space = fit_space(ids, features, SpaceSettings(), CNN_PARTS, seed=seed)
    fitted = time.perf_counter()
    space.all_neighbours(NEIGHBOURS)
    done = time.perf_counter()
    del features
    return {"fit_s": fitted - began, "neighbours_s": done - fitted, "total_s": done - began}, space


# --- (d): query latency --------------------------------------------------------------------------


def end_to_end_query(space, extractors: list, data: bytes) -> dict[str, float]:
    """One upload through the site's query path; returns seconds per step."""
    from photos.imaging import open_query_image
    from photos.uploads import QUERY_SIDE

    steps: dict[str, float] = {}
    t0 = time.perf_counter()
    file = io.BytesIO(data)
    image = open_query_image(
        file, max_bytes=MAX_UPLOAD_BYTES, max_pixels=MAX_PIXELS, max_side=QUERY_SIDE
    )
    side = max(e.input_side for e in extractors)  # as in selectors.similar_to_image
    work = image.copy()
    if max(work.size) > side:
        work.thumbnail((side, side), Image.Resampling.LANCZOS)
    t1 = time.perf_counter()
    steps["validate+decode"] = t1 - t0
    features = {}
    for extractor in extractors:
        began = time.perf_counter()
        features[extractor.name] = extractor.extract(work)
        steps[extractor.name] = time.perf_counter() - began
    t2 = time.perf_counter()
    query = embed(space, features, CNN_PARTS)
    space.search(query, 10, exclude=[set()])
    t3 = time.perf_counter()
    steps["embed+search"] = t3 - t2
    steps["total"] = t3 - t0
    return steps


def search_only(space, features: dict[str, np.ndarray]) -> float:
    began = time.perf_counter()
    query = embed(space, features, CNN_PARTS)
    space.search(query, 10, exclude=[set()])
    return time.perf_counter() - began


def timed(repeats: int, warmup: int, run: Callable[[int], float]) -> list[float]:
    for i in range(warmup):
        run(i)
    return [run(i) for i in range(repeats)]


# --- (e): re-cluster ----------------------------------------------------------------------------


def measure_recluster(matrix: np.ndarray, k_range: tuple[int, int], seed: int) -> dict:
    """Seconds for `cluster` with auto-k over `k_range` on a space's matrix; what it chose."""
    from recommender.clustering import cluster

    began = time.perf_counter()
    result = cluster(matrix, k=None, k_min=k_range[0], k_max=k_range[1], seed=seed)
    elapsed = time.perf_counter() - began
    return {
        "total_s": elapsed,
        "algorithm": result.algorithm,
        "k_min": k_range[0],
        "k_max": k_range[1],
        "k": result.k,
        "silhouette": result.silhouette,
        "wcss": result.wcss,
        "stability": result.stability,
        "sweep_points": len(result.sweep),
    }


# --- output --------------------------------------------------------------------------------------


def format_table(headers: list[str], rows: list[list[object]], title: str = "") -> str:
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]

    def line(row: list[str]) -> str:
        first = row[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest]).rstrip()

    out = [title] if title else []
    out += [line(headers), "-" * len(line(headers)), *(line(r) for r in cells)]
    return "\n".join(out)


def verdict(value: float, target: float, higher_is_better: bool) -> str:
    ok = value >= target if higher_is_better else value < target
    return "OK" if ok else "MISSED"


def human(n: int) -> str:
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS, help="1024-px JPEGs")
    parser.add_argument("--cnn-weights", help="CNN model file (sets STYLEFINDER_CNN_WEIGHTS)")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    if args.quick:
        n_photos, rebuild_sizes, query_sizes, n_queries = 40, [1000, 5000], [1000, 5000], 20
        recluster_k = (RECLUSTER_K[0], 20)
    else:
        n_photos, rebuild_sizes = 200, [1000, 10_000, 100_000]
        query_sizes, n_queries = [10_000, 100_000], 60
        recluster_k = RECLUSTER_K
    paths = photo_list(args.photos, n_photos)
    report: dict = {
        "machine": {
            "cpus": os.cpu_count(),
            "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        },
        "photos": {"dir": str(args.photos), "n": len(paths), "distinct": len(set(paths))},
        "quick": args.quick,
    }

    from recommender.features import get_extractor

    style = get_extractor("style")
    cnn, cnn_reason = load_cnn(args.cnn_weights)
    extractors = [style] + ([cnn] if cnn else [])
    site_side = max(e.input_side for e in extractors)

    # (a) style, one core.
    log(f"(a) style extraction on one core over {len(paths)} photos ...")
    rate, style_vectors = measure_style(paths, style.input_side)
    report["style_per_core"] = {"photos_per_s": rate, "decode_max_side": style.input_side}
    if site_side != style.input_side:
        rate_site, style_vectors = measure_style(paths, site_side)
        report["style_per_core_site_decode"] = {
            "photos_per_s": rate_site,
            "decode_max_side": site_side,
        }

    # (b) CNN, batched.
    cnn_vectors = None
    if cnn is not None:
        log(f"(b) CNN extraction in batches of {CNN_BATCH} over {len(paths)} photos ...")
        rate, cnn_vectors = measure_cnn(cnn, paths, cnn.input_side)
        report["cnn_batched"] = {
            "photos_per_s": rate,
            "batch": CNN_BATCH,
            "decode_max_side": cnn.input_side,
            "model": cnn.description,
        }
    else:
        report["cnn_batched"] = {"unavailable": cnn_reason}

    # (c) rebuilds.
    blas = [f"{i.get('internal_api')} {i.get('num_threads')} threads" for i in threadpool_info()]
    report["blas"] = blas
    distinct = len(set(paths))
    real = {"style": style_vectors[:distinct]}
    dims = {"style": style.dim, "cnn": int(cnn.dim) if cnn else FALLBACK_CNN_DIM}
    real["cnn"] = cnn_vectors[:distinct] if cnn_vectors is not None else None
    rebuilds, spaces, matrices = [], {}, {}
    for n in rebuild_sizes:
        log(f"(c) rebuild with {n} synthetic photos ...")
        timing, space = measure_rebuild(n, real, dims, args.seed)
        rebuilds.append({"n": n, **timing, "dim": space.dim})
        matrices[n] = space.matrix  # for (e)
        if n in query_sizes:
            spaces[n] = space
        del space
    for n in query_sizes:
        if n not in spaces:
            _, spaces[n] = measure_rebuild(n, real, dims, args.seed)
    report["rebuild"] = rebuilds

    # (d) query latency.
    blobs = [p.read_bytes() for p in paths[:distinct]]
    raw = [
        {
            "style": style_vectors[i],
            **({"cnn": cnn_vectors[i]} if cnn_vectors is not None else {}),
        }
        for i in range(distinct)
    ]
    latency = []
    for n in query_sizes:
        space = spaces[n]
        log(f"(d) {n_queries} uploads and searches against {n} photos ...")
        steps_list: list[dict[str, float]] = []

        def upload(i: int, space=space, steps_list=steps_list) -> float:
            steps = end_to_end_query(space, extractors, blobs[i % len(blobs)])
            steps_list.append(steps)
            return steps["total"]

        e2e = timed(n_queries, 3, upload)
        steps_list = steps_list[3:]
        search = timed(n_queries, 3, lambda i, space=space: search_only(space, raw[i % len(raw)]))
        breakdown = {
            step: float(np.median([s[step] for s in steps_list]) * 1000.0)
            for step in steps_list[0]
            if step != "total"
        }
        latency.append(
            {
                "n": n,
                "end_to_end": percentiles(e2e),
                "end_to_end_median_steps_ms": breakdown,
                "search": percentiles(search),
            }
        )
    report["latency"] = latency

    # (e) re-cluster.
    reclusters = []
    for n, matrix in matrices.items():
        log(f"(e) re-cluster {n} photos, auto-k {recluster_k[0]}-{recluster_k[1]} ...")
        reclusters.append({"n": n, **measure_recluster(matrix, recluster_k, args.seed)})
    del matrices
    report["recluster"] = reclusters

    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report, cnn_reason)


def print_report(report: dict, cnn_reason: str | None) -> None:
    machine = report["machine"]
    print(
        f"Machine: {machine['cpus']} CPUs ({machine['affinity']} usable); "
        f"BLAS: {', '.join(report['blas']) or 'unknown'}; "
        f"photos: {report['photos']['n']} decodes of {report['photos']['distinct']} files in "
        f"{report['photos']['dir']}" + (" (QUICK run: small sizes)" if report["quick"] else "")
    )
    if cnn_reason:
        print(f"NOTE: CNN unavailable, its rows are skipped: {cnn_reason}")
    print()
    rows = []
    a = report["style_per_core"]
    rows.append(
        [
            f"(a) style, 1 core, decode max_side={a['decode_max_side']}",
            f"{a['photos_per_s']:.1f} photos/s",
            f">= {TARGET_STYLE_PER_CORE:g} photos/s",
            verdict(a["photos_per_s"], TARGET_STYLE_PER_CORE, True),
        ]
    )
    if "style_per_core_site_decode" in report:
        s = report["style_per_core_site_decode"]
        rows.append(
            [
                f"(a) style, 1 core, decode max_side={s['decode_max_side']} (site, CNN on)",
                f"{s['photos_per_s']:.1f} photos/s",
                f">= {TARGET_STYLE_PER_CORE:g} photos/s",
                verdict(s["photos_per_s"], TARGET_STYLE_PER_CORE, True),
            ]
        )
    b = report["cnn_batched"]
    if "photos_per_s" in b:
        rows.append(
            [
                f"(b) cnn, batch {b['batch']}, decode max_side={b['decode_max_side']}, all cores",
                f"{b['photos_per_s']:.1f} photos/s",
                "-",
                "",
            ]
        )
    else:
        rows.append(["(b) cnn", "unavailable", "-", ""])
    for r in report["rebuild"]:
        rows.append(
            [
                f"(c) rebuild {human(r['n'])} photos: fit + all_neighbours({NEIGHBOURS})",
                f"{r['total_s']:.2f} s",
                "-",
                f"fit {r['fit_s']:.2f} s + neighbours {r['neighbours_s']:.2f} s, dim {r['dim']}",
            ]
        )
    for q in report["latency"]:
        e2e, search = q["end_to_end"], q["search"]
        n = q["n"]
        target_e2e = f"< {TARGET_END_TO_END_10K_MS:g} ms" if n == 10_000 else "-"
        steps = ", ".join(f"{k} {v:.1f}" for k, v in q["end_to_end_median_steps_ms"].items())
        ok = verdict(e2e["p95_ms"], TARGET_END_TO_END_10K_MS, False) if n == 10_000 else ""
        rows.append(
            [
                f"(d) upload end-to-end vs {human(n)} (p50 / p95, {e2e['n']} queries)",
                f"{e2e['p50_ms']:.1f} / {e2e['p95_ms']:.1f} ms",
                target_e2e,
                f"{ok + '; ' if ok else ''}median ms: {steps}",
            ]
        )
        target_search = f"< {TARGET_SEARCH_100K_MS:g} ms" if n == 100_000 else "-"
        rows.append(
            [
                f"(d) search alone vs {human(n)} (embed+search, p50 / p95, {search['n']} queries)",
                f"{search['p50_ms']:.2f} / {search['p95_ms']:.2f} ms",
                target_search,
                verdict(search["p95_ms"], TARGET_SEARCH_100K_MS, False) if n == 100_000 else "",
            ]
        )
    for r in report.get("recluster", []):
        n = r["n"]
        target = f"< {TARGET_RECLUSTER_10K_S:g} s" if n == 10_000 else "-"
        ok = verdict(r["total_s"], TARGET_RECLUSTER_10K_S, False) if n == 10_000 else ""
        silhouette = "n/a" if r["silhouette"] is None else f"{r['silhouette']:.3f}"
        stability = "n/a" if r["stability"] is None else f"{r['stability']:.2f}"
        rows.append(
            [
                f"(e) re-cluster {human(n)} photos: {r['algorithm']}, auto-k "
                f"{r['k_min']}-{r['k_max']}",
                f"{r['total_s']:.2f} s",
                target,
                f"{ok + '; ' if ok else ''}k {r['k']}, silhouette {silhouette}, "
                f"stability {stability}",
            ]
        )
    print(format_table(["measure", "result", "target", "verdict / detail"], rows, "Speed"))
    print(
        "\nVerdicts use p95 for latencies. (a) pins numpy/BLAS/OpenMP to one thread; (b), (c) and "
        "(d) use the default threads of this machine (shared with other processes). (c)/(d) use "
        "synthetic vectors resampled from the real photos' features; DB writes of the rebuild "
        "and DB lookups of the answer are not included."
    )
    if report.get("recluster"):
        print(
            "(e) clusters the spaces of (c): sweep (silhouette on a 2000-row sample), final fit "
            "and bootstrap stability; k-means runs on one OpenMP thread, BLAS on the default "
            "threads; DB writes of memberships are not included."
        )


if __name__ == "__main__":
    main()
