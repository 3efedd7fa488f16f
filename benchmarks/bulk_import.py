"""Bulk import end to end: files in, every photo `ready`, one re-cluster done.

    .venv/bin/python benchmarks/bulk_import.py [--mode embedded|worker|both]
        [--photos ../shared/photos/elementary] [--runs 2] [--concurrency 2]
        [--cnn-weights ../shared/models/efficientnet_lite0_imagenet.keras] [--style-only]

**embedded** (the default configuration, what a photographer's first import does): each run is
`python manage.py import_photos DIR` in a fresh process with a fresh SQLite database and media
folder. The command ingests, processes every photo in-process and ends with the re-cluster, so
its wall time is the whole job: Django's start, the CNN's load, storing the originals, the
renditions, style and CNN features of every photo, and the re-cluster.

**worker** (production's shape): PostgreSQL, Redis as broker and cache, and a real `celery
worker` (prefork, `--concurrency` processes, started and ready before the clock starts, as a
deployed worker is). `import_photos` ingests and queues; the clock stops when every photo is
`ready` and an active run covers them all, so it includes the workers' processing and the
debounced re-cluster (default STYLEFINDER_RECLUSTER_DELAY); it then says how many re-clusters
the import caused (one, unless the debounce split it). Needs PostgreSQL and Redis on
127.0.0.1 (`bash scripts/ensure-services.sh`); uses the database `stylefinder_bench_import` and
Redis database 13, both emptied first.

Printed per run: wall time, photos/s end to end, and the photos' states; then the best run of
each mode against issue #14's target (8 photos/s).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_PHOTOS = REPO.parent / "shared" / "photos" / "elementary"
DEFAULT_WEIGHTS = REPO.parent / "shared" / "models" / "efficientnet_lite0_imagenet.keras"
TARGET_PHOTOS_PER_S = 8.0
POSTGRES = "postgres://postgres@127.0.0.1:5432"
BENCH_DATABASE = "stylefinder_bench_import"
BENCH_REDIS = "redis://127.0.0.1:6379/13"
TIMEOUT_S = 600
SETTLE_CHECK_S = 3.0

# Worker mode: photos ready, photos in all, photos in the active run (the tables of
# photos.Photo and recommender.ClusterRun).
PROGRESS = """
SELECT (SELECT count(*) FROM photos_photo WHERE status = 'ready'),
       (SELECT count(*) FROM photos_photo),
       (SELECT coalesce(max(n_photos), 0) FROM recommender_clusterrun WHERE is_active)
