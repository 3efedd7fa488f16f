"""What a photo's renditions cost to encode, per libwebp effort (`method`), and what they weigh.

    .venv/bin/python benchmarks/renditions.py [--photos ../shared/photos/elementary] [--limit 30]

For each photo (decoded and normalised once, as `photos.renditions.store_renditions` does), every
rendition spec of `photos.renditions.SPECS` is resized and encoded as WebP at the spec's quality
with each `method` 0–6, the way the site does it (`render_all`: the specs in parallel threads).
Printed per method: milliseconds per photo (all specs), kilobytes per photo, and the PSNR of
the decoded renditions against the resized image before encoding (higher is closer). The site
uses `photos.renditions.WEBP_METHOD`; the row marked `*`.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
DEFAULT_PHOTOS = REPO.parent / "shared" / "photos" / "elementary"


def psnr(reference: Image.Image, encoded: bytes) -> float:
    a = np.asarray(reference.convert("RGB"), dtype=np.float64)
    b = np.asarray(Image.open(io.BytesIO(encoded)).convert("RGB"), dtype=np.float64)
    mse = float(np.mean((a - b) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS)
    parser.add_argument("--limit", type=int, default=30, help="photos to use (0: all)")
    args = parser.parse_args(argv)

    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()  # the rendition code lives beside the models

    from photos import renditions
    from photos.imaging import open_normalized

    files = sorted(p for p in args.photos.iterdir() if p.suffix.lower() in {".jpg", ".jpeg"})
    files = files[: args.limit] if args.limit else files
    if not files:
        raise SystemExit(f"No JPEG files in {args.photos}")
    largest = max(spec.max_side for spec in renditions.SPECS)
    bases = []
    for path in files:
        with path.open("rb") as file:
            bases.append(open_normalized(file, max_side=largest))
    sides = sorted({max(b.size) for b in bases})
    print(
        f"{len(bases)} photos of {args.photos} (longest side {sides[0]}–{sides[-1]} px), specs "
        + ", ".join(f"{s.name} {s.max_side} px q{s.quality}" for s in renditions.SPECS)
    )
    print(f"{'method':>7} {'ms/photo':>9} {'KB/photo':>9} {'PSNR dB':>8}")
    original = renditions.WEBP_METHOD
    try:
        for method in range(7):
            renditions.WEBP_METHOD = method
            began = time.perf_counter()
            results = [renditions.render_all(base) for base in bases]
            seconds = time.perf_counter() - began
            size = sum(len(data) for result in results for _, _, data in result)
            quality = np.mean(
                [psnr(image, data) for result in results for _, image, data in result]
            )
            mark = "*" if method == original else " "
            print(
                f"{method:>6}{mark} {seconds / len(bases) * 1000:9.1f} "
                f"{size / len(bases) / 1000:9.1f} {quality:8.2f}"
            )
    finally:
        renditions.WEBP_METHOD = original


if __name__ == "__main__":
    main()
