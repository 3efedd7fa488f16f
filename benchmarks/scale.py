"""A gallery of 10k, 100k and a million photos (issue #15): rebuild, incremental add, queries,
recall and the memory of a web worker.

    .venv/bin/python benchmarks/scale.py [--sizes 10000,100000,1000000] [--exact-up-to 100000]
        [--db-up-to 100000] [--queries 1000] [--adds 20]
        [--workers 4] [--photos ../shared/photos/elementary] [--cnn-weights PATH]

For each size, n photos whose style and CNN vectors are the real photos' vectors (extracted here
from --photos) resampled with noise get the site's space (`fit_space`, default settings, with
the copy detector). Figures, each with issue #15's target where it has one:

- **rebuild (memory)**: what a re-cluster computes, without the database: the space, the
  neighbours (`StyleSpace.all_neighbours(20)`: exact below `query_index.APPROXIMATE_FROM`,
  from the inverted-file index above), the clusters (automatic k) and the index file (the
  inverted file too from `query_index.QUERY_INDEX_FROM`). Target at 1M: < 10 min.
  **exact s**: the exact neighbour build, up to --exact-up-to photos.
- **rebuild (db)**, up to --db-up-to photos: `recommender.services.recluster()` on a fresh SQLite
  database holding the photos (the embedded default), neighbour rows and albums written.
- **recall@10**: the share of each sampled photo's exact ten neighbours (the site's ranking,
  copies last) that the approximate build lists among its ten, over --queries photos. Target
  ≥ 0.95.
- **add**: a new photo joining the active run, --adds of them one after another, p50 and worst.
  Up to --db-up-to photos `incremental.add_photos` on that database (embedding, its list, the
  lists it enters, its album, all rows written); above, the same computation without the
  database (`own_lists`, `candidate_rows`). Target < 1 s.
- **query p50/p95**: `StyleSpace.search` for one photo (10 neighbours, copies last) in a
  separate process that opened the index file as a web worker does (memory-mapped), over
  --queries photos. Target p95 < 20 ms.
- **worker RSS / own**: that process's growth in resident memory (the mapped file's pages it
  touched count, though every worker shares them) and in its own (anonymous) memory, from
  before the index was opened to after the queries; target RSS growth < 300 MB at 1M.
  **worker (read)**: the same process reading the file into memory instead, as web workers did
  before issue #15.
- **workers at once**: --workers such processes (different queries each) on the same index at
  the same time, as gunicorn's workers are: the memory they take together, the mapped index's
  pages counted once (the sum of their proportional shares, PSS) plus each worker's own
  memory; and the same with every worker reading the file, as before issue #15.
- **rows**: neighbour rows a full re-cluster writes (20 a photo).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from benchmarks.recluster_cost import DEFAULT_WEIGHTS, real_vectors
from benchmarks.speed import DEFAULT_PHOTOS, synthetic

REPO = Path(__file__).resolve().parent.parent
NEIGHBOURS = 20
RECALL_AT = 10
QUERY_K = 10
TARGET_RECALL = 0.95
TARGET_REBUILD_1M_S = 600.0
TARGET_ADD_S = 1.0
TARGET_QUERY_P95_MS = 20.0
TARGET_RSS_GROWTH_1M_MB = 300.0


def fitted_space(features: dict[str, np.ndarray], parts: dict, seed: int):
    """The site's space over these vectors; (space, seconds to fit)."""
    from recommender.blocks import SpaceSettings, fit_space

    n = len(features["style"])
    began = time.perf_counter()
    space = fit_space(np.arange(n), features, SpaceSettings(), parts, seed=seed)
    return space, time.perf_counter() - began


def exact_lists(space, rows: np.ndarray, k: int) -> np.ndarray:
    """The site's exact top-k of each of `rows` (copies last), as row indices."""
    queries = space.rows_at(rows)
    copies = None if space.copies is None else space.copies.rows_at(rows)
    exclude = [{int(space.photo_ids[r])} for r in rows]
    hits = []
    for start in range(0, len(rows), 100):  # (100, n) scores at a time
        stop = start + 100
        hits += space.search(
            queries[start:stop],
            k,
            exclude=exclude[start:stop],
            query_copies=None if copies is None else copies[start:stop],
        )
    return np.array([[space.row(pid) for pid, _ in row] for row in hits])


