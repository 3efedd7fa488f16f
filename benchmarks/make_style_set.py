"""Build a labelled style set: every source photo rendered in every look.

    python benchmarks/make_style_set.py SOURCE_DIR OUT_DIR [--looks warm cool ...]
        [--per-source N] [--seed S] [--size 1024] [--limit M]

For each source photo (JPEG/PNG/WebP/TIFF directly in SOURCE_DIR, sorted by name) and each look
(default: the 8 non-original looks of `photos.looks.LOOKS`), the look is applied with a jittered,
seeded random generator (so a look is a family of edits, never one exact filter) and written as
``OUT_DIR/<stem>__<look>.jpg`` (JPEG quality 90). With ``--per-source N`` > 1 each look is
rendered N times with different jitter, as ``<stem>__<look>__<i>.jpg``.

``OUT_DIR/labels.csv`` lists ``filename,group,source`` (group = look, source = source stem), the
input of `benchmarks/retrieval.py`. The generator of each file is seeded from (seed, source stem,
look, i) only, so the set is reproducible and a file does not change when other sources or looks
are added. Sources are decoded the way the site decodes uploads (`open_normalized`: EXIF
orientation, sRGB) and downscaled to ``--size`` px on the longest side first.
"""

from __future__ import annotations

import argparse
import csv
import sys
import zlib
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from tqdm import tqdm

from photos.imaging import open_normalized
from photos.looks import LOOKS, apply_look

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff"}
DEFAULT_LOOKS = [name for name in LOOKS if name != "original"]
JPEG_QUALITY = 90


def source_photos(source_dir: Path) -> list[Path]:
    return sorted(
        p for p in source_dir.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )


def look_rng(seed: int, stem: str, look: str, index: int) -> np.random.Generator:
    """A generator that depends only on (seed, source, look, variant): stable across runs."""
    entropy = [seed, zlib.crc32(stem.encode()), zlib.crc32(look.encode()), index]
    return np.random.default_rng(np.random.SeedSequence(entropy))


def output_name(stem: str, look: str, index: int, per_source: int) -> str:
    return f"{stem}__{look}.jpg" if per_source == 1 else f"{stem}__{look}__{index}.jpg"


def build(
    source_dir: Path,
    out_dir: Path,
    looks: list[str],
    per_source: int = 1,
    seed: int = 0,
    size: int = 1024,
    limit: int | None = None,
) -> Path:
    sources = source_photos(source_dir)[:limit]
    if not sources:
        raise SystemExit(f"No images found in {source_dir}")
    stems = [p.stem for p in sources]
    if len(set(stems)) != len(stems):
        raise SystemExit("Two source files share a stem; the labels would be ambiguous.")
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    total = len(sources) * len(looks) * per_source
    with tqdm(total=total, unit="img", desc="style set") as bar:
        for path in sources:
            with path.open("rb") as fh:
                image = open_normalized(fh, max_side=size)
            for look in looks:
                for index in range(per_source):
                    styled = apply_look(image, look, rng=look_rng(seed, path.stem, look, index))
                    name = output_name(path.stem, look, index, per_source)
                    styled.save(out_dir / name, "JPEG", quality=JPEG_QUALITY)
                    rows.append((name, look, path.stem))
                    bar.update()
    labels = out_dir / "labels.csv"
    with labels.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["filename", "group", "source"])
        writer.writerows(rows)
    return labels


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source_dir", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument(
        "--looks",
        nargs="+",
        default=DEFAULT_LOOKS,
        choices=list(LOOKS),
        metavar="LOOK",
        help=f"looks to render (default: {' '.join(DEFAULT_LOOKS)})",
    )
    parser.add_argument(
        "--per-source",
        type=int,
        default=1,
        metavar="N",
        help="jittered renderings of each look per source photo (default 1)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--size", type=int, default=1024, help="longest side of the output (default 1024)"
    )
    parser.add_argument("--limit", type=int, default=None, help="use only the first M sources")
    args = parser.parse_args(argv)
    if args.per_source < 1:
        parser.error("--per-source must be at least 1")
    looks = list(dict.fromkeys(args.looks))  # unique, order kept
    labels = build(
        args.source_dir, args.out_dir, looks, args.per_source, args.seed, args.size, args.limit
    )
    print(f"Wrote {labels}")


if __name__ == "__main__":
    main()
