"""Build a labelled style set: every source photo rendered in every look of one look family.

    python benchmarks/make_style_set.py SOURCE_DIR OUT_DIR [--family looks] [--looks warm cool ...]
        [--per-source N] [--seed S] [--size 1024] [--limit M]

A look family is one implementation of a set of looks (`benchmarks/look_families`): ``looks``
(default) is the project's own `photos/looks.py`, the looks the style features were designed
against; ``lut`` (pillow-lut 3D LUTs), ``albumentations`` (its colour transforms) and ``pilgram``
(Instagram-like filters) are independent implementations, so a retrieval score on their sets
measures whether the features recognise styles rather than one implementation's edits. Their
libraries are pinned in requirements-dev.txt and imported only when their family is used.

For each source photo (JPEG/PNG/WebP/TIFF directly in SOURCE_DIR, sorted by name) and each look
of the family (``--looks``, default: all of them), the look is applied with a seeded random
generator that draws its parameters (so a look is a family of edits, never one exact filter) and
written as ``OUT_DIR/<stem>__<look>.jpg`` (JPEG quality 90). With ``--per-source N`` > 1 each look
is rendered N times with different parameters, as ``<stem>__<look>__<i>.jpg``.

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
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from tqdm import tqdm

from benchmarks.look_families import FAMILIES, get_family
from photos.imaging import open_normalized

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff"}
DEFAULT_FAMILY = "looks"
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
    looks: Sequence[str] | None = None,
    per_source: int = 1,
    seed: int = 0,
    size: int = 1024,
    limit: int | None = None,
    family: str = DEFAULT_FAMILY,
) -> Path:
    """Render each source in ``looks`` of ``family`` (default: all its looks); return labels.csv."""
    try:
        chosen = get_family(family)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    looks = list(chosen.looks) if looks is None else list(dict.fromkeys(looks))
    unknown = [look for look in looks if look not in chosen.looks]
    if unknown:
        raise SystemExit(
            f"Family {family!r} has no look {', '.join(unknown)}; it has {', '.join(chosen.looks)}"
        )
    sources = source_photos(source_dir)[:limit]
    if not sources:
        raise SystemExit(f"No images found in {source_dir}")
    stems = [p.stem for p in sources]
    if len(set(stems)) != len(stems):
        raise SystemExit("Two source files share a stem; the labels would be ambiguous.")
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    total = len(sources) * len(looks) * per_source
    with tqdm(total=total, unit="img", desc=f"style set ({family})") as bar:
        for path in sources:
            with path.open("rb") as fh:
                image = open_normalized(fh, max_side=size)
            for look in looks:
                for index in range(per_source):
                    styled = chosen.looks[look](image, look_rng(seed, path.stem, look, index))
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
        "--family",
        default=DEFAULT_FAMILY,
        choices=list(FAMILIES),
        help=f"look family (default {DEFAULT_FAMILY}): "
        + "; ".join(f"{f.name}: {', '.join(f.looks)}" for f in FAMILIES.values()),
    )
    parser.add_argument(
        "--looks",
        nargs="+",
        default=None,
        metavar="LOOK",
        help="looks of the family to render (default: all of the family's looks)",
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
    family = FAMILIES[args.family]
    looks = None if args.looks is None else list(dict.fromkeys(args.looks))  # unique, order kept
    unknown = [look for look in looks or [] if look not in family.looks]
    if unknown:
        parser.error(
            f"family {family.name!r} has no look {', '.join(unknown)} "
            f"(choose from {', '.join(family.looks)})"
        )
    labels = build(
        args.source_dir,
        args.out_dir,
        looks,
        args.per_source,
        args.seed,
        args.size,
        args.limit,
        family=family.name,
    )
    print(f"Wrote {labels}")


if __name__ == "__main__":
    main()