def recall(space, found: np.ndarray, queries: int, seed: int) -> float:
    sample = np.random.default_rng(seed + 1).choice(len(space), min(queries, len(space)), False)
    truth = exact_lists(space, sample, RECALL_AT)
    hits = [len(set(t) & set(f[:RECALL_AT])) for t, f in zip(truth, found[sample], strict=True)]
    return float(np.mean(hits)) / RECALL_AT


def rebuild_in_memory(features, parts, seed: int, index_path: Path) -> tuple[object, dict]:
    """The space, neighbours, clusters and index file of a re-cluster, timed."""
    from recommender import query_index
    from recommender.clustering import cluster

    space, fit_s = fitted_space(features, parts, seed)
    began = time.perf_counter()
    approximate = len(space) >= query_index.APPROXIMATE_FROM
    index = query_index.build(space.matrix) if approximate else None
    found, _ = space.all_neighbours(NEIGHBOURS, index=index)
    neighbours_s = time.perf_counter() - began
    began = time.perf_counter()
    clusters = cluster(space.matrix, seed=seed)
    cluster_s = time.perf_counter() - began
    began = time.perf_counter()
    index_path.write_bytes(space.to_bytes())
    if len(space) >= query_index.QUERY_INDEX_FROM:
        query_index.write(index, _query_index_path(index_path))
    file_s = time.perf_counter() - began
    return space, {
        "fit_s": fit_s,
        "neighbours_s": neighbours_s,
        "cluster_s": cluster_s,
        "k": clusters.k,
        "file_s": file_s,
        "rebuild_s": fit_s + neighbours_s + cluster_s + file_s,
        "approximate": approximate,
        "found": found,
    }


def _query_index_path(index_path: Path) -> Path:
    return index_path.with_suffix(".faiss")


def adds_in_memory(space, new: dict[str, np.ndarray], parts) -> list[float]:
    """Seconds per photo joining `space` one after another: embedding, its own list and the
    candidates whose lists it may enter (what `incremental.add_photos` computes besides its
    queries and writes)."""
    from recommender.blocks import embed, embed_copies
    from recommender.incremental import candidate_rows, own_lists

    seconds = []
    n = len(space)
    for i in range(len(new["style"])):
        one = {name: rows[i : i + 1] for name, rows in new.items()}
        began = time.perf_counter()
        first = len(space)
        space = space.extended(
            np.array([n + i]), embed(space, one, parts), embed_copies(space, one, parts)
        )
        own_lists(space, first, NEIGHBOURS)
        candidate_rows(space, first, NEIGHBOURS)
        seconds.append(time.perf_counter() - began)
    return seconds


def database_figures(features, new, seed: int) -> dict:
    """A fresh database holding the photos: the full re-cluster, then photos joining one by one
    through `incremental.add_photos`."""
    from django.core.management import call_command

    from benchmarks.synthetic_gallery import populate
    from recommender.incremental import add_photos
    from recommender.selectors import space_cache
    from recommender.services import recluster

    call_command("flush", interactive=False, verbosity=0)
    space_cache.clear()
    n = len(features["style"])
    populate(features)
    run = recluster().run
    seconds = []
    for i in range(len(new["style"])):
        [photo_id] = populate({name: rows[i : i + 1] for name, rows in new.items()}, first=n + i)
        began = time.perf_counter()
        result = add_photos([photo_id])
        seconds.append(time.perf_counter() - began)
        assert result.added == [photo_id], result.message
    return {"db_rebuild_s": run.duration_seconds, "db_adds": seconds}


# --- the web worker, in a process of its own ----------------------------------------------------


def _memory_mb() -> tuple[float, float]:
    """(resident, anonymous) megabytes of this process. Resident counts the pages of a mapped
    file this process touched, which every process mapping the file shares; anonymous memory
    is this process's own."""
    fields = {}
    with open("/proc/self/smaps_rollup") as rollup:
        for line in rollup:
            name, _, rest = line.partition(":")
            if rest.strip().endswith("kB"):
                fields[name] = int(rest.split()[0])
    return fields["Rss"] / 1024, fields["Anonymous"] / 1024


