"""Bulk import end to end on the embedded default: files in, every photo `ready`, one re-cluster.

    .venv/bin/python benchmarks/bulk_import.py [--photos ../shared/photos/elementary] [--runs 2]
        [--cnn-weights ../shared/models/efficientnet_lite0_imagenet.keras] [--style-only]

Each run is `python manage.py import_photos DIR` in a fresh process with a fresh SQLite database
and media folder (what a photographer's first import does): Django's start, the CNN's load,
storing the originals, the renditions, style and CNN features of every photo, and the re-cluster
the command ends with. Printed per run: wall time, photos/s end to end, and the photos' states
afterwards; then the best run against the target of issue #14 (8 photos/s).
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

REPO = Path(__file__).resolve().parent.parent
DEFAULT_PHOTOS = REPO.parent / "shared" / "photos" / "elementary"
DEFAULT_WEIGHTS = REPO.parent / "shared" / "models" / "efficientnet_lite0_imagenet.keras"
TARGET_PHOTOS_PER_S = 8.0


def run_once(photos: Path, weights: Path | None, style_only: bool) -> tuple[float, str]:
    with tempfile.TemporaryDirectory(prefix="stylefinder-import-") as tmp:
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{tmp}/db.sqlite3",
            "MEDIA_ROOT": f"{tmp}/media",
            "STYLEFINDER_PRIVATE_ROOT": f"{tmp}/private",
            "STYLEFINDER_EXTRACTORS": "style" if style_only else "style,cnn",
            "DJANGO_LOG_LEVEL": "WARNING",
        }
        if weights is not None:
            env["STYLEFINDER_CNN_WEIGHTS"] = str(weights)
        manage = [sys.executable, str(REPO / "manage.py")]
        subprocess.run([*manage, "migrate", "-v0"], env=env, check=True)
        began = time.perf_counter()
        done = subprocess.run(
            [*manage, "import_photos", str(photos), "-v1"],
            env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        seconds = time.perf_counter() - began
    states = re.search(r"Processing: (.*)\.", done.stdout)
    return seconds, states.group(1) if states else done.stdout.strip().splitlines()[-1]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS)
    parser.add_argument("--cnn-weights", type=Path, default=DEFAULT_WEIGHTS)
    parser.add_argument("--style-only", action="store_true", help="without the CNN")
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args(argv)

    count = sum(1 for p in args.photos.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    weights = None if args.style_only or not args.cnn_weights.exists() else args.cnn_weights
    features = "style" if weights is None else f"style + CNN ({weights.name})"
    print(f"import_photos {args.photos} ({count} files), {features}, fresh SQLite and media")
    best = None
    for run in range(1, args.runs + 1):
        seconds, states = run_once(args.photos, weights, weights is None)
        best = seconds if best is None else min(best, seconds)
        print(f"run {run}: {seconds:6.1f} s  {count / seconds:5.1f} photos/s  ({states})")
    assert best is not None
    rate = count / best
    verdict = "OK" if rate >= TARGET_PHOTOS_PER_S else "below target"
    print(f"best: {rate:.1f} photos/s end to end (target >= {TARGET_PHOTOS_PER_S:g}): {verdict}")


if __name__ == "__main__":
    main()
