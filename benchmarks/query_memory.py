"""Peak memory of one web process under many concurrent "find photos like this" uploads.

    python benchmarks/query_memory.py [--uploads 16] [--megapixels 36] [--concurrency 2 16]

Every upload is a large image decoded by the site's own query path
(`photos.uploads.open_query_image`: validation, decode, scale to the query size) in a thread of
one process, all released at once, as a threaded gunicorn worker receives them. Each
(format, query concurrency) pair runs in a fresh child process, whose peak resident memory
(`VmHWM` of /proc/self/status) is printed beside its resident memory before the uploads
(`VmRSS`): the difference is what the uploads cost; and its resident memory once the burst is
over (`after`): what the worker keeps. `--keep-memory` skips handing the freed memory back
(`photos.uploads.release_free_memory`), as before it existed. JPEG
decodes straight at the reduced size (draft mode); PNG cannot, so it is the worst case.
`--concurrency` are values of ``STYLEFINDER_QUERY_CONCURRENCY`` (2 is the default; 16 lets every
upload decode at once, as before the limit).
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from PIL import Image

#: what the README promises for 16 concurrent 36 MP uploads with the default settings
TARGET_PEAK_GROWTH_MB = 500.0
#: what a worker may keep once a burst is over
TARGET_KEPT_MB = 50.0


def make_image(path: Path, megapixels: float, fmt: str) -> None:
    """A smooth colour field of `megapixels` (compresses well, so the file passes the size
    limit while the decode still costs every pixel)."""
    width = int((megapixels * 1e6 * 3 / 2) ** 0.5)
    height = int(megapixels * 1e6 / width)
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    pixels = np.stack(
        [np.broadcast_to(x, (height, width)), np.broadcast_to(y, (height, width)),
         np.broadcast_to((x + y) / 2, (height, width))], axis=-1
    ).astype(np.uint8)  # fmt: skip
    Image.fromarray(pixels).save(path, fmt, **({"quality": 90} if fmt == "JPEG" else {}))


def memory_mb(field: str) -> float:
    """A memory figure of this process from /proc/self/status (VmRSS now, VmHWM its peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def child(path: Path, uploads: int, concurrency: int, keep_memory: bool = False) -> dict:
    from django.conf import settings

    settings.configure(
        STYLEFINDER_MAX_UPLOAD_BYTES=50_000_000,
        STYLEFINDER_MAX_PIXELS=100_000_000,
        STYLEFINDER_MAX_QUERY_PIXELS=40_000_000,
        STYLEFINDER_QUERY_CONCURRENCY=concurrency,
        STYLEFINDER_QUERY_WAIT_SECONDS=600,
    )
    from photos import uploads as query_uploads
    from photos.uploads import open_query_image

    if keep_memory:
        query_uploads._trim = None

    data = path.read_bytes()
    Image.MAX_IMAGE_PIXELS = 100_000_000
    baseline = memory_mb("VmRSS")
    start = threading.Barrier(uploads)
    sizes: list[tuple[int, int]] = []

    def upload() -> None:
        stream = io.BytesIO(data)
        start.wait()
        sizes.append(open_query_image(stream).size)

    began = time.perf_counter()
    threads = [threading.Thread(target=upload) for _ in range(uploads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    peak = memory_mb("VmHWM")
    after = memory_mb("VmRSS")
    assert len(sizes) == uploads and all(max(s) == 512 for s in sizes), sizes
    return {"baseline_mb": baseline, "peak_mb": peak, "after_mb": after, "seconds": seconds}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads", type=int, default=16)
    parser.add_argument("--megapixels", type=float, default=36.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[2, 16])
    parser.add_argument(
        "--keep-memory", action="store_true", help="do not hand freed memory back after a burst"
    )
    parser.add_argument("--child", nargs=3, metavar=("FILE", "UPLOADS", "CONCURRENCY"))
    args = parser.parse_args(argv)
    if args.child:
        path, uploads, concurrency = args.child
        result = child(Path(path), int(uploads), int(concurrency), args.keep_memory)
        print(json.dumps(result))
        return

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for fmt, suffix in (("JPEG", "jpg"), ("PNG", "png")):
            path = Path(tmp) / f"query.{suffix}"
            make_image(path, args.megapixels, fmt)
            size_mb = path.stat().st_size / 1e6
            for concurrency in args.concurrency:
                out = subprocess.run(
                    [sys.executable, __file__, "--child", str(path), str(args.uploads),
                     str(concurrency)] + (["--keep-memory"] if args.keep_memory else []),
                    capture_output=True, text=True, check=True,
                )  # fmt: skip
                result = json.loads(out.stdout.strip().splitlines()[-1])
                growth = result["peak_mb"] - result["baseline_mb"]
                rows.append((fmt, size_mb, concurrency, result, growth))
    print(
        f"{args.uploads} concurrent uploads of a {args.megapixels:g} MP image, one process "
        f"(target with the default concurrency 2: growth ≤ {TARGET_PEAK_GROWTH_MB:.0f} MB)"
    )
    print(
        f"after: resident memory once the burst is over (target: within "
        f"{TARGET_KEPT_MB:.0f} MB of the baseline)"
        + (" — --keep-memory: freed memory not handed back" if args.keep_memory else "")
    )
    header = ("format", "file", "slots", "baseline", "peak", "growth", "after", "kept", "time")
    print("{:6} {:>8} {:>5} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7}".format(*header))
    for fmt, size_mb, concurrency, result, growth in rows:
        kept = result["after_mb"] - result["baseline_mb"]
        print(
            f"{fmt:6} {size_mb:6.1f}MB {concurrency:5d} {result['baseline_mb']:7.0f}MB "
            f"{result['peak_mb']:7.0f}MB {growth:7.0f}MB {result['after_mb']:7.0f}MB "
            f"{kept:7.0f}MB {result['seconds']:6.1f}s"
        )


if __name__ == "__main__":
    main()