def web_worker(path: Path, how: str, queries: int, seed: int, hold: bool = False) -> dict:
    """Open the index at `path` as a web worker does ("mapped") or by reading it ("read"), then
    answer `queries` searches; memory growth and latencies. With `hold`, the figures are printed
    and the index kept open until standard input closes (`workers_together` looks meanwhile)."""
    from recommender import query_index
    from recommender.space import StyleSpace

    # BLAS allocates its threads' buffers on the first product: not the index's memory.
    np.ones((64, 64), np.float32) @ np.ones((64, 4096), np.float32)
    rss0, own0 = _memory_mb()
    began = time.perf_counter()
    pooled = _query_index_path(path).exists()
    space = (  # as `index_file.open_index` opens it
        StyleSpace.open(path, random_access=pooled)
        if how == "mapped"
        else StyleSpace.from_bytes(path.read_bytes())
    )
    if pooled:
        space.query_index = query_index.read(_query_index_path(path))
    open_s = time.perf_counter() - began
    rss1, _ = _memory_mb()
    rows = np.random.default_rng(seed + 2).choice(len(space), queries, replace=False)
    latencies, answers = [], []
    for row in rows:
        query = space.rows_at(np.array([row]))
        copies = None if space.copies is None else space.copies.rows_at(np.array([row]))
        began = time.perf_counter()
        answers += space.search(
            query, QUERY_K, exclude=[{int(space.photo_ids[row])}], query_copies=copies
        )
        latencies.append(time.perf_counter() - began)
    rss2, own2 = _memory_mb()
    found = 1.0
    if space.query_index is not None:  # the queries' recall against every photo compared
        exact = StyleSpace(space.photo_ids, space.matrix, space.blocks, space.copies)
        shared = []
        for row, answer in zip(rows[:200], answers, strict=False):
            copies = None if space.copies is None else space.copies.rows_at(np.array([row]))
            truth = exact.search(
                space.rows_at(np.array([row])),
                QUERY_K,
                exclude=[{int(space.photo_ids[row])}],
                query_copies=copies,
            )[0]
            shared.append(len({p for p, _ in truth} & {p for p, _ in answer}) / QUERY_K)
        found = float(np.mean(shared))
    ms = np.asarray(latencies) * 1000
    figures = {
        "open_s": open_s,
        "rss_opened_mb": rss1 - rss0,
        "rss_mb": rss2 - rss0,
        "own_mb": own2 - own0,
        "p50_ms": float(np.percentile(ms, 50)),
        "p95_ms": float(np.percentile(ms, 95)),
        "recall": found,
        "pooled": space.query_index is not None,
    }
    if hold:
        print(json.dumps(figures), flush=True)
        sys.stdin.read()
    return figures


def _mapped_pss_mb(pid: int, files: set[str]) -> float:
    """Megabytes of `files` that process `pid` has mapped and in memory, its proportional share
    (PSS): a page that n processes map counts 1/n in each, so the sum over the processes is
    what those pages take once."""
    total_kb, current = 0, None
    with open(f"/proc/{pid}/smaps") as smaps:
        for line in smaps:
            fields = line.split()
            if not fields[0].endswith(":"):  # a mapping's header: range, perms, …, path
                current = fields[5] if len(fields) >= 6 else None
            elif fields[0] == "Pss:" and current in files:
                total_kb += int(fields[1])
    return total_kb / 1024


