"""What one re-cluster costs as the gallery grows: `manage.py recluster` on 100 to 100k photos.

    .venv/bin/python benchmarks/recluster_cost.py [--sizes 100,1000,10000,100000]
        [--photos ../shared/photos/elementary] [--cnn-weights PATH]
        [--postgres postgres://postgres@127.0.0.1:5432]

For each size, a fresh SQLite database (the embedded default; with ``--postgres``, a fresh
PostgreSQL database `stylefinder_bench_recluster` on that server, as in production) gets that
many ready, public photos whose style and CNN vectors are the real photos' vectors (extracted
here from --photos) resampled with noise, so the space, the neighbours and the clusters see
data shaped like a real gallery. Then `python manage.py recluster` runs in its own process with
the site's default settings (automatic k over the range that grows with the gallery), and the
benchmark prints its wall time (Django's start included) and the run's own duration, which
covers everything a re-cluster does: loading the vectors, fitting the space, the neighbour
rows, the k sweep and the final fit, stability, album names, and the database writes. Issue
#14's target: auto-k for the 65 shared photos well under a second of clustering
(`benchmarks/bulk_import.py` measures the import's closing re-cluster; here 100 photos stand
in).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from benchmarks.speed import DEFAULT_PHOTOS, photo_list, synthetic

REPO = Path(__file__).resolve().parent.parent
DEFAULT_WEIGHTS = REPO.parent / "shared" / "models" / "efficientnet_lite0_imagenet.keras"
TARGET_SMALL_S = 1.0
# What `manage.py recluster` prints, read back.
PRINTED = {
    "k": r"^k\s+(\d+)",
    "duration": r"^duration\s+([\d.]+) s",
    "silhouette": r"^silhouette\s+(\S+)",
    "phases": r"^phases \(s\)\s+(.+)$",
}  # issue #14: a small gallery's re-cluster well under a second

POPULATE = """
import sys, numpy as np, django
django.setup()
from benchmarks.synthetic_gallery import populate

with np.load(sys.argv[1]) as stored:  # an NpzFile reads an array again on every access
    populate({name: stored[name] for name in stored.files})
"""


def real_vectors(photos: Path, weights: Path | None) -> dict[str, np.ndarray]:
    """Style (and CNN, when the weights are there) vectors of the real photos."""
    from photos.imaging import open_normalized
    from recommender.features import get_extractor
    from recommender.features.cnn import CnnConfig

    paths = photo_list(photos, 1)
    paths = list(dict.fromkeys(paths))
    style = get_extractor("style")
    images = []
    for path in paths:
        with path.open("rb") as handle:
            images.append(open_normalized(handle, max_side=style.input_side))
    vectors = {"style": np.stack([style.extract(image) for image in images])}
    if weights is not None:
        cnn = get_extractor("cnn", CnnConfig(weights=str(weights)))
        vectors["cnn"] = cnn.extract_batch(images)
    return vectors


POSTGRES_DB = "stylefinder_bench_recluster"


def fresh_postgres(server: str) -> str:
    """Drop and create `POSTGRES_DB` on `server`; its URL."""
    import psycopg

    with psycopg.connect(f"{server.rstrip('/')}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {POSTGRES_DB}")
        conn.execute(f"CREATE DATABASE {POSTGRES_DB}")
    return f"{server.rstrip('/')}/{POSTGRES_DB}"


def measure(
    n: int, real: dict[str, np.ndarray], weights: Path | None, seed: int, postgres: str | None
) -> dict:
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory(prefix="stylefinder-recluster-") as tmp:
        database = fresh_postgres(postgres) if postgres else f"sqlite:///{tmp}/db.sqlite3"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": database,
            "MEDIA_ROOT": f"{tmp}/media",
            "STYLEFINDER_PRIVATE_ROOT": f"{tmp}/private",
            "STYLEFINDER_EXTRACTORS": ",".join(real),
            "DJANGO_LOG_LEVEL": "WARNING",
        }
        if weights is not None:
            env["STYLEFINDER_CNN_WEIGHTS"] = str(weights)
        source = Path(tmp, "vectors.npz")
        np.savez(
            source,
            **{name: synthetic(rows, rows.shape[1], n, rng) for name, rows in real.items()},
        )
        manage = [sys.executable, str(REPO / "manage.py")]
        subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, cwd=REPO)
        subprocess.run([sys.executable, "-c", POPULATE, str(source)], env=env, check=True, cwd=REPO)
        began = time.perf_counter()
        done = subprocess.run(
            [*manage, "recluster"], env=env, capture_output=True, text=True, check=True, cwd=REPO
        )
        wall = time.perf_counter() - began
    found = {key: re.search(pattern, done.stdout, re.M) for key, pattern in PRINTED.items()}
    return {
        "n": n,
        "wall_s": wall,
        "run_s": float(found["duration"].group(1)) if found["duration"] else float("nan"),
        "k": found["k"].group(1) if found["k"] else "?",
        "silhouette": found["silhouette"].group(1) if found["silhouette"] else "?",
        "phases": found["phases"].group(1) if found["phases"] else "",
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000,10000,100000")
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS)
    parser.add_argument("--cnn-weights", type=Path, default=DEFAULT_WEIGHTS)
    parser.add_argument("--style-only", action="store_true", help="without the CNN")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--postgres", metavar="SERVER_URL", help="PostgreSQL server instead of SQLite"
    )
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",")]
    weights = None if args.style_only or not args.cnn_weights.exists() else args.cnn_weights

    from recommender.clustering import default_k_max

    real = real_vectors(args.photos, weights)
    features = " + ".join(real)
    database = "PostgreSQL" if args.postgres else "SQLite"
    print(
        f"manage.py recluster on a fresh {database} database, {features} vectors resampled from "
        f"{len(real['style'])} real photos; default settings (automatic k, 20 neighbours)"
    )
    print(
        f"{'photos':>8}  {'k range':>8}  {'k':>3}  {'silhouette':>10}  {'run s':>8}  {'wall s':>8}"
    )
    for n in sizes:
        row = measure(n, real, weights, args.seed, args.postgres)
        print(
            f"{n:>8}  {'2-' + str(default_k_max(n)):>8}  {row['k']:>3}  {row['silhouette']:>10}  "
            f"{row['run_s']:>8.2f}  {row['wall_s']:>8.2f}",
            flush=True,
        )
        print(f"          phases (s): {row['phases']}", flush=True)
        if n <= 100:
            verdict = "OK" if row["run_s"] < TARGET_SMALL_S else "above target"
            print(f"          target for a small gallery: < {TARGET_SMALL_S:g} s: {verdict}")
    print(
        "run s: the run's own duration (ClusterRun.duration_seconds): vectors loaded, space, "
        "neighbour rows, k sweep, final fit, stability, albums, all database writes. wall s: "
        "the command's process, Django's start included."
    )


if __name__ == "__main__":
    main()