"""
RUNS = "SELECT count(*) FROM recommender_clusterrun"


def base_env(tmp: str, weights: Path | None) -> dict[str, str]:
    env = {
        **os.environ,
        "MEDIA_ROOT": f"{tmp}/media",
        "STYLEFINDER_PRIVATE_ROOT": f"{tmp}/private",
        "STYLEFINDER_EXTRACTORS": "style" if weights is None else "style,cnn",
        "DJANGO_LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    if weights is not None:
        env["STYLEFINDER_CNN_WEIGHTS"] = str(weights)
    return env


def manage(*args: str) -> list[str]:
    return [sys.executable, str(REPO / "manage.py"), *args]


def import_states(stdout: str) -> str:
    states = re.search(r"Processing: (.*)\.", stdout)
    return states.group(1) if states else stdout.strip().splitlines()[-1]


def run_embedded(photos: Path, weights: Path | None) -> tuple[float, str]:
    with tempfile.TemporaryDirectory(prefix="stylefinder-import-") as tmp:
        env = {**base_env(tmp, weights), "DATABASE_URL": f"sqlite:///{tmp}/db.sqlite3"}
        for queue_setting in ("CELERY_BROKER_URL", "REDIS_URL"):
            env.pop(queue_setting, None)
        subprocess.run(manage("migrate", "-v0"), env=env, check=True)
        began = time.perf_counter()
        done = subprocess.run(
            manage("import_photos", str(photos), "-v1"),
            env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        seconds = time.perf_counter() - began
    return seconds, import_states(done.stdout)


def fresh_services() -> None:
    """An empty benchmark database and Redis database (both belong to this script)."""
    import psycopg
    import redis

    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {BENCH_DATABASE}")
    redis.Redis.from_url(BENCH_REDIS, socket_connect_timeout=2).flushdb()


def start_worker(env: dict[str, str], log: Path, concurrency: int) -> subprocess.Popen:
    handle = log.open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel=INFO",
         f"--concurrency={concurrency}", "--pool=prefork", "--without-gossip",
         "--without-mingle", "--without-heartbeat", "-n", f"bench-{os.getpid()}@%h"],
        cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while b"ready." not in log.read_bytes():
        if worker.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:]
            raise SystemExit(f"the worker did not start:\n{tail}")
        time.sleep(0.2)
    return worker


def run_worker(photos: Path, weights: Path | None, concurrency: int) -> tuple[float, float, str]:
    """(seconds until every photo is ready, seconds until a run covers them all, states)."""
    import psycopg

    with tempfile.TemporaryDirectory(prefix="stylefinder-import-") as tmp:
        fresh_services()
        env = {
            **base_env(tmp, weights),
            "DATABASE_URL": f"{POSTGRES}/{BENCH_DATABASE}",
            "CELERY_BROKER_URL": BENCH_REDIS,
            "REDIS_URL": BENCH_REDIS,
        }
        subprocess.run(manage("migrate", "-v0"), env=env, check=True)
        worker = start_worker(env, Path(tmp, "worker.log"), concurrency)
        try:
            began = time.perf_counter()
            done = subprocess.run(
                manage("import_photos", str(photos), "-v1"),
                env=env, capture_output=True, text=True, check=True,
            )  # fmt: skip
            all_ready = None
            with psycopg.connect(f"{POSTGRES}/{BENCH_DATABASE}", autocommit=True) as database:
                while time.perf_counter() - began < TIMEOUT_S:
                    ready, total, in_run = database.execute(PROGRESS).fetchone()
                    now = time.perf_counter() - began
                    if ready == total and all_ready is None:
                        all_ready = now
                    if ready == total == in_run:
                        # A run started by photos of the same import after this one would mean
                        # the debounce split the import: count the runs a moment later.
                        time.sleep(SETTLE_CHECK_S)
                        (runs,) = database.execute(RUNS).fetchone()
                        plural = "s" if runs != 1 else ""
                        states = f"{ready} ready of {total}, all in the active run"
                        return all_ready, now, f"{states}; {runs} re-cluster{plural}"
                    time.sleep(0.05)
            raise SystemExit(f"not done after {TIMEOUT_S} s: {import_states(done.stdout)}")
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=30)


def verdict(rate: float) -> str:
    return "OK" if rate >= TARGET_PHOTOS_PER_S else "below target"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=["embedded", "worker", "both"], default="both")
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS)
    parser.add_argument("--cnn-weights", type=Path, default=DEFAULT_WEIGHTS)
    parser.add_argument("--style-only", action="store_true", help="without the CNN")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes")
    args = parser.parse_args(argv)

    count = sum(1 for p in args.photos.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    weights = None if args.style_only or not args.cnn_weights.exists() else args.cnn_weights
    features = "style" if weights is None else f"style + CNN ({weights.name})"
    print(f"import_photos {args.photos} ({count} files), {features}")
    summary = []
    if args.mode in ("embedded", "both"):
        print("embedded default: fresh SQLite and media, tasks in-process")
        best = None
        for run in range(1, args.runs + 1):
            seconds, states = run_embedded(args.photos, weights)
            best = seconds if best is None else min(best, seconds)
            print(f"  run {run}: {seconds:6.1f} s  {count / seconds:5.1f} photos/s  ({states})")
        summary.append(("embedded default", count / best))
    if args.mode in ("worker", "both"):
        print(
            f"celery worker (prefork x {args.concurrency}), PostgreSQL, Redis: clock from the "
            "import's start to every photo ready and in the active run"
        )
        best = None
        for run in range(1, args.runs + 1):
            ready_s, seconds, states = run_worker(args.photos, weights, args.concurrency)
            best = seconds if best is None else min(best, seconds)
            print(
                f"  run {run}: {seconds:6.1f} s  {count / seconds:5.1f} photos/s  (all ready after "
                f"{ready_s:.1f} s; {states})"
            )
        summary.append((f"celery worker x {args.concurrency}", count / best))
    for name, rate in summary:
        print(
            f"best, {name}: {rate:.1f} photos/s end to end "
            f"(target >= {TARGET_PHOTOS_PER_S:g}): {verdict(rate)}"
        )


if __name__ == "__main__":
    main()