def workers_together(path: Path, how: str, workers: int, queries: int, seed: int) -> dict:
    """`workers` web workers answering queries (different ones each) on the same index at once,
    as gunicorn's workers do: the memory they take together, the index's mapped pages counted
    once (their PSS summed) and each worker's own memory."""
    files = {str(path), str(_query_index_path(path))}
    command = [sys.executable, __file__, "--web-worker", str(path), how, str(queries)]
    children = [
        subprocess.Popen(
            [*command, str(seed + i), "--hold"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )  # fmt: skip
        for i in range(workers)
    ]
    try:
        results = []
        for child in children:  # each prints its figures, then waits to be let go
            line = child.stdout.readline()
            while line and not line.startswith("{"):
                line = child.stdout.readline()
            results.append(json.loads(line))
        index_mb = sum(_mapped_pss_mb(child.pid, files) for child in children)
    finally:
        for child in children:
            child.stdin.close()
            child.wait(timeout=120)
    own_mb = sum(result["own_mb"] for result in results)
    return {
        "workers": workers,
        "index_mb": index_mb,
        "own_mb": own_mb,
        "total_mb": index_mb + own_mb,
    }


def in_child(path: Path, how: str, queries: int, seed: int) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--web-worker", str(path), how, str(queries), str(seed)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- the table ----------------------------------------------------------------------------------


def measure(n: int, real, parts, args, index_dir: Path) -> dict:
    rng = np.random.default_rng(args.seed + n)
    features = {name: synthetic(rows, rows.shape[1], n, rng) for name, rows in real.items()}
    new = {name: synthetic(rows, rows.shape[1], args.adds, rng) for name, rows in real.items()}
    path = index_dir / f"index-{n}.npz"
    space, row = rebuild_in_memory(features, parts, args.seed, path)
    found = row.pop("found")
    row.update(n=n, dim=space.dim, file_mb=path.stat().st_size / 1e6, exact_s=None)
    if n <= args.exact_up_to:
        began = time.perf_counter()
        space.all_neighbours(NEIGHBOURS, approximate=False)
        row["exact_s"] = time.perf_counter() - began
    if not row["approximate"]:
        found, _ = space.all_neighbours(NEIGHBOURS, approximate=True)
    row["recall"] = recall(space, found, args.queries, args.seed)
    del found
    row["adds"] = adds_in_memory(space, new, parts)
    row["adds_with_db"] = False
    if n <= args.db_up_to:
        db = database_figures(features, new, args.seed)
        row["db_rebuild_s"], row["adds"], row["adds_with_db"] = (
            db["db_rebuild_s"],
            db["db_adds"],
            True,
        )
    del space, features
    row["mapped"] = in_child(path, "mapped", min(args.queries, n), args.seed)
    row["read"] = in_child(path, "read", min(args.queries, n), args.seed)
    row["together"] = {
        how: workers_together(path, how, args.workers, min(args.queries, n), args.seed)
        for how in ("mapped", "read")
    }
    path.unlink()
    _query_index_path(path).unlink(missing_ok=True)
    return row


def verdict(ok: bool) -> str:
    return "OK" if ok else "MISSED"


def report(row: dict) -> None:
    n, mapped, read = row["n"], row["mapped"], row["read"]
    shared, apart = row["together"]["mapped"], row["together"]["read"]
    adds = np.asarray(row["adds"]) * 1000
    where = "with the database" if row["adds_with_db"] else "in memory, no database"
    exact = "-" if row["exact_s"] is None else f"{row['exact_s']:.1f} s"
    db = f"{row['db_rebuild_s']:.1f} s" if row.get("db_rebuild_s") else "-"
    build = "approximate" if row["approximate"] else "exact"
    lines = [
        f"{n:,} photos ({row['dim']} dims, index file {row['file_mb']:.0f} MB, "
        f"{row['file_mb'] * 1e6 / n:.0f} bytes a photo)",
        f"  rebuild (memory)   {row['rebuild_s']:.1f} s: fit {row['fit_s']:.1f}, neighbours "
        f"{row['neighbours_s']:.1f} ({build}), clusters {row['cluster_s']:.1f} (k={row['k']}), "
        f"file {row['file_s']:.1f}"
        + (
            f"   target < {TARGET_REBUILD_1M_S:.0f} s at 1M: "
            f"{verdict(row['rebuild_s'] < TARGET_REBUILD_1M_S)}"
            if n >= 1_000_000
            else ""
        ),
        f"  rebuild (db)       {db}   exact neighbours {exact}   rows {n * NEIGHBOURS:,}",
        f"  recall@10          {row['recall']:.3f} (approximate build)   target >= "
        f"{TARGET_RECALL}: {verdict(row['recall'] >= TARGET_RECALL)}",
        f"  add                p50 {np.percentile(adds, 50):.0f} ms, worst {adds.max():.0f} ms "
        f"({where})   target < {TARGET_ADD_S * 1000:.0f} ms: "
        f"{verdict(adds.max() < TARGET_ADD_S * 1000)}",
        f"  query              p50 {mapped['p50_ms']:.1f} ms, p95 {mapped['p95_ms']:.1f} ms, "
        + (
            f"recall@10 {mapped['recall']:.3f} (inverted file)   "
            if mapped["pooled"]
            else "exact   "
        )
        + f"target p95 < {TARGET_QUERY_P95_MS:.0f} ms: "
        f"{verdict(mapped['p95_ms'] < TARGET_QUERY_P95_MS)}",
        f"  worker (mapped)    RSS +{mapped['rss_mb']:.0f} MB (+{mapped['rss_opened_mb']:.0f} "
        f"on opening), own +{mapped['own_mb']:.0f} MB, opened in "
        f"{mapped['open_s'] * 1000:.0f} ms"
        + (
            f"   target RSS < {TARGET_RSS_GROWTH_1M_MB:.0f} MB at 1M: "
            f"{verdict(mapped['rss_mb'] < TARGET_RSS_GROWTH_1M_MB)}"
            if n >= 1_000_000
            else ""
        ),
        f"  worker (read)      RSS +{read['rss_mb']:.0f} MB, own +{read['own_mb']:.0f} "
        f"MB, opened in {read['open_s'] * 1000:.0f} ms (before issue #15)",
        f"  {shared['workers']} workers at once  mapped {shared['total_mb']:.0f} MB together "
        f"(index pages {shared['index_mb']:.0f} MB once, own {shared['own_mb']:.0f} MB); read "
        f"{apart['total_mb']:.0f} MB together (before issue #15)",
    ]
    print("\n".join(lines), flush=True)


def setup_django(weights: Path | None, database_dir: Path | None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DJANGO_LOG_LEVEL", "WARNING")
    if weights is not None:
        os.environ["STYLEFINDER_CNN_WEIGHTS"] = str(weights)
    if database_dir is not None:  # a fresh embedded default, for the database figures
        os.environ["DATABASE_URL"] = f"sqlite:///{database_dir}/scale.sqlite3"
        os.environ["MEDIA_ROOT"] = str(database_dir / "media")
        os.environ["STYLEFINDER_PRIVATE_ROOT"] = str(database_dir / "private")
        os.environ.pop("CELERY_BROKER_URL", None)
    import django

    django.setup()
    if database_dir is not None:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--web-worker"]:
        path, how, queries, seed = argv[1:5]
        hold = argv[5:6] == ["--hold"]
        figures = web_worker(Path(path), how, int(queries), int(seed), hold)
        if not hold:
            print(json.dumps(figures), flush=True)
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--exact-up-to", type=int, default=100_000)
    parser.add_argument("--db-up-to", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=1000, help="for recall and latency")
    parser.add_argument("--adds", type=int, default=20, help="photos joining, one by one")
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS)
    parser.add_argument("--cnn-weights", type=Path, default=DEFAULT_WEIGHTS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=4, help="web workers sharing one index")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",")]

    weights = args.cnn_weights if args.cnn_weights.exists() else None
    with tempfile.TemporaryDirectory(prefix="stylefinder-scale-") as tmp:
        database = Path(tmp) if min(sizes) <= args.db_up_to else None
        setup_django(weights, database)
        real = real_vectors(args.photos, weights)
        parts = {}
        if weights is not None:
            from recommender.blocks import cnn_layout
            from recommender.features import get_extractor
            from recommender.features.cnn import CnnConfig

            parts = cnn_layout(get_extractor("cnn", CnnConfig(weights=str(weights))))
        print(
            f"{len(real['style'])} real photos' {' + '.join(real)} vectors resampled with noise; "
            f"{os.cpu_count()} CPUs",
            flush=True,
        )
        for n in sizes:
            report(measure(n, real, parts, args, Path(tmp)))


if __name__ == "__main__":
    main()
